//! ONNX importers for: Gather*, Scatter*, OneHot, NonZero, Compress, ReverseSequence.
//! (Resize/Upsample are imported elsewhere.)

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{Op, ScatterReduction};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Gather", gather);
    reg.insert("GatherElements", gather_elements);
    reg.insert("GatherND", gather_nd);
    reg.insert("ScatterElements", scatter_elements);
    reg.insert("Scatter", scatter_elements);
    reg.insert("ScatterND", scatter_nd);
    reg.insert("OneHot", one_hot);
    reg.insert("NonZero", |_, e| {
        e.pass(Op::NonZero);
        Ok(())
    });
    reg.insert("Compress", compress);
    reg.insert("ReverseSequence", reverse_sequence);
}

fn gather(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Gather {
        axis: n.int("axis", 0)?,
    });
    Ok(())
}

fn gather_elements(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::GatherElements {
        axis: n.int("axis", 0)?,
    });
    Ok(())
}

fn gather_nd(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::GatherNd {
        batch_dims: n.usize("batch_dims", 0)?,
    });
    Ok(())
}

/// The `reduction` attribute of the scatter ops (opset 16+; absent means none).
fn reduction(n: &OnnxNode) -> Result<ScatterReduction, Error> {
    Ok(match n.string("reduction", "none")?.as_str() {
        "none" => ScatterReduction::None,
        "add" => ScatterReduction::Add,
        "mul" => ScatterReduction::Mul,
        "max" => ScatterReduction::Max,
        "min" => ScatterReduction::Min,
        other => return Err(n.bad_value("reduction", other)),
    })
}

/// ScatterElements, and the opset 9-10 `Scatter` it replaced (same semantics, no reduction).
fn scatter_elements(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::ScatterElements {
        axis: n.int("axis", 0)?,
        reduction: reduction(n)?,
    });
    Ok(())
}

fn scatter_nd(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::ScatterNd {
        reduction: reduction(n)?,
    });
    Ok(())
}

fn one_hot(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::OneHot {
        axis: n.int("axis", -1)?,
    });
    Ok(())
}

fn compress(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Compress {
        axis: n.int_opt("axis")?,
    });
    Ok(())
}

fn reverse_sequence(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::ReverseSequence {
        batch_axis: n.int("batch_axis", 1)?,
        time_axis: n.int("time_axis", 0)?,
    });
    Ok(())
}
