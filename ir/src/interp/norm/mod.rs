//! Kernels of the softmax family, the normalizations, attention, rotary embedding,
//! inference-mode dropout and the loss ops, plus the float helpers they share.

mod attention;
mod dropout;
mod loss;
mod normalize;
mod rotary;
mod softmax;

pub use attention::attention;
pub use dropout::dropout;
pub use loss::{nll_loss, softmax_cross_entropy};
pub use normalize::{
    batch_norm, group_norm, instance_norm, layer_norm, lp_norm, mean_variance_norm, rms_norm,
};
pub use rotary::rotary_embedding;
pub use softmax::softmax;

use crate::dtype::DType;
use crate::error::OpError;
use crate::op_bail;
use crate::tensor::Tensor;
use half::{bf16, f16};
use std::ops::{Add, AddAssign, Div, Mul, Sub};

/// The two machine floats kernels compute in: f32 where the data is f32 (or narrower), f64
/// otherwise.
pub(super) trait Float:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
{
    const ZERO: Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    /// The tensor's elements in this float.
    fn values(t: &Tensor) -> Vec<Self>;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn exp(self) -> f32 {
        f32::exp(self)
    }
    fn ln(self) -> f32 {
        f32::ln(self)
    }
    fn values(t: &Tensor) -> Vec<f32> {
        t.to_f32_vec()
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    fn from_f64(x: f64) -> f64 {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    fn values(t: &Tensor) -> Vec<f64> {
        t.to_f64_vec()
    }
}

/// Rounds an f64 to the nearest f32, f16 or bf16 (per `dtype`), as storing it there and reading
/// it back would; other dtypes pass through. Kernels that follow the reference step by step use
/// it to round where numpy rounds.
pub(super) fn rounder(dtype: DType) -> fn(f64) -> f64 {
    match dtype {
        DType::F32 => |x| x as f32 as f64,
        DType::F16 => |x| f16::from_f64(x).to_f64(),
        DType::BF16 => |x| bf16::from_f64(x).to_f64(),
        _ => |x| x,
    }
}

/// Errors unless `t` holds floats; `what` names the input ("input", "scale"...).
pub(super) fn expect_float(t: &Tensor, what: &str) -> Result<(), OpError> {
    if !t.dtype().is_float() {
        op_bail!("{what} must be a float tensor, got {}", t.dtype());
    }
    Ok(())
}

/// Errors unless `t` has `x`'s dtype; `what` names the input.
pub(super) fn expect_same_dtype(t: &Tensor, x: &Tensor, what: &str) -> Result<(), OpError> {
    if t.dtype() != x.dtype() {
        op_bail!(
            "{what} has dtype {}, expected {} like the input",
            t.dtype(),
            x.dtype()
        );
    }
    Ok(())
}

/// Errors unless `t` is 1-D of length `n`; `what` names the input.
pub(super) fn expect_vector(t: &Tensor, n: usize, what: &str) -> Result<(), OpError> {
    if t.shape() != [n] {
        op_bail!("{what} must have shape [{n}], got {:?}", t.shape());
    }
    Ok(())
}

/// Maximum that propagates NaN, like numpy's `max`.
pub(super) fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}
