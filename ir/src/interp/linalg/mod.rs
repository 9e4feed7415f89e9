//! MatMul, Gemm, Einsum and the integer matmuls, all built on the one blocked GEMM in `gemm`.

pub(crate) mod einsum;
mod einsum_matmul;
pub(crate) mod gemm;
mod integer;
pub(crate) mod matmul;

use crate::error::OpError;
use crate::op::GemmAttrs;
use crate::tensor::Tensor;

pub use einsum::einsum;
pub use integer::{matmul_integer, qlinear_matmul};
pub use matmul::matmul;

pub fn gemm(attrs: &GemmAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    matmul::gemm_op(attrs, inputs)
}
