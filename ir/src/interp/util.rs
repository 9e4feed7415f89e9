//! Index arithmetic shared by kernels: broadcasting maps and axis splitting.

use crate::error::OpError;
use crate::shape::normalize_axis;
use crate::tensor::{Tensor, strides};

/// For each element (row-major) of the broadcast shape `out`, the flat index of the element of
/// a tensor of shape `shape` that numpy broadcasting reads there.
pub fn broadcast_indices(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let n: usize = out.iter().product();
    if shape == out {
        return (0..n).collect();
    }
    let offset = out.len() - shape.len();
    let in_strides = strides(shape);
    // The stride each output axis advances the input index by (0 on broadcast axes).
    let step: Vec<usize> = (0..out.len())
        .map(|i| {
            if i < offset || shape[i - offset] == 1 {
                0
            } else {
                in_strides[i - offset]
            }
        })
        .collect();
    let mut idx = Vec::with_capacity(n);
    let mut counter = vec![0usize; out.len()];
    let mut cur = 0usize;
    for _ in 0..n {
        idx.push(cur);
        for ax in (0..out.len()).rev() {
            counter[ax] += 1;
            cur += step[ax];
            if counter[ax] < out[ax] {
                break;
            }
            cur -= step[ax] * counter[ax];
            counter[ax] = 0;
        }
    }
    idx
}

/// Splits `shape` around `axis` into (product before, size of axis, product after).
pub fn outer_axis_inner(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Resolves a list of possibly negative axes against `rank`, rejecting duplicates.
pub fn normalize_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, OpError> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let n = normalize_axis(a, rank)?;
        if out.contains(&n) {
            return Err(OpError::new(format!("axis {a} is repeated")));
        }
        out.push(n);
    }
    Ok(out)
}

/// The i64 values of an optional index-like input (axes, pads...), or `None` when omitted.
pub fn opt_i64s(t: Option<&Tensor>) -> Result<Option<Vec<i64>>, OpError> {
    t.map(|t| t.to_i64_vec()).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_indices_repeat_along_broadcast_axes() {
        assert_eq!(broadcast_indices(&[3], &[2, 3]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(broadcast_indices(&[2, 1], &[2, 3]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(broadcast_indices(&[], &[2]), vec![0, 0]);
    }
}
