//! Elementwise kernels: unary math and activations, binary arithmetic, comparison, logic and
//! bitwise ops with numpy broadcasting, Where, Clip, Cast.
//!
//! Float math runs in f64 and rounds once to the output dtype (f32 and f64 tensors are read and
//! written in place, without an f64 copy); integer math runs in i128 and wraps to the output
//! width, as numpy does.

mod binary;
mod erf;
mod unary;

pub use binary::binary;
pub use unary::unary;

use super::util::broadcast_indices;
use super::{opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op_bail;
use crate::shape::broadcast_all;
use crate::tensor::{Data, Tensor};

/// `cond ? a : b` with the three inputs broadcast together.
pub fn where_(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let (cond, a, b) = (req(inputs, 0)?, req(inputs, 1)?, req(inputs, 2)?);
    let Some(mask) = cond.as_bool() else {
        op_bail!("the condition must be bool, got {}", cond.dtype());
    };
    if a.dtype() != b.dtype() {
        op_bail!(
            "the two branches must have one dtype, got {} and {}",
            a.dtype(),
            b.dtype()
        );
    }
    let out = broadcast_all(&[cond.shape(), a.shape(), b.shape()])?;
    let mask_at = broadcast_indices(cond.shape(), &out);
    let on_true = a.data().gather(&broadcast_indices(a.shape(), &out));
    let on_false = b.data().gather(&broadcast_indices(b.shape(), &out));
    let take: Vec<bool> = mask_at.iter().map(|&i| mask[i]).collect();
    Ok(vec![Tensor::new(
        a.dtype(),
        out,
        select(&take, on_true, on_false)?,
    )?])
}

/// Element `i` of `on_true` where `take[i]`, else of `on_false`. Both hold `take.len()`
/// elements of one storage.
fn select(take: &[bool], on_true: Data, on_false: Data) -> Result<Data, OpError> {
    macro_rules! pick {
        ($($variant:ident),*) => {
            match (on_true, on_false) {
                $((Data::$variant(t), Data::$variant(f)) => Data::$variant(
                    take.iter().zip(t).zip(f).map(|((&k, t), f)| if k { t } else { f }).collect(),
                ),)*
                (t, f) => op_bail!("branches stored as {:?} and {:?}", t.storage(), f.storage()),
            }
        };
    }
    Ok(pick!(
        F32, F64, F16, BF16, I8, U8, I16, U16, I32, U32, I64, U64, Bool
    ))
}

/// `min(max(x, lo), hi)` with optional scalar bounds of x's dtype; NaN propagates as in numpy,
/// and `lo > hi` gives `hi` everywhere.
pub fn clip(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let bound = |i: usize, name: &str| -> Result<Option<&Tensor>, OpError> {
        let Some(t) = opt(inputs, i) else {
            return Ok(None);
        };
        if t.dtype() != x.dtype() {
            op_bail!("{name} is {}, but the input is {}", t.dtype(), x.dtype());
        }
        if t.len() != 1 {
            op_bail!("{name} must be a scalar, got shape {:?}", t.shape());
        }
        Ok(Some(t))
    };
    let (lo, hi) = (bound(1, "min")?, bound(2, "max")?);
    if x.dtype() == DType::Bool {
        op_bail!("Clip does not accept bool inputs");
    }
    let out = if x.dtype().is_float() {
        let lo = lo.map(|t| t.to_f64_vec()[0]);
        let hi = hi.map(|t| t.to_f64_vec()[0]);
        map_float(x, |v| {
            let v = lo.map_or(v, |l| nan_max(v, l));
            hi.map_or(v, |h| nan_min(v, h))
        })?
    } else {
        let lo = lo.map(|t| t.to_i128_vec()[0]);
        let hi = hi.map(|t| t.to_i128_vec()[0]);
        map_int(x, |v| {
            let v = lo.map_or(v, |l| v.max(l));
            hi.map_or(v, |h| v.min(h))
        })?
    };
    Ok(vec![out])
}

/// ONNX `Cast`.
pub fn cast(to: DType, saturate: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![req(inputs, 0)?.cast(to, saturate)])
}

/// ONNX `CastLike`: `Cast` to the dtype of input 1.
pub fn cast_like(saturate: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let like = req(inputs, 1)?;
    Ok(vec![req(inputs, 0)?.cast(like.dtype(), saturate)])
}

/// The larger of two floats, NaN if either is NaN (numpy `maximum`).
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// The smaller of two floats, NaN if either is NaN (numpy `minimum`).
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Applies `f` to every element of a float tensor, keeping its dtype and shape.
fn map_float(x: &Tensor, f: impl Fn(f64) -> f64) -> Result<Tensor, OpError> {
    let shape = x.shape().to_vec();
    match (x.dtype(), x.data()) {
        (DType::F32, Data::F32(v)) => {
            let out = v.iter().map(|&e| f(e as f64) as f32).collect();
            Tensor::new(DType::F32, shape, Data::F32(out))
        }
        (DType::F64, Data::F64(v)) => Tensor::new(
            DType::F64,
            shape,
            Data::F64(v.iter().map(|&e| f(e)).collect()),
        ),
        (dtype, _) => {
            let out: Vec<f64> = x.to_f64_vec().into_iter().map(f).collect();
            Tensor::from_f64(dtype, shape, &out)
        }
    }
}

/// Applies `f` to every element of an integer tensor, wrapping results to its dtype.
fn map_int(x: &Tensor, f: impl Fn(i128) -> i128) -> Result<Tensor, OpError> {
    let out: Vec<i128> = x.to_i128_vec().into_iter().map(f).collect();
    Tensor::from_i128(x.dtype(), x.shape().to_vec(), &out)
}

/// `f` over the pairs of elements numpy broadcasting matches, in row-major order of `out`
/// (the broadcast of `a_shape` and `b_shape`).
fn zip_broadcast<A: Copy, B: Copy, R>(
    (a, a_shape): (&[A], &[usize]),
    (b, b_shape): (&[B], &[usize]),
    out: &[usize],
    f: impl Fn(A, B) -> R,
) -> Vec<R> {
    let a_full = a_shape == out;
    let b_full = b_shape == out;
    if a_full && b_full {
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
    } else if a_full && b.len() == 1 {
        a.iter().map(|&x| f(x, b[0])).collect()
    } else if b_full && a.len() == 1 {
        b.iter().map(|&y| f(a[0], y)).collect()
    } else {
        let ia = broadcast_indices(a_shape, out);
        let ib = broadcast_indices(b_shape, out);
        ia.iter().zip(&ib).map(|(&i, &j)| f(a[i], b[j])).collect()
    }
}

/// `f` over the broadcast float values of `a` and `b`, as a tensor of `dtype`.
fn zip_float(
    dtype: DType,
    a: &Tensor,
    b: &Tensor,
    out: &[usize],
    f: impl Fn(f64, f64) -> f64,
) -> Result<Tensor, OpError> {
    let (sa, sb) = (a.shape(), b.shape());
    match (dtype, a.data(), b.data()) {
        (DType::F32, Data::F32(x), Data::F32(y)) => {
            let v = zip_broadcast((x, sa), (y, sb), out, |p, q| f(p as f64, q as f64) as f32);
            Tensor::new(DType::F32, out.to_vec(), Data::F32(v))
        }
        (DType::F64, Data::F64(x), Data::F64(y)) => {
            let v = zip_broadcast((x, sa), (y, sb), out, f);
            Tensor::new(DType::F64, out.to_vec(), Data::F64(v))
        }
        _ => {
            let (x, y) = (a.to_f64_vec(), b.to_f64_vec());
            let v = zip_broadcast((&x, sa), (&y, sb), out, f);
            Tensor::from_f64(dtype, out.to_vec(), &v)
        }
    }
}

/// `f` over the broadcast integer values of `a` and `b`, wrapped to `dtype`.
fn zip_int(
    dtype: DType,
    a: &Tensor,
    b: &Tensor,
    out: &[usize],
    f: impl Fn(i128, i128) -> i128,
) -> Result<Tensor, OpError> {
    let (x, y) = (a.to_i128_vec(), b.to_i128_vec());
    let v = zip_broadcast((&x, a.shape()), (&y, b.shape()), out, f);
    Tensor::from_i128(dtype, out.to_vec(), &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
    }

    #[test]
    fn where_broadcasts_all_three_inputs() {
        let cond = Tensor::from_bool(vec![2, 1], vec![true, false]).unwrap();
        let a = f32s(&[3], &[1.0, 2.0, 3.0]);
        let b = f32s(&[], &[-1.0]);
        let out = where_(&[Some(&cond), Some(&a), Some(&b)]).unwrap();
        assert_eq!(out[0].shape(), &[2, 3]);
        assert_eq!(out[0].as_f32().unwrap(), &[1.0, 2.0, 3.0, -1.0, -1.0, -1.0]);
    }

    #[test]
    fn where_rejects_a_non_bool_condition() {
        let a = f32s(&[1], &[1.0]);
        let err = where_(&[Some(&a), Some(&a), Some(&a)]).unwrap_err();
        assert!(err.0.contains("must be bool"), "{err}");
    }

    #[test]
    fn clip_propagates_nan_and_lets_max_win_over_min() {
        let x = f32s(&[4], &[-5.0, 0.5, 5.0, f32::NAN]);
        let (lo, hi) = (f32s(&[], &[0.0]), f32s(&[], &[1.0]));
        let out = clip(&[Some(&x), Some(&lo), Some(&hi)]).unwrap();
        let v = out[0].as_f32().unwrap();
        assert_eq!(&v[..3], &[0.0, 0.5, 1.0]);
        assert!(v[3].is_nan());
        let out = clip(&[Some(&x), Some(&hi), Some(&lo)]).unwrap();
        assert_eq!(&out[0].as_f32().unwrap()[..3], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn clip_on_integers_is_exact_and_bounds_are_optional() {
        let x = Tensor::from_i64(vec![3], vec![i64::MIN, 0, i64::MAX]).unwrap();
        let hi = Tensor::scalar_i64(7);
        let out = clip(&[Some(&x), None, Some(&hi)]).unwrap();
        assert_eq!(out[0].as_i64().unwrap(), &[i64::MIN, 0, 7]);
    }

    #[test]
    fn clip_rejects_a_bound_of_another_dtype() {
        let x = Tensor::from_i64(vec![1], vec![1]).unwrap();
        let lo = Tensor::scalar_f32(0.0);
        assert!(clip(&[Some(&x), Some(&lo)]).is_err());
    }
}
