//! ONNX export of Reduce*, ArgMax/ArgMin, TopK, CumSum and CumProd. Reduce axes are inputs
//! (opset 18 on), as in the IR.

use super::cx::{Lowered, Spec};
use crate::error::Error;
use crate::op::{ArgKind, ReduceKind};

pub(super) fn reduce(
    kind: ReduceKind,
    keepdims: bool,
    noop_with_empty_axes: bool,
) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new(kind.name())
            .flag("keepdims", keepdims, true)
            .flag("noop_with_empty_axes", noop_with_empty_axes, false),
    ))
}

pub(super) fn arg_reduce(
    kind: ArgKind,
    axis: i64,
    keepdims: bool,
    select_last_index: bool,
) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new(kind.name())
            .int_or("axis", axis, 0)
            .flag("keepdims", keepdims, true)
            .flag("select_last_index", select_last_index, false),
    ))
}

pub(super) fn top_k(axis: i64, largest: bool, sorted: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("TopK")
            .int_or("axis", axis, -1)
            .flag("largest", largest, true)
            .flag("sorted", sorted, true),
    ))
}

/// CumSum, or CumProd (opset 26).
pub(super) fn scan(
    op_type: &'static str,
    exclusive: bool,
    reverse: bool,
) -> Result<Lowered, Error> {
    let s = Spec::new(op_type)
        .flag("exclusive", exclusive, false)
        .flag("reverse", reverse, false);
    Ok(Lowered::Node(if op_type == "CumProd" {
        s.since(26)
    } else {
        s
    }))
}
