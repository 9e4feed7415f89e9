//! ONNX export of the indexing ops: Gather*, Scatter*, OneHot, Compress, ReverseSequence
//! (NonZero has no attributes; Resize is in `resize`).

use super::cx::{Lowered, Spec};
use crate::error::Error;
use crate::op::ScatterReduction;

/// Gather or GatherElements.
pub(super) fn gather(op_type: &'static str, axis: i64) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new(op_type).int_or("axis", axis, 0)))
}

pub(super) fn gather_nd(batch_dims: usize) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("GatherND").int_or(
        "batch_dims",
        batch_dims as i64,
        0,
    )))
}

fn reduction(s: Spec, r: ScatterReduction) -> Spec {
    let v = match r {
        ScatterReduction::None => return s,
        ScatterReduction::Add => "add",
        ScatterReduction::Mul => "mul",
        ScatterReduction::Max => "max",
        ScatterReduction::Min => "min",
    };
    s.string("reduction", v)
}

pub(super) fn scatter_elements(axis: i64, r: ScatterReduction) -> Result<Lowered, Error> {
    let s = Spec::new("ScatterElements").int_or("axis", axis, 0);
    Ok(Lowered::Node(reduction(s, r)))
}

pub(super) fn scatter_nd(r: ScatterReduction) -> Result<Lowered, Error> {
    Ok(Lowered::Node(reduction(Spec::new("ScatterND"), r)))
}

pub(super) fn one_hot(axis: i64) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("OneHot").int_or("axis", axis, -1)))
}

pub(super) fn compress(axis: Option<i64>) -> Result<Lowered, Error> {
    let s = Spec::new("Compress");
    Ok(Lowered::Node(match axis {
        Some(a) => s.int("axis", a),
        None => s,
    }))
}

pub(super) fn reverse_sequence(batch_axis: i64, time_axis: i64) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("ReverseSequence")
            .int_or("batch_axis", batch_axis, 1)
            .int_or("time_axis", time_axis, 0),
    ))
}
