//! Resolution of the index-like inputs of layout ops (reshape targets, slice bounds, split
//! sizes, pads, permutations), shared by the kernels and the shape rules so both read the spec
//! the same way.

use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::normalize_axes;
use crate::tensor::Tensor;
use crate::{op_bail, op_err};

/// Formats a list as `[2,3]`, the way shapes print in messages.
pub fn list<T: std::fmt::Display>(v: &[T]) -> String {
    let parts: Vec<String> = v.iter().map(T::to_string).collect();
    format!("[{}]", parts.join(","))
}

/// Checks that `perm` is a permutation of `0..rank`.
pub fn check_perm(perm: &[usize], rank: usize) -> Result<(), OpError> {
    let mut seen = vec![false; rank];
    let ok = perm.len() == rank
        && perm
            .iter()
            .all(|&p| p < rank && !std::mem::replace(&mut seen[p], true));
    if !ok {
        op_bail!("perm {} is not a permutation of 0..{rank}", list(perm));
    }
    Ok(())
}

/// The permutation `Transpose` applies: `perm`, or the reversed axes when absent.
pub fn resolve_perm(perm: Option<&[usize]>, rank: usize) -> Result<Vec<usize>, OpError> {
    match perm {
        Some(p) => {
            check_perm(p, rank)?;
            Ok(p.to_vec())
        }
        None => Ok((0..rank).rev().collect()),
    }
}

/// One entry of a `Reshape` target, with `0` already resolved against the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReshapeEntry {
    /// A size given by the target (or by `allowzero` zeros).
    Size(usize),
    /// A `0` entry: copies input dim `i`.
    Copy(usize),
    /// The one `-1` entry, inferred from the element count.
    Infer,
}

/// Parses a `Reshape` target against an input of rank `in_rank`.
pub fn reshape_entries(
    target: &[i64],
    in_rank: usize,
    allowzero: bool,
) -> Result<Vec<ReshapeEntry>, OpError> {
    let mut entries = Vec::with_capacity(target.len());
    let mut inferred = false;
    let shown = list(target);
    for (i, &t) in target.iter().enumerate() {
        entries.push(match t {
            -1 if inferred => op_bail!("shape {shown} has more than one -1"),
            -1 => {
                inferred = true;
                ReshapeEntry::Infer
            }
            0 if !allowzero => {
                if i >= in_rank {
                    op_bail!(
                        "shape {shown} copies dim {i} (a 0 entry), but the input has rank {in_rank}"
                    );
                }
                ReshapeEntry::Copy(i)
            }
            t if t >= 0 => ReshapeEntry::Size(t as usize),
            t => op_bail!("shape {shown} has invalid entry {t}"),
        });
    }
    if allowzero && inferred && target.contains(&0) {
        op_bail!("shape {shown} has both 0 and -1 with allowzero set, so -1 is ambiguous");
    }
    Ok(entries)
}

/// The concrete output shape of `Reshape` of an input of shape `input`.
pub fn reshape_shape(
    input: &[usize],
    target: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, OpError> {
    let entries = reshape_entries(target, input.len(), allowzero)?;
    let (shown_in, shown_target) = (list(input), list(target));
    let total: usize = input.iter().product();
    let sizes: Vec<Option<usize>> = entries
        .iter()
        .map(|e| match *e {
            ReshapeEntry::Size(n) => Some(n),
            ReshapeEntry::Copy(i) => Some(input[i]),
            ReshapeEntry::Infer => None,
        })
        .collect();
    let known = sizes
        .iter()
        .flatten()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| op_err!("shape {shown_target} has too many elements"))?;
    if sizes.iter().any(Option::is_none) {
        if known == 0 || !total.is_multiple_of(known) {
            op_bail!(
                "cannot reshape {shown_in} ({total} elements) to {shown_target}: {total} is not a multiple of {known}"
            );
        }
        let inferred = total / known;
        return Ok(sizes.into_iter().map(|d| d.unwrap_or(inferred)).collect());
    }
    let out: Vec<usize> = sizes.into_iter().flatten().collect();
    if known != total {
        op_bail!(
            "cannot reshape {shown_in} ({total} elements) to {} ({known} elements)",
            list(&out)
        );
    }
    Ok(out)
}

/// The `Flatten` axis in `0..=rank`.
pub fn flatten_axis(axis: i64, rank: usize) -> Result<usize, OpError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        op_bail!(
            "axis {axis} is out of range for Flatten of rank {rank} (allowed -{rank}..={rank})"
        );
    }
    Ok(a as usize)
}

/// One sliced axis: the first index read, the step, and how many elements are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceAxis {
    pub axis: usize,
    pub start: i64,
    pub step: i64,
    pub count: usize,
}

/// The raw `Slice` parameters of one axis, before clamping to its dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceSpec {
    pub axis: usize,
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

/// Pairs `starts`/`ends` with their axes (default `0..n`) and steps (default 1).
pub fn slice_specs(
    rank: usize,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Vec<SliceSpec>, OpError> {
    if starts.len() != ends.len() {
        op_bail!(
            "starts has {} entries but ends has {}",
            starts.len(),
            ends.len()
        );
    }
    let axes = match axes {
        Some(a) if a.len() != starts.len() => {
            op_bail!(
                "axes has {} entries but starts has {}",
                a.len(),
                starts.len()
            )
        }
        Some(a) => normalize_axes(a, rank)?,
        None if starts.len() > rank => {
            op_bail!(
                "starts has {} entries, more than the rank {rank}",
                starts.len()
            )
        }
        None => (0..starts.len()).collect(),
    };
    if let Some(s) = steps {
        if s.len() != starts.len() {
            op_bail!(
                "steps has {} entries but starts has {}",
                s.len(),
                starts.len()
            );
        }
        if s.contains(&0) {
            op_bail!("steps {} contain 0", list(s));
        }
    }
    Ok((0..starts.len())
        .map(|i| SliceSpec {
            axis: axes[i],
            start: starts[i],
            end: ends[i],
            step: steps.map_or(1, |s| s[i]),
        })
        .collect())
}

/// Clamps one slice to a dim of size `dim`, as the spec does: negative bounds count from the
/// end, then starts/ends clamp to `[0, dim]` (forward) or `[-1, dim-1]` (backward).
pub fn clamp_slice(spec: SliceSpec, dim: usize) -> SliceAxis {
    let d = dim as i128;
    let wrap = |x: i64| if x < 0 { x as i128 + d } else { x as i128 };
    let (start, end) = (wrap(spec.start), wrap(spec.end));
    let step = spec.step as i128;
    let (start, count) = if step > 0 {
        let (s, e) = (start.max(0).min(d), end.max(0).min(d));
        (s, if e > s { (e - s + step - 1) / step } else { 0 })
    } else {
        let (s, e) = (start.max(0).min(d - 1), end.max(-1).min(d - 1));
        (s, if s > e { (s - e - step - 1) / -step } else { 0 })
    };
    SliceAxis {
        axis: spec.axis,
        start: start.max(0) as i64,
        step: spec.step,
        count: count as usize,
    }
}

/// The sizes `Split` cuts a dim of `dim` into: `split` when given, else `parts` chunks of
/// `ceil(dim / parts)` with a smaller last one.
pub fn split_sizes(dim: usize, split: Option<&[i64]>, parts: usize) -> Result<Vec<usize>, OpError> {
    if let Some(split) = split {
        let sizes = split
            .iter()
            .map(|&s| {
                usize::try_from(s).map_err(|_| op_err!("split {} has a negative size", list(split)))
            })
            .collect::<Result<Vec<usize>, OpError>>()?;
        let sum: usize = sizes.iter().sum();
        if sum != dim {
            op_bail!(
                "split {} sums to {sum}, but the axis has size {dim}",
                list(split)
            );
        }
        return Ok(sizes);
    }
    if parts == 0 {
        op_bail!("cannot split into 0 parts");
    }
    let chunk = dim.div_ceil(parts);
    if chunk * (parts - 1) > dim {
        op_bail!(
            "cannot split a dim of size {dim} into {parts} parts of {chunk} and a smaller last one"
        );
    }
    let mut sizes = vec![chunk; parts];
    sizes[parts - 1] = dim - chunk * (parts - 1);
    Ok(sizes)
}

/// The (begin, end) padding of every axis: `pads` lists all begins then all ends for `axes`
/// (default: every axis). Negative values crop.
pub fn pad_amounts(
    rank: usize,
    pads: &[i64],
    axes: Option<&[i64]>,
) -> Result<Vec<(i64, i64)>, OpError> {
    let axes = match axes {
        Some(a) => normalize_axes(a, rank)?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        op_bail!(
            "pads has {} entries, expected {} (begin and end for {} axes)",
            pads.len(),
            2 * axes.len(),
            axes.len()
        );
    }
    let mut out = vec![(0, 0); rank];
    for (i, &a) in axes.iter().enumerate() {
        out[a] = (pads[i], pads[axes.len() + i]);
    }
    Ok(out)
}

/// The size of an axis of `dim` after padding by `(begin, end)`.
pub fn padded_dim(dim: usize, (begin, end): (i64, i64)) -> Result<usize, OpError> {
    let n = dim as i128 + begin as i128 + end as i128;
    usize::try_from(n).map_err(|_| op_err!("pads ({begin}, {end}) crop more than the dim {dim}"))
}

/// The element count of `Range`: `max(ceil((limit - start) / delta), 0)`, after checking that
/// the three inputs are numeric scalars of one dtype.
pub fn range_count(start: &Tensor, limit: &Tensor, delta: &Tensor) -> Result<usize, OpError> {
    let dtype = start.dtype();
    if limit.dtype() != dtype || delta.dtype() != dtype {
        op_bail!(
            "start, limit and delta must share a dtype, got {dtype}, {} and {}",
            limit.dtype(),
            delta.dtype()
        );
    }
    if dtype == DType::Bool {
        op_bail!("Range does not accept bool inputs");
    }
    for (t, what) in [(start, "start"), (limit, "limit"), (delta, "delta")] {
        if t.len() != 1 {
            op_bail!("{what} must be a scalar, got shape {}", list(t.shape()));
        }
    }
    if dtype.is_float() {
        let [s, l, d] = [start, limit, delta].map(|t| t.to_f64_vec()[0]);
        let count = ((l - s) / d).ceil();
        if d == 0.0 || !count.is_finite() {
            op_bail!("range from {s} to {l} by {d} has no finite length");
        }
        // Saturating: absurd counts are rejected by the caller's size limit.
        return Ok(count.max(0.0) as usize);
    }
    let [s, l, d] = [start, limit, delta].map(|t| t.to_i128_vec()[0]);
    if d == 0 {
        op_bail!("delta must not be 0");
    }
    let span = l - s;
    let count = if span != 0 && (span > 0) == (d > 0) {
        // ceil(span / d) for span and d of one sign.
        (span + d - d.signum()) / d
    } else {
        0
    };
    usize::try_from(count).map_err(|_| op_err!("range has {count} elements"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_copies_zeros_and_infers_minus_one() {
        assert_eq!(
            reshape_shape(&[2, 3, 4], &[0, -1], false).unwrap(),
            vec![2, 12]
        );
        assert_eq!(reshape_shape(&[0, 3], &[3, 0], true).unwrap(), vec![3, 0]);
        let e = reshape_shape(&[2, 3], &[4, 2], false).unwrap_err();
        assert_eq!(
            e.0,
            "cannot reshape [2,3] (6 elements) to [4,2] (8 elements)"
        );
        assert!(reshape_shape(&[2, 3], &[-1, -1], false).is_err());
        assert!(reshape_shape(&[2, 3], &[4, -1], false).is_err());
    }

    #[test]
    fn slices_clamp_like_the_spec() {
        let spec = |start, end, step| SliceSpec {
            axis: 0,
            start,
            end,
            step,
        };
        let c = clamp_slice(spec(1, i64::MAX, 1), 5);
        assert_eq!((c.start, c.count), (1, 4));
        let c = clamp_slice(spec(-1, i64::MIN, -1), 5);
        assert_eq!((c.start, c.count), (4, 5));
        let c = clamp_slice(spec(10, 20, 2), 5);
        assert_eq!(c.count, 0);
        let c = clamp_slice(spec(20, 0, -2), 5);
        assert_eq!((c.start, c.count), (4, 2));
        assert_eq!(clamp_slice(spec(0, -1, -1), 0).count, 0);
    }

    #[test]
    fn split_sizes_follow_num_outputs() {
        assert_eq!(split_sizes(7, None, 3).unwrap(), vec![3, 3, 1]);
        assert_eq!(split_sizes(6, None, 3).unwrap(), vec![2, 2, 2]);
        assert!(split_sizes(5, Some(&[2, 2]), 2).is_err());
        assert!(split_sizes(5, None, 4).is_err());
    }

    #[test]
    fn range_counts_round_up() {
        let i = |v: i64| Tensor::scalar_i64(v);
        assert_eq!(range_count(&i(10), &i(4), &i(-2)).unwrap(), 3);
        assert_eq!(range_count(&i(3), &i(9), &i(3)).unwrap(), 2);
        assert_eq!(range_count(&i(3), &i(10), &i(3)).unwrap(), 3);
        assert_eq!(range_count(&i(9), &i(3), &i(3)).unwrap(), 0);
        let f = |v: f32| Tensor::scalar_f32(v);
        assert_eq!(range_count(&f(1.0), &f(2.0), &f(0.3)).unwrap(), 4);
        assert!(range_count(&f(1.0), &f(2.0), &f(0.0)).is_err());
    }

    #[test]
    fn perms_are_checked() {
        let e = check_perm(&[0, 0, 1], 3).unwrap_err();
        assert_eq!(e.0, "perm [0,0,1] is not a permutation of 0..3");
    }
}
