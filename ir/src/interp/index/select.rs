//! NonZero and Compress (selection by a condition) and ReverseSequence (per-batch reversal).

use super::{coordinate, index_values};
use crate::error::OpError;
use crate::interp::req;
use crate::interp::util::outer_axis_inner;
use crate::op_bail;
use crate::shape::normalize_axis;
use crate::tensor::{Tensor, strides};

/// The coordinates of the non-zero elements (NaN counts as non-zero), as i64 `[rank, n]` in
/// row-major order.
pub fn non_zero(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let shape = x.shape();
    let st = strides(shape);
    let hits: Vec<usize> = x
        .to_bool_vec()
        .iter()
        .enumerate()
        .filter_map(|(p, &nz)| nz.then_some(p))
        .collect();
    let n = hits.len();
    let mut out = vec![0i64; shape.len() * n];
    for (j, &p) in hits.iter().enumerate() {
        for d in 0..shape.len() {
            out[d * n + j] = coordinate(p, &st, shape, d) as i64;
        }
    }
    Ok(vec![Tensor::from_i64(vec![shape.len(), n], out)?])
}

/// The slices along `axis` (of the flattened input when `axis` is `None`) whose entry in the 1-D
/// `condition` is true. A condition shorter than the axis leaves the rest out; a longer one may
/// only hold false beyond the axis.
pub fn compress(axis: Option<i64>, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let condition = req(inputs, 1)?;
    if condition.rank() != 1 {
        op_bail!("condition must be 1-D, got shape {:?}", condition.shape());
    }
    let (outer, dim, inner, axis) = match axis {
        None => (1, x.len(), 1, None),
        Some(a) => {
            let a = normalize_axis(a, x.rank())?;
            let (outer, dim, inner) = outer_axis_inner(x.shape(), a);
            (outer, dim, inner, Some(a))
        }
    };
    let keep: Vec<usize> = condition
        .to_bool_vec()
        .iter()
        .enumerate()
        .filter_map(|(k, &c)| c.then_some(k))
        .collect();
    if let Some(&k) = keep.iter().find(|&&k| k >= dim) {
        op_bail!("condition selects entry {k}, out of range for dim {dim}");
    }
    let mut source = Vec::with_capacity(outer * keep.len() * inner);
    for o in 0..outer {
        for &k in &keep {
            let base = (o * dim + k) * inner;
            source.extend(base..base + inner);
        }
    }
    let shape = match axis {
        None => vec![keep.len()],
        Some(a) => {
            let mut s = x.shape().to_vec();
            s[a] = keep.len();
            s
        }
    };
    Ok(vec![Tensor::new(
        x.dtype(),
        shape,
        x.data().gather(&source),
    )?])
}

/// For each batch entry `b`, the first `sequence_lens[b]` steps along `time_axis` reversed; the
/// remaining steps are copied unchanged.
pub fn reverse_sequence(
    batch_axis: i64,
    time_axis: i64,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let lens = req(inputs, 1)?;
    if x.rank() < 2 {
        op_bail!("input must have rank at least 2, got shape {:?}", x.shape());
    }
    let batch_axis = normalize_axis(batch_axis, x.rank())?;
    let time_axis = normalize_axis(time_axis, x.rank())?;
    if batch_axis == time_axis {
        op_bail!("batch_axis and time_axis are both axis {batch_axis}");
    }
    let shape = x.shape();
    let (batch, time) = (shape[batch_axis], shape[time_axis]);
    let lens = index_values(lens, "sequence_lens")?;
    if lens.len() != batch {
        op_bail!(
            "sequence_lens has {} entries, the batch axis {batch_axis} has size {batch}",
            lens.len()
        );
    }
    let lens = lens
        .into_iter()
        .map(|l| match usize::try_from(l) {
            Ok(l) if l <= time => Ok(l),
            _ => Err(crate::op_err!(
                "sequence_lens value {l} is out of range for time dim {time}"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let st = strides(shape);
    let source: Vec<usize> = (0..x.len())
        .map(|p| {
            let b = coordinate(p, &st, shape, batch_axis);
            let t = coordinate(p, &st, shape, time_axis);
            let len = lens[b];
            if t < len {
                p - t * st[time_axis] + (len - 1 - t) * st[time_axis]
            } else {
                p
            }
        })
        .collect();
    Ok(vec![Tensor::new(
        x.dtype(),
        shape.to_vec(),
        x.data().gather(&source),
    )?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_zero_lists_coordinates_per_axis() {
        let x = Tensor::from_f32(vec![2, 2], vec![0., f32::NAN, 3., 0.]).unwrap();
        let y = non_zero(&[Some(&x)]).unwrap().remove(0);
        assert_eq!(y.shape(), &[2, 2]);
        assert_eq!(y.as_i64().unwrap(), &[0, 1, 1, 0]);
    }

    #[test]
    fn compress_selects_slices_and_rejects_selections_past_the_axis() {
        let x = Tensor::from_f32(vec![2, 2], vec![1., 2., 3., 4.]).unwrap();
        let cond = Tensor::from_bool(vec![2], vec![false, true]).unwrap();
        let y = compress(Some(0), &[Some(&x), Some(&cond)])
            .unwrap()
            .remove(0);
        assert_eq!(y.shape(), &[1, 2]);
        assert_eq!(y.to_f64_vec(), vec![3., 4.]);
        let flat = compress(None, &[Some(&x), Some(&cond)]).unwrap().remove(0);
        assert_eq!(flat.to_f64_vec(), vec![2.]);
        let long = Tensor::from_bool(vec![3], vec![false, false, true]).unwrap();
        assert!(compress(Some(1), &[Some(&x), Some(&long)]).is_err());
    }

    #[test]
    fn reverse_sequence_reverses_each_prefix() {
        // time axis 0 (3 steps), batch axis 1 (2 entries)
        let x = Tensor::from_f32(vec![3, 2], vec![0., 10., 1., 11., 2., 12.]).unwrap();
        let lens = Tensor::from_i64(vec![2], vec![3, 2]).unwrap();
        let y = reverse_sequence(1, 0, &[Some(&x), Some(&lens)])
            .unwrap()
            .remove(0);
        assert_eq!(y.to_f64_vec(), vec![2., 11., 1., 10., 0., 12.]);
        let bad = Tensor::from_i64(vec![2], vec![4, 0]).unwrap();
        let err = reverse_sequence(1, 0, &[Some(&x), Some(&bad)]).unwrap_err();
        assert!(err.0.contains("value 4"), "{err}");
    }
}
