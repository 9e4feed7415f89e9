//! Set operations over tensor elements or slices: Unique.

use super::req;
use crate::error::OpError;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;
use std::cmp::Ordering;

/// Groups of equal slices: `representative[g]` is the first slice index of group `g`,
/// `inverse[s]` the group of slice `s`, `counts[g]` its size. Groups come in ascending slice
/// order when `sorted`, else in order of first occurrence.
struct Groups {
    representative: Vec<usize>,
    inverse: Vec<usize>,
    counts: Vec<usize>,
}

fn group_slices<T>(slices: &[Vec<T>], sorted: bool, cmp: impl Fn(&T, &T) -> Ordering) -> Groups {
    let cmp_slices = |a: &[T], b: &[T]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| cmp(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    let mut order: Vec<usize> = (0..slices.len()).collect();
    // Stable: within a run of equal slices the first occurrence leads.
    order.sort_by(|&a, &b| cmp_slices(&slices[a], &slices[b]));
    let mut representative = Vec::new();
    let mut inverse = vec![0; slices.len()];
    let mut counts = Vec::new();
    for (k, &s) in order.iter().enumerate() {
        let starts_group = k == 0 || cmp_slices(&slices[order[k - 1]], &slices[s]).is_ne();
        if starts_group {
            representative.push(s);
            counts.push(0);
        }
        inverse[s] = representative.len() - 1;
        counts[representative.len() - 1] += 1;
    }
    if !sorted {
        let mut by_first: Vec<usize> = (0..representative.len()).collect();
        by_first.sort_by_key(|&g| representative[g]);
        let mut new_id = vec![0; by_first.len()];
        for (new, &old) in by_first.iter().enumerate() {
            new_id[old] = new;
        }
        representative = by_first.iter().map(|&g| representative[g]).collect();
        counts = by_first.iter().map(|&g| counts[g]).collect();
        inverse.iter_mut().for_each(|g| *g = new_id[*g]);
    }
    Groups {
        representative,
        inverse,
        counts,
    }
}

/// The slices along the middle axis of a `[outer, n, inner]` view, each as `outer * inner`
/// values.
fn slices_of<T: Copy>(values: &[T], outer: usize, n: usize, inner: usize) -> Vec<Vec<T>> {
    (0..n)
        .map(|j| {
            (0..outer)
                .flat_map(|o| values[(o * n + j) * inner..][..inner].iter().copied())
                .collect()
        })
        .collect()
}

fn i64_tensor(v: &[usize]) -> Result<Tensor, OpError> {
    Tensor::from_i64(vec![v.len()], v.iter().map(|&x| x as i64).collect())
}

/// inputs: x; outputs: y, indices, inverse_indices, counts (the last three i64).
pub fn unique(
    axis: Option<i64>,
    sorted: bool,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let (outer, n, inner, axis) = match axis {
        None => (1, x.len(), 1, None),
        Some(a) => {
            let a = normalize_axis(a, x.rank())?;
            let s = x.shape();
            (
                s[..a].iter().product(),
                s[a],
                s[a + 1..].iter().product(),
                Some(a),
            )
        }
    };
    let groups = if x.dtype().is_float() {
        let slices = slices_of(&x.to_f64_vec(), outer, n, inner);
        group_slices(&slices, sorted, f64::total_cmp)
    } else {
        let slices = slices_of(&x.to_i128_vec(), outer, n, inner);
        group_slices(&slices, sorted, i128::cmp)
    };
    let kept = groups.representative.len();
    let flat_indices: Vec<usize> = (0..outer)
        .flat_map(|o| {
            groups
                .representative
                .iter()
                .flat_map(move |&j| (0..inner).map(move |i| (o * n + j) * inner + i))
        })
        .collect();
    let y_shape = match axis {
        None => vec![kept],
        Some(a) => {
            let mut s = x.shape().to_vec();
            s[a] = kept;
            s
        }
    };
    let y = Tensor::new(x.dtype(), y_shape, x.data().gather(&flat_indices))?;
    let mut outputs = vec![
        y,
        i64_tensor(&groups.representative)?,
        i64_tensor(&groups.inverse)?,
        i64_tensor(&groups.counts)?,
    ];
    outputs.truncate(n_outputs.max(1));
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsorted_unique_keeps_first_occurrence_order() {
        let x = Tensor::from_i64(vec![5], vec![3, 1, 3, 2, 1]).unwrap();
        let out = unique(None, false, &[Some(&x)], 4).unwrap();
        let ints = |i: usize| out[i].to_i64_vec().unwrap();
        assert_eq!(ints(0), vec![3, 1, 2]);
        assert_eq!(ints(1), vec![0, 1, 3]);
        assert_eq!(ints(2), vec![0, 1, 0, 2, 1]);
        assert_eq!(ints(3), vec![2, 2, 1]);
    }

    #[test]
    fn unique_rows_along_an_axis() {
        let x = Tensor::from_f32(vec![3, 2], vec![1.0, 2.0, 0.0, 5.0, 1.0, 2.0]).unwrap();
        let out = unique(Some(0), true, &[Some(&x)], 1).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].shape(), &[2, 2]);
        assert_eq!(out[0].to_f32_vec(), vec![0.0, 5.0, 1.0, 2.0]);
    }

    #[test]
    fn bad_axis_is_an_error() {
        let x = Tensor::from_i64(vec![2], vec![1, 2]).unwrap();
        assert!(unique(Some(3), true, &[Some(&x)], 1).is_err());
    }
}
