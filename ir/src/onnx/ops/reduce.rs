//! ONNX importers for: Reduce*, ArgMax/ArgMin, TopK, CumSum, CumProd.

use super::Registry;
use crate::error::Error;
use crate::graph::ValueId;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{ArgKind, Op, ReduceKind};
use crate::tensor::Tensor;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("ReduceSum", |n, e| reduce(n, e, ReduceKind::Sum));
    reg.insert("ReduceMean", |n, e| reduce(n, e, ReduceKind::Mean));
    reg.insert("ReduceMax", |n, e| reduce(n, e, ReduceKind::Max));
    reg.insert("ReduceMin", |n, e| reduce(n, e, ReduceKind::Min));
    reg.insert("ReduceProd", |n, e| reduce(n, e, ReduceKind::Prod));
    reg.insert("ReduceL1", |n, e| reduce(n, e, ReduceKind::L1));
    reg.insert("ReduceL2", |n, e| reduce(n, e, ReduceKind::L2));
    reg.insert("ReduceLogSum", |n, e| reduce(n, e, ReduceKind::LogSum));
    reg.insert("ReduceLogSumExp", |n, e| {
        reduce(n, e, ReduceKind::LogSumExp)
    });
    reg.insert("ReduceSumSquare", |n, e| {
        reduce(n, e, ReduceKind::SumSquare)
    });
    reg.insert("ArgMax", |n, e| arg_reduce(n, e, ArgKind::Max));
    reg.insert("ArgMin", |n, e| arg_reduce(n, e, ArgKind::Min));
    reg.insert("TopK", top_k);
    reg.insert("CumSum", |n, e| scan(n, e, false));
    reg.insert("CumProd", |n, e| scan(n, e, true));
}

/// A 1-D i64 constant holding `v`.
fn i64_constant(n: &OnnxNode, e: &mut Emitter, v: Vec<i64>) -> Result<ValueId, Error> {
    let t = Tensor::from_i64(vec![v.len()], v).map_err(|err| n.error(err.0))?;
    Ok(e.constant(t))
}

/// `axes` is an attribute up to opset 12 for ReduceSum and up to 17 for the others, an input
/// after (where `noop_with_empty_axes` also appears).
fn reduce(n: &OnnxNode, e: &mut Emitter, kind: ReduceKind) -> Result<(), Error> {
    let keepdims = n.bool("keepdims", true)?;
    let axes_input_since = match kind {
        ReduceKind::Sum => 13,
        ReduceKind::Mean
        | ReduceKind::Max
        | ReduceKind::Min
        | ReduceKind::Prod
        | ReduceKind::L1
        | ReduceKind::L2
        | ReduceKind::LogSum
        | ReduceKind::LogSumExp
        | ReduceKind::SumSquare => 18,
    };
    if n.opset >= axes_input_since {
        e.pass(Op::Reduce {
            kind,
            keepdims,
            noop_with_empty_axes: n.bool("noop_with_empty_axes", false)?,
        });
        return Ok(());
    }
    let axes = match n.ints("axes")? {
        Some(a) => Some(i64_constant(n, e, a)?),
        None => None,
    };
    let op = Op::Reduce {
        kind,
        keepdims,
        noop_with_empty_axes: false,
    };
    e.finish(op, vec![e.input(0), axes]);
    Ok(())
}

fn arg_reduce(n: &OnnxNode, e: &mut Emitter, kind: ArgKind) -> Result<(), Error> {
    e.pass(Op::ArgReduce {
        kind,
        axis: n.int("axis", 0)?,
        keepdims: n.bool("keepdims", true)?,
        select_last_index: n.bool("select_last_index", false)?,
    });
    Ok(())
}

/// `k` is an attribute before opset 10, an input after; `largest` and `sorted` appear in 11.
fn top_k(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let op = Op::TopK {
        axis: n.int("axis", -1)?,
        largest: n.bool("largest", true)?,
        sorted: n.bool("sorted", true)?,
    };
    if n.opset >= 10 {
        e.pass(op);
        return Ok(());
    }
    let k = n
        .int_opt("k")?
        .ok_or_else(|| n.attr_error("k", "is required before opset 10"))?;
    let k = i64_constant(n, e, vec![k])?;
    e.finish(op, vec![e.input(0), Some(k)]);
    Ok(())
}

fn scan(n: &OnnxNode, e: &mut Emitter, product: bool) -> Result<(), Error> {
    let exclusive = n.bool("exclusive", false)?;
    let reverse = n.bool("reverse", false)?;
    e.pass(if product {
        Op::CumProd { exclusive, reverse }
    } else {
        Op::CumSum { exclusive, reverse }
    });
    Ok(())
}
