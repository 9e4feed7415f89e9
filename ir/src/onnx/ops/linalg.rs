//! ONNX importers for: MatMul, Gemm, Einsum, MatMulInteger, QLinearMatMul.

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{GemmAttrs, Op};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("MatMul", matmul);
    reg.insert("Gemm", gemm);
    reg.insert("Einsum", einsum);
    reg.insert("MatMulInteger", matmul_integer);
    reg.insert("QLinearMatMul", qlinear_matmul);
}

fn matmul(_: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::MatMul);
    Ok(())
}

/// Opsets 1 and 6 had `broadcast` (C must match [M, N] exactly when 0); broadcasting C is
/// a superset of both behaviours, so the attribute needs no node of its own.
fn gemm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Gemm(GemmAttrs {
        alpha: n.float("alpha", 1.0)?,
        beta: n.float("beta", 1.0)?,
        trans_a: n.bool("transA", false)?,
        trans_b: n.bool("transB", false)?,
    }));
    Ok(())
}

fn einsum(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let equation = n
        .string_opt("equation")?
        .ok_or_else(|| n.attr_error("equation", "is required"))?;
    e.pass(Op::Einsum { equation });
    Ok(())
}

fn matmul_integer(_: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::MatMulInteger);
    Ok(())
}

fn qlinear_matmul(_: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::QLinearMatMul);
    Ok(())
}
