//! Tensor elements as exact numbers for arithmetic kernels: floats as f64, integers and bool as
//! i128 (both exact for every dtype tenfold holds).

use crate::dtype::DType;
use crate::error::OpError;
use crate::tensor::Tensor;

/// The elements of one tensor, widened to the number type that holds its dtype exactly.
#[derive(Clone, Debug)]
pub enum Values {
    Float(Vec<f64>),
    Int(Vec<i128>),
}

impl Values {
    pub fn of(t: &Tensor) -> Values {
        if t.dtype().is_float() {
            Values::Float(t.to_f64_vec())
        } else {
            Values::Int(t.to_i128_vec())
        }
    }

    /// Encodes back to `dtype` (floats rounded once, integers wrapped to the dtype's width).
    pub fn into_tensor(self, dtype: DType, shape: Vec<usize>) -> Result<Tensor, OpError> {
        match self {
            Values::Float(v) => Tensor::from_f64(dtype, shape, &v),
            Values::Int(v) => Tensor::from_i128(dtype, shape, &v),
        }
    }
}

/// NaN-propagating maximum (numpy's `maximum`).
pub fn max_f64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// NaN-propagating minimum (numpy's `minimum`).
pub fn min_f64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The inclusive value range of an integer or bool dtype.
pub fn int_bounds(dtype: DType) -> (i128, i128) {
    dtype.int_range().unwrap_or((0, 1))
}
