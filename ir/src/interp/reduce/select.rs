//! ArgMax/ArgMin and TopK: choosing elements along one axis by order.

use super::single_i64;
use super::values::Values;
use crate::error::OpError;
use crate::interp::req;
use crate::interp::util::outer_axis_inner;
use crate::op::ArgKind;
use crate::op_bail;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;
use std::cmp::Ordering;

/// Orders two floats with NaN above every number (numpy's sort order).
fn nan_greatest(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Per output position, the index along `axis` of the largest (ArgMax) or smallest (ArgMin)
/// element; ties go to the first index, or the last with `select_last_index`. A NaN wins over
/// every number, as numpy's argmax and argmin return the first NaN.
pub fn arg_reduce(
    kind: ArgKind,
    axis: i64,
    keepdims: bool,
    select_last_index: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let axis = normalize_axis(axis, x.rank())?;
    let (outer, dim, inner) = outer_axis_inner(x.shape(), axis);
    if dim == 0 && outer * inner > 0 {
        op_bail!("{} over axis {axis} of size 0 has no result", kind.name());
    }
    let values = Values::of(x);
    // How candidate `a` compares with the best so far `b`: Greater means `a` is better.
    let preference = |a: usize, b: usize| -> Ordering {
        let by_value = match &values {
            Values::Float(v) => nan_greatest(v[a], v[b]),
            Values::Int(v) => v[a].cmp(&v[b]),
        };
        let nan_involved = matches!(&values, Values::Float(v) if v[a].is_nan() || v[b].is_nan());
        match kind {
            ArgKind::Max => by_value,
            ArgKind::Min if nan_involved => by_value,
            ArgKind::Min => by_value.reverse(),
        }
    };
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * dim + k) * inner + i;
            let mut best = 0;
            for k in 1..dim {
                let p = preference(at(k), at(best));
                if p == Ordering::Greater || (select_last_index && p == Ordering::Equal) {
                    best = k;
                }
            }
            out.push(best as i64);
        }
    }
    let mut shape = x.shape().to_vec();
    if keepdims {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    Ok(vec![Tensor::from_i64(shape, out)?])
}

/// The `k` largest (or smallest) elements along `axis` and their indices, best first; equal
/// elements keep index order. NaN sorts above every number, so it leads a `largest` result and
/// trails a smallest one, as in the ONNX reference. The result is always sorted (with
/// `sorted = false` any order is allowed, and this is one).
pub fn top_k(
    axis: i64,
    largest: bool,
    _sorted: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let k = single_i64(req(inputs, 1)?, "k")?;
    let axis = normalize_axis(axis, x.rank())?;
    let (outer, dim, inner) = outer_axis_inner(x.shape(), axis);
    let k = match usize::try_from(k) {
        Ok(k) if k <= dim => k,
        _ => op_bail!("k {k} is out of range for axis {axis} of size {dim}"),
    };
    let values = Values::of(x);
    let ascending = |a: usize, b: usize| -> Ordering {
        match &values {
            Values::Float(v) => nan_greatest(v[a], v[b]),
            Values::Int(v) => v[a].cmp(&v[b]),
        }
    };
    let n_out = outer * k * inner;
    let mut source = vec![0usize; n_out];
    let mut indices = vec![0i64; n_out];
    let mut lane: Vec<usize> = Vec::with_capacity(dim);
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * dim + j) * inner + i;
            lane.clear();
            lane.extend(0..dim);
            // A stable sort keeps equal elements in index order.
            if largest {
                lane.sort_by(|&a, &b| ascending(at(b), at(a)));
            } else {
                lane.sort_by(|&a, &b| ascending(at(a), at(b)));
            }
            for (r, &j) in lane[..k].iter().enumerate() {
                let pos = (o * k + r) * inner + i;
                source[pos] = at(j);
                indices[pos] = j as i64;
            }
        }
    }
    let mut shape = x.shape().to_vec();
    shape[axis] = k;
    Ok(vec![
        Tensor::new(x.dtype(), shape.clone(), x.data().gather(&source))?,
        Tensor::from_i64(shape, indices)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_puts_nan_first_when_largest_and_keeps_index_order_on_ties() {
        let x = Tensor::from_f32(vec![5], vec![1., f32::NAN, 3., 3., 0.]).unwrap();
        let k = Tensor::from_i64(vec![1], vec![3]).unwrap();
        let out = top_k(-1, true, true, &[Some(&x), Some(&k)]).unwrap();
        assert_eq!(out[1].as_i64().unwrap(), &[1, 2, 3]);
        let out = top_k(0, false, true, &[Some(&x), Some(&k)]).unwrap();
        assert_eq!(out[0].to_f64_vec(), vec![0., 1., 3.]);
        assert_eq!(out[1].as_i64().unwrap(), &[4, 0, 2]);
    }

    #[test]
    fn top_k_rejects_k_larger_than_the_axis() {
        let x = Tensor::from_f32(vec![2], vec![1., 2.]).unwrap();
        let k = Tensor::from_i64(vec![1], vec![3]).unwrap();
        let err = top_k(0, true, true, &[Some(&x), Some(&k)]).unwrap_err();
        assert!(err.0.contains("k 3"), "{err}");
    }

    #[test]
    fn arg_reduce_breaks_ties_by_select_last_index() {
        let x = Tensor::from_f32(vec![2, 3], vec![2., 5., 5., 1., 1., 0.]).unwrap();
        let first = arg_reduce(ArgKind::Max, 1, false, false, &[Some(&x)]).unwrap();
        assert_eq!(first[0].as_i64().unwrap(), &[1, 0]);
        let last = arg_reduce(ArgKind::Max, 1, true, true, &[Some(&x)]).unwrap();
        assert_eq!(last[0].shape(), &[2, 1]);
        assert_eq!(last[0].as_i64().unwrap(), &[2, 1]);
        let min = arg_reduce(ArgKind::Min, -1, false, true, &[Some(&x)]).unwrap();
        assert_eq!(min[0].as_i64().unwrap(), &[0, 2]);
    }
}
