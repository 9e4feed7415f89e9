//! Unary kernels: math functions, activations, predicates and logical/bitwise negation.
//!
//! Abs, Neg, Sign and Relu also take integers and compute on them exactly; Shrink takes
//! integers through f64 and truncates back, as the ONNX reference does; the other math ops
//! take floats only.

use super::erf::erf;
use super::{map_float, map_int};
use crate::error::OpError;
use crate::interp::req;
use crate::op::UnaryOp;
use crate::op_bail;
use crate::tensor::Tensor;
use std::f64::consts::{FRAC_2_SQRT_PI, SQRT_2};

pub fn unary(op: UnaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let float = |f: fn(f64) -> f64| float_only(op, x, f);
    let out = match op {
        UnaryOp::Abs => float_or_int(op, x, f64::abs, i128::abs)?,
        UnaryOp::Neg => float_or_int(op, x, |v| -v, |v| -v)?,
        UnaryOp::Sign => float_or_int(op, x, sign, i128::signum)?,
        UnaryOp::Relu => float_or_int(op, x, relu, |v| v.max(0))?,
        UnaryOp::Exp => float(f64::exp)?,
        UnaryOp::Log => float(f64::ln)?,
        UnaryOp::Sqrt => float(f64::sqrt)?,
        UnaryOp::Reciprocal => float(f64::recip)?,
        UnaryOp::Floor => float(f64::floor)?,
        UnaryOp::Ceil => float(f64::ceil)?,
        UnaryOp::Round => float(f64::round_ties_even)?,
        UnaryOp::Sin => float(f64::sin)?,
        UnaryOp::Cos => float(f64::cos)?,
        UnaryOp::Tan => float(f64::tan)?,
        UnaryOp::Asin => float(f64::asin)?,
        UnaryOp::Acos => float(f64::acos)?,
        UnaryOp::Atan => float(f64::atan)?,
        UnaryOp::Sinh => float(f64::sinh)?,
        UnaryOp::Cosh => float(f64::cosh)?,
        UnaryOp::Tanh => float(f64::tanh)?,
        UnaryOp::Asinh => float(f64::asinh)?,
        UnaryOp::Acosh => float(f64::acosh)?,
        UnaryOp::Atanh => float(f64::atanh)?,
        UnaryOp::Erf => float(erf)?,
        UnaryOp::Sigmoid => float(sigmoid)?,
        UnaryOp::Softplus => float(softplus)?,
        UnaryOp::Softsign => float(|v| v / (1.0 + v.abs()))?,
        UnaryOp::HardSwish => float(|v| v * (v / 6.0 + 0.5).clamp(0.0, 1.0))?,
        UnaryOp::Mish => float(|v| v * softplus(v).tanh())?,
        UnaryOp::Gelu { tanh: false } => float(|v| 0.5 * v * (1.0 + erf(v / SQRT_2)))?,
        UnaryOp::Gelu { tanh: true } => float(|v| {
            // sqrt(2/pi) = (2/sqrt(pi)) / sqrt(2).
            let k = FRAC_2_SQRT_PI / SQRT_2;
            0.5 * v * (1.0 + (k * (v + 0.044715 * v * v * v)).tanh())
        })?,
        UnaryOp::LeakyRelu { alpha } => {
            let alpha = alpha as f64;
            float_only(op, x, |v| if v < 0.0 { alpha * v } else { v })?
        }
        UnaryOp::Elu { alpha } => {
            let alpha = alpha as f64;
            float_only(op, x, |v| if v < 0.0 { alpha * v.exp_m1() } else { v })?
        }
        UnaryOp::Selu { alpha, gamma } => {
            let (alpha, gamma) = (alpha as f64, gamma as f64);
            float_only(op, x, |v| {
                gamma * if v > 0.0 { v } else { alpha * v.exp() - alpha }
            })?
        }
        UnaryOp::Celu { alpha } => {
            let alpha = alpha as f64;
            float_only(op, x, |v| {
                if v > 0.0 {
                    v
                } else {
                    alpha * (v / alpha).exp_m1()
                }
            })?
        }
        UnaryOp::HardSigmoid { alpha, beta } => {
            let (alpha, beta) = (alpha as f64, beta as f64);
            float_only(op, x, |v| (alpha * v + beta).clamp(0.0, 1.0))?
        }
        UnaryOp::Swish { alpha } => {
            let alpha = alpha as f64;
            float_only(op, x, |v| v * sigmoid(alpha * v))?
        }
        UnaryOp::ThresholdedRelu { alpha } => {
            let alpha = alpha as f64;
            float_only(op, x, |v| if v > alpha { v } else { 0.0 })?
        }
        UnaryOp::Shrink { bias, lambd } => {
            let (bias, lambd) = (bias as f64, lambd as f64);
            let shrink = |v: f64| {
                if v < -lambd {
                    v + bias
                } else if v > lambd {
                    v - bias
                } else {
                    0.0
                }
            };
            if x.dtype().is_int() {
                let v: Vec<f64> = x.to_f64_vec().into_iter().map(shrink).collect();
                Tensor::from_f64(x.dtype(), x.shape().to_vec(), &v)?
            } else {
                float_only(op, x, shrink)?
            }
        }
        UnaryOp::Not => {
            let Some(v) = x.as_bool() else {
                op_bail!("Not expects a bool input, got {}", x.dtype());
            };
            Tensor::from_bool(x.shape().to_vec(), v.iter().map(|&b| !b).collect())?
        }
        UnaryOp::BitwiseNot => {
            if !x.dtype().is_int() {
                op_bail!("BitwiseNot expects an integer input, got {}", x.dtype());
            }
            map_int(x, |v| !v)?
        }
        UnaryOp::IsNaN => predicate(op, x, f64::is_nan)?,
        UnaryOp::IsInf {
            detect_positive,
            detect_negative,
        } => predicate(op, x, |v| {
            (detect_positive && v == f64::INFINITY) || (detect_negative && v == f64::NEG_INFINITY)
        })?,
    };
    Ok(vec![out])
}

/// `f` over a float tensor; other dtypes are an error naming the op.
fn float_only(op: UnaryOp, x: &Tensor, f: impl Fn(f64) -> f64) -> Result<Tensor, OpError> {
    if !x.dtype().is_float() {
        op_bail!("{} expects a float input, got {}", op.name(), x.dtype());
    }
    map_float(x, f)
}

/// `on_float` over a float tensor, `on_int` (exact, wrapped to the width) over an integer one.
fn float_or_int(
    op: UnaryOp,
    x: &Tensor,
    on_float: impl Fn(f64) -> f64,
    on_int: impl Fn(i128) -> i128,
) -> Result<Tensor, OpError> {
    if x.dtype().is_float() {
        map_float(x, on_float)
    } else if x.dtype().is_int() {
        map_int(x, on_int)
    } else {
        op_bail!("{} expects a number, got {}", op.name(), x.dtype())
    }
}

/// A bool tensor of `f` over a float tensor.
fn predicate(op: UnaryOp, x: &Tensor, f: impl Fn(f64) -> bool) -> Result<Tensor, OpError> {
    if !x.dtype().is_float() {
        op_bail!("{} expects a float input, got {}", op.name(), x.dtype());
    }
    Tensor::from_bool(
        x.shape().to_vec(),
        x.to_f64_vec().into_iter().map(f).collect(),
    )
}

/// -1, 0 or 1; NaN stays NaN.
fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    }
}

/// max(v, 0) with NaN propagated, as numpy's `maximum`.
fn relu(v: f64) -> f64 {
    if v < 0.0 { 0.0 } else { v }
}

/// 1 / (1 + e^-v), without overflow for large |v|.
fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + e^v), without overflow for large v.
fn softplus(v: f64) -> f64 {
    if v > 0.0 {
        v + (-v).exp().ln_1p()
    } else {
        v.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    fn run(op: UnaryOp, x: &Tensor) -> Result<Tensor, OpError> {
        unary(op, &[Some(x)]).map(|mut v| v.remove(0))
    }

    fn f32s(v: &[f32]) -> Tensor {
        Tensor::from_f32(vec![v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn round_takes_halves_to_even() {
        let out = run(UnaryOp::Round, &f32s(&[0.5, 1.5, 2.5, -0.5, -1.5, 2.4])).unwrap();
        assert_eq!(out.as_f32().unwrap(), &[0.0, 2.0, 2.0, -0.0, -2.0, 2.0]);
    }

    #[test]
    fn integer_abs_neg_and_relu_are_exact_and_wrap() {
        let x = Tensor::from_i128(DType::I8, vec![4], &[-128, -3, 0, 5]).unwrap();
        assert_eq!(
            run(UnaryOp::Abs, &x).unwrap().to_i128_vec(),
            vec![-128, 3, 0, 5]
        );
        assert_eq!(
            run(UnaryOp::Neg, &x).unwrap().to_i128_vec(),
            vec![-128, 3, 0, -5]
        );
        assert_eq!(
            run(UnaryOp::Relu, &x).unwrap().to_i128_vec(),
            vec![0, 0, 0, 5]
        );
        assert_eq!(
            run(UnaryOp::Sign, &x).unwrap().to_i128_vec(),
            vec![-1, -1, 0, 1]
        );
        let big = Tensor::from_i64(vec![1], vec![i64::MAX - 1]).unwrap();
        assert_eq!(
            run(UnaryOp::Abs, &big).unwrap().as_i64().unwrap(),
            &[i64::MAX - 1]
        );
    }

    #[test]
    fn float_only_ops_reject_integers_by_name() {
        let x = Tensor::from_i64(vec![1], vec![1]).unwrap();
        let err = run(UnaryOp::Exp, &x).unwrap_err();
        assert!(
            err.0.contains("Exp expects a float input, got i64"),
            "{err}"
        );
    }

    #[test]
    fn activations_are_stable_at_the_extremes() {
        let x = f32s(&[-1000.0, 1000.0]);
        assert_eq!(
            run(UnaryOp::Sigmoid, &x).unwrap().as_f32().unwrap(),
            &[0.0, 1.0]
        );
        assert_eq!(
            run(UnaryOp::Softplus, &x).unwrap().as_f32().unwrap(),
            &[0.0, 1000.0]
        );
        assert_eq!(
            run(UnaryOp::Mish, &x).unwrap().as_f32().unwrap(),
            &[-0.0, 1000.0]
        );
    }

    #[test]
    fn relu_and_sign_keep_nan() {
        let x = f32s(&[f32::NAN]);
        assert!(run(UnaryOp::Relu, &x).unwrap().as_f32().unwrap()[0].is_nan());
        assert!(run(UnaryOp::Sign, &x).unwrap().as_f32().unwrap()[0].is_nan());
    }

    #[test]
    fn is_inf_honours_its_direction_flags() {
        let x = f32s(&[f32::INFINITY, f32::NEG_INFINITY, 1.0, f32::NAN]);
        let only_negative = UnaryOp::IsInf {
            detect_positive: false,
            detect_negative: true,
        };
        let out = run(only_negative, &x).unwrap();
        assert_eq!(out.as_bool().unwrap(), &[false, true, false, false]);
        let out = run(UnaryOp::IsNaN, &x).unwrap();
        assert_eq!(out.as_bool().unwrap(), &[false, false, false, true]);
    }

    #[test]
    fn bitwise_not_flips_unsigned_and_signed_bits() {
        let x = Tensor::from_i128(DType::U8, vec![2], &[0, 5]).unwrap();
        assert_eq!(
            run(UnaryOp::BitwiseNot, &x).unwrap().to_i128_vec(),
            vec![255, 250]
        );
        let x = Tensor::from_i128(DType::I16, vec![1], &[5]).unwrap();
        assert_eq!(
            run(UnaryOp::BitwiseNot, &x).unwrap().to_i128_vec(),
            vec![-6]
        );
    }

    #[test]
    fn f16_results_round_once_to_the_dtype() {
        let x = Tensor::from_f64(DType::F16, vec![1], &[2.0]).unwrap();
        let out = run(UnaryOp::Sqrt, &x).unwrap();
        assert_eq!(out.dtype(), DType::F16);
        assert_eq!(
            out.to_f64_vec()[0],
            half::f16::from_f64(2f64.sqrt()).to_f64()
        );
    }
}
