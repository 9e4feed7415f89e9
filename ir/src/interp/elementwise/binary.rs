//! Binary kernels with numpy broadcasting: arithmetic, comparisons, logic, bitwise ops and
//! shifts, Pow (mixed base/exponent dtypes) and PRelu (slope broadcast to x).

use super::{nan_max, nan_min, zip_broadcast, zip_float, zip_int};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::req;
use crate::op::BinaryOp;
use crate::op_bail;
use crate::shape::broadcast;
use crate::tensor::Tensor;

pub fn binary(op: BinaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let (a, b) = (req(inputs, 0)?, req(inputs, 1)?);
    let out = match op {
        BinaryOp::Add => arith(op, a, b, |x, y| x + y, |x, y| x + y)?,
        BinaryOp::Sub => arith(op, a, b, |x, y| x - y, |x, y| x - y)?,
        BinaryOp::Mul => arith(op, a, b, |x, y| x * y, |x, y| x * y)?,
        BinaryOp::Div => {
            no_integer_zero(op, b)?;
            // i128 `/` truncates toward zero, as ONNX integer Div does.
            arith(op, a, b, |x, y| x / y, |x, y| x / y)?
        }
        BinaryOp::Mod { fmod: true } => {
            no_integer_zero(op, b)?;
            // Rust `%` is C's fmod / remainder: the result takes the dividend's sign.
            arith(op, a, b, |x, y| x % y, |x, y| x % y)?
        }
        BinaryOp::Mod { fmod: false } => {
            no_integer_zero(op, b)?;
            arith(op, a, b, float_mod, int_mod)?
        }
        BinaryOp::Max => arith(op, a, b, nan_max, i128::max)?,
        BinaryOp::Min => arith(op, a, b, nan_min, i128::min)?,
        BinaryOp::Equal => compare(op, a, b, |x, y| x == y, |x, y| x == y)?,
        BinaryOp::Less => compare(op, a, b, |x, y| x < y, |x, y| x < y)?,
        BinaryOp::LessOrEqual => compare(op, a, b, |x, y| x <= y, |x, y| x <= y)?,
        BinaryOp::Greater => compare(op, a, b, |x, y| x > y, |x, y| x > y)?,
        BinaryOp::GreaterOrEqual => compare(op, a, b, |x, y| x >= y, |x, y| x >= y)?,
        BinaryOp::And => logical(op, a, b, |x, y| x && y)?,
        BinaryOp::Or => logical(op, a, b, |x, y| x || y)?,
        BinaryOp::Xor => logical(op, a, b, |x, y| x != y)?,
        BinaryOp::BitwiseAnd => bitwise(op, a, b, |x, y| x & y)?,
        BinaryOp::BitwiseOr => bitwise(op, a, b, |x, y| x | y)?,
        BinaryOp::BitwiseXor => bitwise(op, a, b, |x, y| x ^ y)?,
        BinaryOp::BitShiftLeft => {
            let width = a.dtype().bits() as i128;
            // Integers are held sign- or zero-extended, so the low bits of the i128 shift are
            // the shift in the dtype's width; shifting by the width or more (or by a negative
            // amount) clears every bit.
            bitwise(
                op,
                a,
                b,
                |x, s| if (0..width).contains(&s) { x << s } else { 0 },
            )?
        }
        BinaryOp::BitShiftRight => {
            let width = a.dtype().bits() as i128;
            // Arithmetic for signed dtypes; unsigned values are non-negative, so logical.
            bitwise(op, a, b, |x, s| {
                if (0..width).contains(&s) {
                    x >> s
                } else if x < 0 {
                    -1
                } else {
                    0
                }
            })?
        }
        BinaryOp::Pow => pow(a, b)?,
        BinaryOp::PRelu => prelu(a, b)?,
    };
    Ok(vec![out])
}

/// The inputs' common dtype, or an error naming both.
fn common_dtype(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<DType, OpError> {
    if a.dtype() != b.dtype() {
        op_bail!(
            "{} needs inputs of one dtype, got {} and {}",
            op.name(),
            a.dtype(),
            b.dtype()
        );
    }
    Ok(a.dtype())
}

/// Numeric ops: `on_float` in f64 for float dtypes, `on_int` in i128 for integers.
fn arith(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    on_float: impl Fn(f64, f64) -> f64,
    on_int: impl Fn(i128, i128) -> i128,
) -> Result<Tensor, OpError> {
    let dtype = common_dtype(op, a, b)?;
    let out = broadcast(a.shape(), b.shape())?;
    if dtype.is_float() {
        zip_float(dtype, a, b, &out, on_float)
    } else if dtype.is_int() {
        zip_int(dtype, a, b, &out, on_int)
    } else {
        op_bail!("{} does not accept {dtype} inputs", op.name())
    }
}

/// Comparisons: exact in f64 for floats (NaN compares unequal) and in i128 otherwise.
fn compare(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    on_float: impl Fn(f64, f64) -> bool,
    on_int: impl Fn(i128, i128) -> bool,
) -> Result<Tensor, OpError> {
    let dtype = common_dtype(op, a, b)?;
    let out = broadcast(a.shape(), b.shape())?;
    let v = if dtype.is_float() {
        let (x, y) = (a.to_f64_vec(), b.to_f64_vec());
        zip_broadcast((&x, a.shape()), (&y, b.shape()), &out, on_float)
    } else {
        let (x, y) = (a.to_i128_vec(), b.to_i128_vec());
        zip_broadcast((&x, a.shape()), (&y, b.shape()), &out, on_int)
    };
    Tensor::from_bool(out, v)
}

/// Logical ops on bool tensors.
fn logical(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(bool, bool) -> bool,
) -> Result<Tensor, OpError> {
    let (Some(x), Some(y)) = (a.as_bool(), b.as_bool()) else {
        op_bail!(
            "{} expects bool inputs, got {} and {}",
            op.name(),
            a.dtype(),
            b.dtype()
        );
    };
    let out = broadcast(a.shape(), b.shape())?;
    let v = zip_broadcast((x, a.shape()), (y, b.shape()), &out, |p: bool, q: bool| {
        f(p, q)
    });
    Tensor::from_bool(out, v)
}

/// Bitwise ops and shifts on integer tensors.
fn bitwise(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(i128, i128) -> i128,
) -> Result<Tensor, OpError> {
    let dtype = common_dtype(op, a, b)?;
    if !dtype.is_int() {
        op_bail!("{} expects integer inputs, got {dtype}", op.name());
    }
    let out = broadcast(a.shape(), b.shape())?;
    zip_int(dtype, a, b, &out, f)
}

/// Integer Div and Mod have no value for a zero divisor: that is an error, not a panic.
fn no_integer_zero(op: BinaryOp, divisor: &Tensor) -> Result<(), OpError> {
    if divisor.dtype().is_int() && divisor.to_i128_vec().contains(&0) {
        op_bail!("integer {} by zero", op.name());
    }
    Ok(())
}

/// numpy's float `mod`: the remainder takes the divisor's sign (zero is signed like it).
fn float_mod(x: f64, y: f64) -> f64 {
    let r = x % y;
    if r == 0.0 {
        0f64.copysign(y)
    } else if (r < 0.0) != (y < 0.0) {
        r + y
    } else {
        r
    }
}

/// Python's integer `%`: the remainder takes the divisor's sign. `y` is non-zero.
fn int_mod(x: i128, y: i128) -> i128 {
    let r = x % y;
    if r != 0 && (r < 0) != (y < 0) {
        r + y
    } else {
        r
    }
}

/// Pow: the output has the base's dtype; the exponent may be any numeric dtype. Integer
/// powers of integers are exact (wrapped); other cases go through f64.
fn pow(base: &Tensor, exponent: &Tensor) -> Result<Tensor, OpError> {
    let dtype = base.dtype();
    if dtype == DType::Bool || exponent.dtype() == DType::Bool {
        op_bail!(
            "Pow expects numeric inputs, got {} and {}",
            dtype,
            exponent.dtype()
        );
    }
    let out = broadcast(base.shape(), exponent.shape())?;
    if dtype.is_float() || exponent.dtype().is_float() {
        // An integer base with a float exponent is truncated back to the base's dtype.
        return zip_float(dtype, base, exponent, &out, f64::powf);
    }
    let (x, y) = (base.to_i128_vec(), exponent.to_i128_vec());
    let v = zip_broadcast((&x, base.shape()), (&y, exponent.shape()), &out, int_pow);
    let v: Vec<i128> = v.into_iter().collect::<Result<_, _>>()?;
    Tensor::from_i128(dtype, out, &v)
}

/// `base^exp` in integers, wrapping modulo 2^128 (and so modulo any narrower width). A
/// negative exponent truncates the exact result toward zero, as a C cast of `pow` would.
fn int_pow(base: i128, exp: i128) -> Result<i128, OpError> {
    if exp < 0 {
        return match base {
            0 => op_bail!("integer Pow of 0 to the negative power {exp}"),
            1 => Ok(1),
            -1 => Ok(if exp % 2 == 0 { 1 } else { -1 }),
            _ => Ok(0),
        };
    }
    let (mut result, mut square, mut e) = (1i128, base, exp as u128);
    while e > 0 {
        if e & 1 == 1 {
            result = result.wrapping_mul(square);
        }
        square = square.wrapping_mul(square);
        e >>= 1;
    }
    Ok(result)
}

/// PRelu: `x < 0 ? slope * x : x`, the slope broadcast to x's shape. A 1-D slope that does
/// not broadcast numpy-style is matched to the one axis of x with its length (the opset < 7
/// rule, e.g. a per-channel slope of shape [C] for x of shape [N, C, H, W]).
fn prelu(x: &Tensor, slope: &Tensor) -> Result<Tensor, OpError> {
    let dtype = common_dtype(BinaryOp::PRelu, x, slope)?;
    let aligned;
    let slope = match broadcast(x.shape(), slope.shape()) {
        Ok(out) if out == x.shape() => slope,
        _ => {
            let axis = match slope.shape() {
                [n] => {
                    let mut axes = x.shape().iter().enumerate().filter(|(_, d)| *d == n);
                    match (axes.next(), axes.next()) {
                        (Some((axis, _)), None) => Some(axis),
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some(axis) = axis else {
                op_bail!(
                    "slope of shape {:?} does not broadcast to x of shape {:?}",
                    slope.shape(),
                    x.shape()
                );
            };
            let mut shape = vec![1; x.rank()];
            shape[axis] = slope.len();
            aligned = slope.clone().reshaped(shape)?;
            &aligned
        }
    };
    let out = x.shape().to_vec();
    let negative_slope = |v: f64, s: f64| if v < 0.0 { v * s } else { v };
    if dtype.is_float() {
        zip_float(dtype, x, slope, &out, negative_slope)
    } else if dtype.is_int() {
        zip_int(dtype, x, slope, &out, |v, s| if v < 0 { v * s } else { v })
    } else {
        op_bail!("PRelu does not accept {dtype} inputs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor, OpError> {
        binary(op, &[Some(a), Some(b)]).map(|mut v| v.remove(0))
    }

    fn ints(dtype: DType, v: &[i128]) -> Tensor {
        Tensor::from_i128(dtype, vec![v.len()], v).unwrap()
    }

    fn f64s(v: &[f64]) -> Tensor {
        Tensor::from_f64(DType::F64, vec![v.len()], v).unwrap()
    }

    #[test]
    fn add_broadcasts_numpy_style() {
        let a = Tensor::from_f32(vec![2, 1], vec![1.0, 2.0]).unwrap();
        let b = Tensor::from_f32(vec![3], vec![10.0, 20.0, 30.0]).unwrap();
        let out = run(BinaryOp::Add, &a, &b).unwrap();
        assert_eq!(out.shape(), &[2, 3]);
        assert_eq!(out.as_f32().unwrap(), &[11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
        let c = Tensor::from_f32(vec![4], vec![0.0; 4]).unwrap();
        assert!(run(BinaryOp::Add, &b, &c).is_err());
    }

    #[test]
    fn integer_arithmetic_wraps_like_numpy() {
        let a = ints(DType::U8, &[250, 3]);
        let b = ints(DType::U8, &[10, 5]);
        assert_eq!(
            run(BinaryOp::Add, &a, &b).unwrap().to_i128_vec(),
            vec![4, 8]
        );
        assert_eq!(
            run(BinaryOp::Sub, &b, &a).unwrap().to_i128_vec(),
            vec![16, 2]
        );
    }

    #[test]
    fn integer_div_truncates_and_division_by_zero_is_an_error() {
        let a = ints(DType::I32, &[7, -7, 7, -7]);
        let b = ints(DType::I32, &[2, 2, -2, -2]);
        assert_eq!(
            run(BinaryOp::Div, &a, &b).unwrap().to_i128_vec(),
            vec![3, -3, -3, 3]
        );
        let zero = ints(DType::I32, &[0, 1, 1, 1]);
        let err = run(BinaryOp::Div, &a, &zero).unwrap_err();
        assert!(err.0.contains("by zero"), "{err}");
    }

    #[test]
    fn mod_follows_the_divisor_or_the_dividend() {
        let a = ints(DType::I64, &[7, -7, 7, -7]);
        let b = ints(DType::I64, &[3, 3, -3, -3]);
        let python = run(BinaryOp::Mod { fmod: false }, &a, &b).unwrap();
        assert_eq!(python.to_i128_vec(), vec![1, 2, -2, -1]);
        let c = run(BinaryOp::Mod { fmod: true }, &a, &b).unwrap();
        assert_eq!(c.to_i128_vec(), vec![1, -1, 1, -1]);
        let x = f64s(&[-4.0, 4.0, -1.0, 6.0]);
        let y = f64s(&[3.0, -3.0, f64::INFINITY, 3.0]);
        let got = run(BinaryOp::Mod { fmod: false }, &x, &y)
            .unwrap()
            .to_f64_vec();
        assert_eq!(got, vec![2.0, -2.0, f64::INFINITY, 0.0]);
    }

    #[test]
    fn max_and_min_propagate_nan() {
        let a = f64s(&[1.0, f64::NAN, 3.0]);
        let b = f64s(&[f64::NAN, 2.0, 1.0]);
        let got = run(BinaryOp::Max, &a, &b).unwrap().to_f64_vec();
        assert!(got[0].is_nan() && got[1].is_nan());
        assert_eq!(got[2], 3.0);
    }

    #[test]
    fn pow_keeps_the_base_dtype() {
        let base = ints(DType::I32, &[2, 3, -2]);
        let exp = Tensor::from_f32(vec![3], vec![3.0, 0.5, 2.0]).unwrap();
        let out = run(BinaryOp::Pow, &base, &exp).unwrap();
        assert_eq!(out.dtype(), DType::I32);
        assert_eq!(out.to_i128_vec(), vec![8, 1, 4]);
        let exp = ints(DType::I64, &[62, 2, 3]);
        let out = run(BinaryOp::Pow, &ints(DType::I64, &[2, 3, -2]), &exp).unwrap();
        assert_eq!(out.to_i128_vec(), vec![1 << 62, 9, -8]);
        let out = run(BinaryOp::Pow, &f64s(&[4.0]), &ints(DType::I64, &[-1])).unwrap();
        assert_eq!(out.to_f64_vec(), vec![0.25]);
    }

    #[test]
    fn shifts_handle_out_of_range_amounts() {
        let a = ints(DType::I8, &[-16, 16, 1, -1]);
        let s = ints(DType::I8, &[2, 2, 8, -1]);
        let right = run(BinaryOp::BitShiftRight, &a, &s).unwrap();
        assert_eq!(right.to_i128_vec(), vec![-4, 4, 0, -1]);
        let left = run(
            BinaryOp::BitShiftLeft,
            &ints(DType::U8, &[255, 1]),
            &ints(DType::U8, &[1, 8]),
        );
        assert_eq!(left.unwrap().to_i128_vec(), vec![254, 0]);
    }

    #[test]
    fn comparisons_give_bool_and_reject_mixed_dtypes() {
        let a = f64s(&[1.0, f64::NAN]);
        let b = f64s(&[1.0, f64::NAN]);
        let out = run(BinaryOp::Equal, &a, &b).unwrap();
        assert_eq!(out.as_bool().unwrap(), &[true, false]);
        let err = run(BinaryOp::Less, &a, &ints(DType::I64, &[1, 2])).unwrap_err();
        assert!(err.0.contains("f64 and i64"), "{err}");
    }

    #[test]
    fn prelu_matches_a_per_channel_slope_to_its_axis() {
        let x = Tensor::from_f32(vec![1, 2, 2], vec![-1.0, 1.0, -2.0, 2.0]).unwrap();
        let slope = Tensor::from_f32(vec![2], vec![0.5, 0.25]).unwrap();
        // [2] broadcasts against the last axis numpy-style.
        let out = run(BinaryOp::PRelu, &x, &slope).unwrap();
        assert_eq!(out.as_f32().unwrap(), &[-0.5, 1.0, -1.0, 2.0]);
        let x = Tensor::from_f32(vec![1, 2, 1], vec![-1.0, -1.0]).unwrap();
        let out = run(BinaryOp::PRelu, &x, &slope).unwrap();
        assert_eq!(out.as_f32().unwrap(), &[-0.5, -0.25]);
    }
}
