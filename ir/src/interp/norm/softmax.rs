//! Softmax, LogSoftmax and Hardmax along one axis (or over the trailing axes flattened, the
//! opset < 13 rule), numerically stable by subtracting each lane's maximum.

use super::{Float, expect_float, nan_max, rounder};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::req;
use crate::interp::util::outer_axis_inner;
use crate::op::SoftmaxKind;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

pub fn softmax(
    kind: SoftmaxKind,
    axis: i64,
    coerce_2d: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    let shape = x.shape();
    let axis = normalize_axis(axis, shape.len())?;
    // (lanes before, lane length, stride between lane elements)
    let (outer, n, inner) = if coerce_2d {
        (
            shape[..axis].iter().product(),
            shape[axis..].iter().product(),
            1,
        )
    } else {
        outer_axis_inner(shape, axis)
    };
    let y = match x.dtype() {
        DType::F32 => Tensor::from_f32(
            shape.to_vec(),
            lanes(kind, &x.to_f32_vec(), outer, n, inner),
        )?,
        DType::F64 => Tensor::from_f64(
            DType::F64,
            shape.to_vec(),
            &lanes(kind, &x.to_f64_vec(), outer, n, inner),
        )?,
        narrow => {
            let out = narrow_lanes(kind, narrow, &x.to_f64_vec(), outer, n, inner);
            Tensor::from_f64(narrow, shape.to_vec(), &out)?
        }
    };
    Ok(vec![y])
}

/// Softmax of one row the way numpy computes it in the precision `round` emulates: rounding
/// after each step, and for bf16 (`sequential_sum`) after every addition of the sum. With
/// `zero_if_all_neg_inf`, a row whose maximum is -inf becomes all zeros (Attention's rule)
/// instead of NaN.
pub(super) fn softmax_row(
    row: &mut [f64],
    round: fn(f64) -> f64,
    sequential_sum: bool,
    zero_if_all_neg_inf: bool,
) {
    for r in row.iter_mut() {
        *r = round(*r);
    }
    let max = row.iter().copied().fold(f64::NEG_INFINITY, nan_max);
    let shift = if zero_if_all_neg_inf && max == f64::NEG_INFINITY {
        0.0
    } else {
        max
    };
    for r in row.iter_mut() {
        *r = round(round(*r - shift).exp());
    }
    let mut sum = if sequential_sum {
        row.iter().fold(0.0, |s, &r| round(s + r))
    } else {
        round(row.iter().sum())
    };
    if zero_if_all_neg_inf && sum == 0.0 {
        sum = 1.0;
    }
    for r in row.iter_mut() {
        *r = round(*r / sum);
    }
}

/// [`lanes`] for 16-bit (and narrower) floats, rounding where the ONNX reference (numpy in that
/// dtype) rounds, so results match it to the last bit rather than only within a unit.
fn narrow_lanes(
    kind: SoftmaxKind,
    dtype: DType,
    x: &[f64],
    outer: usize,
    n: usize,
    inner: usize,
) -> Vec<f64> {
    let round = rounder(dtype);
    let mut y = vec![0.0; x.len()];
    let mut lane = Vec::with_capacity(n);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            lane.clear();
            lane.extend((0..n).map(|k| x[base + k * inner]));
            match kind {
                SoftmaxKind::Hardmax => lane = hardmax_lane(&lane),
                SoftmaxKind::Softmax => softmax_row(&mut lane, round, dtype == DType::BF16, false),
                SoftmaxKind::LogSoftmax => {
                    softmax_row(&mut lane, round, dtype == DType::BF16, false);
                    lane.iter_mut().for_each(|v| *v = round(v.ln()));
                }
            }
            for (k, &v) in lane.iter().enumerate() {
                y[base + k * inner] = v;
            }
        }
    }
    y
}

/// Applies `kind` to every lane of `x`, laid out as `[outer, n, inner]`.
fn lanes<F: Float>(kind: SoftmaxKind, x: &[F], outer: usize, n: usize, inner: usize) -> Vec<F> {
    let mut y = vec![F::ZERO; x.len()];
    let mut lane = Vec::with_capacity(n);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            lane.clear();
            lane.extend((0..n).map(|k| x[base + k * inner]));
            let out = match kind {
                SoftmaxKind::Softmax => softmax_lane(&lane),
                SoftmaxKind::LogSoftmax => log_softmax_lane(&lane),
                SoftmaxKind::Hardmax => hardmax_lane(&lane),
            };
            for (k, v) in out.into_iter().enumerate() {
                y[base + k * inner] = v;
            }
        }
    }
    y
}

/// The lane's maximum; NaN if any element is NaN (numpy's `max`).
fn lane_max<F: Float>(lane: &[F]) -> F {
    let mut m = F::from_f64(f64::NEG_INFINITY);
    for &v in lane {
        if v.to_f64().is_nan() {
            return v;
        }
        if v > m {
            m = v;
        }
    }
    m
}

fn softmax_lane<F: Float>(lane: &[F]) -> Vec<F> {
    let m = lane_max(lane);
    let e: Vec<F> = lane.iter().map(|&v| (v - m).exp()).collect();
    let mut s = F::ZERO;
    for &v in &e {
        s += v;
    }
    e.into_iter().map(|v| v / s).collect()
}

fn log_softmax_lane<F: Float>(lane: &[F]) -> Vec<F> {
    let m = lane_max(lane);
    let mut s = F::ZERO;
    for &v in lane {
        s += (v - m).exp();
    }
    let log_s = s.ln();
    lane.iter().map(|&v| (v - m) - log_s).collect()
}

/// One at the first maximum (a NaN counts as the maximum, like numpy's `argmax`), zero elsewhere.
fn hardmax_lane<F: Float>(lane: &[F]) -> Vec<F> {
    let mut best: Option<usize> = None;
    for (k, &v) in lane.iter().enumerate() {
        if v.to_f64().is_nan() {
            best = Some(k);
            break;
        }
        if best.is_none_or(|b| v > lane[b]) {
            best = Some(k);
        }
    }
    let mut out = vec![F::ZERO; lane.len()];
    if let Some(b) = best {
        out[b] = F::from_f64(1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: SoftmaxKind, axis: i64, coerce_2d: bool, x: &Tensor) -> Vec<f32> {
        softmax(kind, axis, coerce_2d, &[Some(x)]).unwrap()[0].to_f32_vec()
    }

    #[test]
    fn softmax_is_stable_and_normalized() {
        let x = Tensor::from_f32(vec![2, 2], vec![1000.0, 1001.0, -5.0, -5.0]).unwrap();
        let y = run(SoftmaxKind::Softmax, -1, false, &x);
        let e = 1.0 / (1.0 + std::f32::consts::E);
        assert!((y[0] - e).abs() < 1e-6 && (y[1] - (1.0 - e)).abs() < 1e-6);
        assert_eq!(&y[2..], &[0.5, 0.5]);
    }

    #[test]
    fn coerce_2d_normalizes_over_all_trailing_axes() {
        let x = Tensor::from_f32(vec![1, 2, 2], vec![0.0; 4]).unwrap();
        assert_eq!(run(SoftmaxKind::Softmax, 1, true, &x), vec![0.25; 4]);
        assert_eq!(run(SoftmaxKind::Softmax, 1, false, &x), vec![0.5; 4]);
    }

    #[test]
    fn hardmax_marks_the_first_maximum() {
        let x = Tensor::from_f32(vec![2, 3], vec![1.0, 3.0, 3.0, 0.0, -1.0, 0.0]).unwrap();
        let y = run(SoftmaxKind::Hardmax, 1, false, &x);
        assert_eq!(y, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn log_softmax_matches_log_of_softmax() {
        let x = Tensor::from_f32(vec![3], vec![0.5, -1.0, 2.0]).unwrap();
        let s = run(SoftmaxKind::Softmax, 0, false, &x);
        let l = run(SoftmaxKind::LogSoftmax, 0, false, &x);
        for (a, b) in s.iter().zip(&l) {
            assert!((a.ln() - b).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_axis_is_an_error() {
        let x = Tensor::from_f32(vec![3], vec![0.0; 3]).unwrap();
        let err = softmax(SoftmaxKind::Softmax, 2, false, &[Some(&x)]).unwrap_err();
        assert!(err.0.contains("out of range"), "{err}");
    }
}
