//! ONNX export of Gemm and Einsum (MatMul, MatMulInteger and QLinearMatMul have no attributes).

use super::cx::{Lowered, Spec};
use crate::error::Error;
use crate::op::GemmAttrs;

pub(super) fn gemm(a: &GemmAttrs) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("Gemm")
            .float_or("alpha", a.alpha, 1.0)
            .float_or("beta", a.beta, 1.0)
            .flag("transA", a.trans_a, false)
            .flag("transB", a.trans_b, false),
    ))
}

pub(super) fn einsum(equation: &str) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("Einsum").string("equation", equation),
    ))
}
