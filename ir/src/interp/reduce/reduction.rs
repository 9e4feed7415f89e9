//! `Reduce*`: folds the elements of each group (the elements that differ only along the reduced
//! axes) into one value.

use super::values::{Values, int_bounds, max_f64, min_f64};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::{broadcast_indices, normalize_axes, opt_i64s};
use crate::interp::{opt, req};
use crate::op::ReduceKind;
use crate::op_bail;
use crate::tensor::Tensor;

/// Input 0 reduced over the axes of input 1 (all axes when absent or empty, none when empty and
/// `noop_with_empty_axes`). Reducing over no axes applies the per-element part of the reduction
/// (ReduceL2 gives `|x|`), as the ONNX reference does. An empty group reduces to the identity
/// of the fold: 0 for sums, 1 for products, the lowest value for Max, the highest for Min.
pub fn reduce(
    kind: ReduceKind,
    keepdims: bool,
    noop_with_empty_axes: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let rank = x.rank();
    let axes = match opt_i64s(opt(inputs, 1))? {
        Some(a) if !a.is_empty() => normalize_axes(&a, rank)?,
        _ if noop_with_empty_axes => Vec::new(),
        _ => (0..rank).collect(),
    };
    let is_reduced = |axis: usize| axes.contains(&axis);
    let kept_shape: Vec<usize> = (0..rank)
        .map(|a| if is_reduced(a) { 1 } else { x.shape()[a] })
        .collect();
    let out_shape: Vec<usize> = if keepdims {
        kept_shape.clone()
    } else {
        (0..rank)
            .filter(|&a| !is_reduced(a))
            .map(|a| x.shape()[a])
            .collect()
    };
    let groups = Groups {
        of_element: broadcast_indices(&kept_shape, x.shape()),
        count: kept_shape.iter().product(),
        size: axes.iter().map(|&a| x.shape()[a]).product(),
    };
    let out = match Values::of(x) {
        Values::Float(v) => Values::Float(reduce_float(kind, &v, &groups)),
        Values::Int(v) => Values::Int(reduce_int(kind, &v, &groups, x.dtype())?),
    };
    Ok(vec![out.into_tensor(x.dtype(), out_shape)?])
}

/// Which output element each input element folds into.
struct Groups {
    /// Per input element (row-major), its group's index.
    of_element: Vec<usize>,
    /// The number of groups (output elements).
    count: usize,
    /// The number of input elements per group.
    size: usize,
}

fn reduce_float(kind: ReduceKind, x: &[f64], groups: &Groups) -> Vec<f64> {
    let (init, step): (f64, fn(f64, f64) -> f64) = match kind {
        ReduceKind::Sum | ReduceKind::Mean | ReduceKind::LogSum => (0.0, |a, v| a + v),
        ReduceKind::Prod => (1.0, |a, v| a * v),
        ReduceKind::Max => (f64::NEG_INFINITY, max_f64),
        ReduceKind::Min => (f64::INFINITY, min_f64),
        ReduceKind::L1 => (0.0, |a, v| a + v.abs()),
        ReduceKind::L2 | ReduceKind::SumSquare => (0.0, |a, v| a + v * v),
        ReduceKind::LogSumExp => (0.0, |a, v| a + v.exp()),
    };
    // LogSumExp sums exp(x - m) with m the group's largest finite element, so exp cannot
    // overflow; the result adds m back.
    let shift = (kind == ReduceKind::LogSumExp).then(|| largest_finite(x, groups));
    let mut acc = vec![init; groups.count];
    for (&v, &g) in x.iter().zip(&groups.of_element) {
        let v = shift.as_ref().map_or(v, |s| v - s[g]);
        acc[g] = step(acc[g], v);
    }
    let size = groups.size as f64;
    acc.iter()
        .enumerate()
        .map(|(g, &a)| match kind {
            ReduceKind::Mean => a / size,
            ReduceKind::L2 => a.sqrt(),
            ReduceKind::LogSum => a.ln(),
            ReduceKind::LogSumExp => shift.as_ref().map_or(0.0, |s| s[g]) + a.ln(),
            ReduceKind::Sum
            | ReduceKind::Prod
            | ReduceKind::Max
            | ReduceKind::Min
            | ReduceKind::L1
            | ReduceKind::SumSquare => a,
        })
        .collect()
}

/// Per group, its largest finite element, or 0 when it has none.
fn largest_finite(x: &[f64], groups: &Groups) -> Vec<f64> {
    let mut m = vec![f64::NEG_INFINITY; groups.count];
    for (&v, &g) in x.iter().zip(&groups.of_element) {
        if v.is_finite() && v > m[g] {
            m[g] = v;
        }
    }
    m.iter()
        .map(|&v| if v.is_finite() { v } else { 0.0 })
        .collect()
}

/// Integer (and bool) reductions, wrapping like the dtype's arithmetic: i128 sums and products
/// wrap modulo 2^128, which agrees with any narrower width after the final wrap.
fn reduce_int(
    kind: ReduceKind,
    x: &[i128],
    groups: &Groups,
    dtype: DType,
) -> Result<Vec<i128>, OpError> {
    let (lowest, highest) = int_bounds(dtype);
    let (init, step): (i128, fn(i128, i128) -> i128) = match kind {
        ReduceKind::Sum | ReduceKind::Mean => (0, i128::wrapping_add),
        ReduceKind::Prod => (1, i128::wrapping_mul),
        ReduceKind::Max => (lowest, i128::max),
        ReduceKind::Min => (highest, i128::min),
        ReduceKind::L1 => (0, |a, v| a.wrapping_add(v.wrapping_abs())),
        ReduceKind::L2 | ReduceKind::SumSquare => (0, |a, v| a.wrapping_add(v.wrapping_mul(v))),
        ReduceKind::LogSum | ReduceKind::LogSumExp => {
            op_bail!("{} needs a float input, got {dtype}", kind.name())
        }
    };
    let mut acc = vec![init; groups.count];
    for (&v, &g) in x.iter().zip(&groups.of_element) {
        acc[g] = step(acc[g], v);
    }
    let size = groups.size as i128;
    Ok(acc
        .into_iter()
        .map(|a| match kind {
            // Integer division truncates toward zero, as numpy's mean cast back to int does.
            ReduceKind::Mean if size > 0 => a / size,
            ReduceKind::Mean => 0,
            // The float square root truncated back to an integer (NaN, from a wrapped negative
            // sum, casts to 0).
            ReduceKind::L2 => (a as f64).sqrt() as i128,
            ReduceKind::Sum
            | ReduceKind::Prod
            | ReduceKind::Max
            | ReduceKind::Min
            | ReduceKind::L1
            | ReduceKind::SumSquare
            | ReduceKind::LogSum
            | ReduceKind::LogSumExp => a,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: ReduceKind, keepdims: bool, x: &Tensor, axes: Option<Vec<i64>>) -> Tensor {
        let axes = axes.map(|a| Tensor::from_i64(vec![a.len()], a).unwrap());
        reduce(kind, keepdims, false, &[Some(x), axes.as_ref()])
            .unwrap()
            .remove(0)
    }

    #[test]
    fn reduces_listed_axes_and_drops_them_without_keepdims() {
        let x = Tensor::from_f32(vec![2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let rows = run(ReduceKind::Sum, false, &x, Some(vec![-1]));
        assert_eq!(rows.shape(), &[2]);
        assert_eq!(rows.to_f64_vec(), vec![6., 15.]);
        let cols = run(ReduceKind::Max, true, &x, Some(vec![0]));
        assert_eq!(cols.shape(), &[1, 3]);
        assert_eq!(cols.to_f64_vec(), vec![4., 5., 6.]);
        let all = run(ReduceKind::Mean, false, &x, None);
        assert_eq!(all.shape(), &[] as &[usize]);
        assert_eq!(all.to_f64_vec(), vec![3.5]);
    }

    #[test]
    fn empty_groups_give_the_identity_of_the_fold() {
        let x = Tensor::new(DType::I32, vec![2, 0], crate::tensor::Data::I32(vec![])).unwrap();
        let max = run(ReduceKind::Max, false, &x, Some(vec![1]));
        assert_eq!(max.to_i128_vec(), vec![i32::MIN as i128; 2]);
        let prod = run(ReduceKind::Prod, false, &x, Some(vec![1]));
        assert_eq!(prod.to_i128_vec(), vec![1, 1]);
        let f = Tensor::from_f32(vec![0, 2], vec![]).unwrap();
        let log_sum = run(ReduceKind::LogSum, true, &f, Some(vec![0]));
        assert_eq!(log_sum.to_f64_vec(), vec![f64::NEG_INFINITY; 2]);
    }

    #[test]
    fn log_sum_exp_does_not_overflow() {
        let x = Tensor::from_f32(vec![2], vec![1000., 1000.]).unwrap();
        let y = run(ReduceKind::LogSumExp, false, &x, None).to_f64_vec();
        assert!((y[0] - (1000. + 2f64.ln())).abs() < 1e-3);
    }

    #[test]
    fn empty_axes_with_noop_keep_the_input() {
        let x = Tensor::from_f32(vec![2], vec![-1., 2.]).unwrap();
        let axes = Tensor::from_i64(vec![0], vec![]).unwrap();
        let y = reduce(ReduceKind::Sum, true, true, &[Some(&x), Some(&axes)]).unwrap();
        assert_eq!(y[0], x);
    }

    #[test]
    fn bad_axes_are_errors() {
        let x = Tensor::from_f32(vec![2], vec![1., 2.]).unwrap();
        let axes = Tensor::from_i64(vec![1], vec![3]).unwrap();
        let err = reduce(ReduceKind::Sum, true, false, &[Some(&x), Some(&axes)]).unwrap_err();
        assert!(err.0.contains("axis 3"), "{err}");
    }
}
