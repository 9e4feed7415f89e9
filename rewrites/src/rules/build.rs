//! Helpers rules use to read classes and to add nodes to the e-graph.

use crate::analysis::{EG, TensorAnalysis};
use crate::lang::Node;
use egg::Id;
use ir::op::BinaryOp;
use ir::{DType, Op, Tensor};

/// The op nodes of a class with their children.
pub fn ops(egraph: &EG, class: Id) -> impl Iterator<Item = (&Op, &[Id])> {
    egraph[class].nodes.iter().filter_map(|n| match n {
        Node::Op(k, ch) if k.outputs() == 1 => Some((k.op(), ch.as_slice())),
        Node::Op(..) | Node::Input(_) | Node::Const(_) | Node::Absent | Node::Output(..) => None,
    })
}

/// The children of every node of `class` whose op satisfies `pred`.
pub fn children_of(egraph: &EG, class: Id, pred: impl Fn(&Op) -> bool) -> Vec<Vec<Id>> {
    ops(egraph, class)
        .filter(|(op, _)| pred(op))
        .map(|(_, ch)| ch.to_vec())
        .collect()
}

/// Adds `op(children)`.
pub fn add_op(egraph: &mut EG, op: Op, children: Vec<Id>) -> Id {
    egraph.add(Node::op(op, children))
}

pub fn matmul(egraph: &mut EG, a: Id, b: Id) -> Id {
    add_op(egraph, Op::MatMul, vec![a, b])
}

pub fn binary(egraph: &mut EG, op: BinaryOp, a: Id, b: Id) -> Id {
    add_op(egraph, Op::Binary(op), vec![a, b])
}

pub fn transpose(egraph: &mut EG, x: Id, perm: Vec<usize>) -> Id {
    add_op(egraph, Op::Transpose { perm: Some(perm) }, vec![x])
}

/// An i64 constant vector (shapes, axes, starts...).
pub fn i64s(egraph: &mut EG, v: &[i64]) -> Id {
    let t = Tensor::from_i64(vec![v.len()], v.to_vec()).expect("a vector fits its shape");
    TensorAnalysis::add_const(egraph, t)
}

/// `Reshape(x, shape)` to a fully given shape (no 0 or -1 entries).
pub fn reshape(egraph: &mut EG, x: Id, shape: &[usize]) -> Id {
    let s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    reshape_to(egraph, x, &s)
}

/// `Reshape(x, shape)` with ONNX's target entries (0 copies the input's dim, -1 is inferred).
pub fn reshape_to(egraph: &mut EG, x: Id, shape: &[i64]) -> Id {
    let s = i64s(egraph, shape);
    add_op(egraph, Op::Reshape { allowzero: false }, vec![x, s])
}

/// `Reshape(x, [0; keep] ++ tail)`: the first `keep` dims of x stay as they are (static or
/// symbolic), the rest become `tail`.
pub fn reshape_keep(egraph: &mut EG, x: Id, keep: usize, tail: &[usize]) -> Id {
    let s: Vec<i64> = std::iter::repeat_n(0, keep)
        .chain(tail.iter().map(|&d| d as i64))
        .collect();
    reshape_to(egraph, x, &s)
}

/// A constant of `dtype` from f64 values.
pub fn constant(egraph: &mut EG, dtype: DType, shape: Vec<usize>, v: &[f64]) -> Option<Id> {
    let t = Tensor::from_f64(dtype, shape, v).ok()?;
    Some(TensorAnalysis::add_const(egraph, t))
}

/// A 2-D floating-point constant as (rows, cols, row-major f64 values).
pub fn const_matrix(egraph: &EG, class: Id) -> Option<(usize, usize, Vec<f64>)> {
    let t = egraph[class].data.value()?;
    if !t.dtype().is_float() || t.rank() != 2 {
        return None;
    }
    Some((t.shape()[0], t.shape()[1], t.to_f64_vec()))
}

/// The i64 values of a small constant class.
pub fn const_i64s(egraph: &EG, class: Id) -> Option<Vec<i64>> {
    egraph[class].data.value()?.to_i64_vec().ok()
}

/// A scalar (or one-element) floating-point constant's value.
pub fn const_scalar(egraph: &EG, class: Id) -> Option<f64> {
    let t = egraph[class].data.value()?;
    (t.len() == 1 && t.dtype().is_float()).then(|| t.to_f64_vec()[0])
}
