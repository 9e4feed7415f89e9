//! Layout ops as access maps: each view is a [`Step`] that turns an access over the view's
//! source into an access over the view itself, so Reshape, Transpose, Slice, Expand, Split,
//! Squeeze, Unsqueeze, Flatten, Identity and broadcasting read their source in place.
//!
//! Every step but `Reshape` composes with any access. A reshape composes when the merged dims
//! are contiguous relative to each other (numpy's no-copy reshape rule); when it does not, the
//! step names the value to materialize densely so that it will.

use crate::kernel::Access;
use ir::ValueId;

/// One affine index map, from a space `to` back to a space `from` (see [`Step::apply`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The same elements in row-major order under another shape.
    Reshape { from: Vec<usize>, to: Vec<usize> },
    /// Dim `j` of the result is dim `perm[j]` of the source.
    Transpose { perm: Vec<usize> },
    /// Source coordinate `starts[d] + steps[d] · i` along every dim `d`.
    Slice { starts: Vec<i64>, steps: Vec<i64> },
    /// numpy broadcasting of `from` (right-aligned) to `to`: zero strides on new and size-1 dims.
    Broadcast { from: Vec<usize>, to: Vec<usize> },
    /// Dim `j` of the result is source dim `pick[j]`, or a new zero-stride dim when `None`.
    Pick { pick: Vec<Option<usize>> },
}

/// A step and the value to materialize if the step does not compose with an access.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    pub step: Step,
    pub blame: ValueId,
}

/// A chain of steps from a kernel's iteration space to a value's space: `links[0]` maps the
/// kernel space, the last link the value's own space. An access over the value becomes one
/// over the kernel space by applying the links from last to first.
pub type ViewMap = Vec<Link>;

impl Step {
    /// The access over the result space that reads what `a` reads over the source space, or
    /// `None` when a reshape cannot be expressed with strides.
    pub fn apply(&self, a: &Access) -> Option<Access> {
        let s = &a.strides;
        let (offset, strides) = match self {
            Step::Reshape { from, to } => {
                if from.len() != s.len() {
                    return None;
                }
                (a.offset, reshape_strides(from, s, to)?)
            }
            Step::Transpose { perm } => {
                let mut out = Vec::with_capacity(perm.len());
                for &p in perm {
                    out.push(*s.get(p)?);
                }
                (a.offset, out)
            }
            Step::Slice { starts, steps } => {
                if starts.len() != s.len() || steps.len() != s.len() {
                    return None;
                }
                let off = a.offset + s.iter().zip(starts).map(|(x, y)| x * y).sum::<i64>();
                (off, s.iter().zip(steps).map(|(x, y)| x * y).collect())
            }
            Step::Broadcast { from, to } => {
                if from.len() != s.len() || from.len() > to.len() {
                    return None;
                }
                let lead = to.len() - from.len();
                let out = (0..to.len())
                    .map(|j| {
                        if j < lead || from[j - lead] == 1 {
                            0
                        } else {
                            s[j - lead]
                        }
                    })
                    .collect();
                (a.offset, out)
            }
            Step::Pick { pick } => {
                let mut out = Vec::with_capacity(pick.len());
                for p in pick {
                    out.push(match p {
                        Some(k) => *s.get(*k)?,
                        None => 0,
                    });
                }
                (a.offset, out)
            }
        };
        Some(Access {
            arg: a.arg,
            offset,
            strides,
            indirect: a.indirect.clone(),
        })
    }
}

/// Applies a view map to an access over the value's space. `Err` names the value to
/// materialize when a reshape does not compose.
pub fn compose(map: &[Link], a: Access) -> Result<Access, ValueId> {
    let mut a = a;
    for link in map.iter().rev() {
        a = link.step.apply(&a).ok_or(link.blame)?;
    }
    Ok(a)
}

/// Strides over `new` that visit the elements `strides` visits over `old` in the same
/// row-major order, if such strides exist (numpy's `_attempt_nocopy_reshape`).
pub fn reshape_strides(old: &[usize], strides: &[i64], new: &[usize]) -> Option<Vec<i64>> {
    let n_old: usize = old.iter().product();
    let n_new: usize = new.iter().product();
    if n_old != n_new {
        return None;
    }
    let mut out = vec![0i64; new.len()];
    if n_old == 0 {
        return Some(out);
    }
    // Size-1 dims carry no stride information.
    let (od, os): (Vec<usize>, Vec<i64>) = old
        .iter()
        .zip(strides)
        .filter(|(d, _)| **d != 1)
        .map(|(&d, &s)| (d, s))
        .unzip();
    let (mut oi, mut oj, mut ni, mut nj) = (0usize, 1usize, 0usize, 1usize);
    while ni < new.len() && oi < od.len() {
        let mut np = new[ni];
        let mut op = od[oi];
        while np != op {
            if np < op {
                np *= *new.get(nj)?;
                nj += 1;
            } else {
                op *= *od.get(oj)?;
                oj += 1;
            }
        }
        for ok in oi..oj - 1 {
            if os[ok] != od[ok + 1] as i64 * os[ok + 1] {
                return None;
            }
        }
        out[nj - 1] = os[oj - 1];
        for nk in (ni + 1..nj).rev() {
            out[nk - 1] = out[nk] * new[nk] as i64;
        }
        ni = nj;
        nj += 1;
        oi = oj;
        oj += 1;
    }
    // Trailing size-1 dims (and sizes of one in general) take a zero stride.
    for (o, &d) in out.iter_mut().zip(new) {
        if d == 1 {
            *o = 0;
        }
    }
    Some(out)
}

/// The source coordinates of a Slice: per input dim, the first index and the step, from the
/// op's (constant) starts, ends, axes and steps, clamped as ONNX says. Also checks the result
/// against the inferred output shape.
pub fn slice_params(
    in_shape: &[usize],
    out_shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Option<Step> {
    let rank = in_shape.len();
    if starts.len() != ends.len() || out_shape.len() != rank {
        return None;
    }
    let axes: Vec<i64> = match axes {
        Some(a) => a.to_vec(),
        None => (0..starts.len() as i64).collect(),
    };
    if axes.len() != starts.len() || steps.is_some_and(|s| s.len() != starts.len()) {
        return None;
    }
    let mut st = vec![0i64; rank];
    let mut sp = vec![1i64; rank];
    let mut seen = vec![false; rank];
    for (k, &ax) in axes.iter().enumerate() {
        let a = if ax < 0 { ax + rank as i64 } else { ax };
        if a < 0 || a >= rank as i64 || seen[a as usize] {
            return None;
        }
        let a = a as usize;
        seen[a] = true;
        let dim = in_shape[a] as i64;
        let step = steps.map_or(1, |s| s[k]);
        if step == 0 {
            return None;
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (start, end) = (norm(starts[k]), norm(ends[k]));
        let (start, len) = if step > 0 {
            let s = start.clamp(0, dim);
            let e = end.clamp(0, dim);
            (s, if e > s { (e - s + step - 1) / step } else { 0 })
        } else {
            let s = start.clamp(0, dim - 1);
            let e = end.clamp(-1, dim - 1);
            (s, if s > e { (s - e - step - 1) / (-step) } else { 0 })
        };
        if len as usize != out_shape[a] {
            return None;
        }
        st[a] = start;
        sp[a] = step;
    }
    for d in 0..rank {
        if !seen[d] && in_shape[d] != out_shape[d] {
            return None;
        }
    }
    Some(Step::Slice {
        starts: st,
        steps: sp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::contiguous_strides;

    #[test]
    fn reshape_of_a_contiguous_access_merges_and_splits_dims() {
        let s = contiguous_strides(&[2, 3, 4]);
        assert_eq!(reshape_strides(&[2, 3, 4], &s, &[6, 4]), Some(vec![4, 1]));
        assert_eq!(reshape_strides(&[2, 3, 4], &s, &[1, 2, 12]), Some(vec![0, 12, 1]));
        assert_eq!(reshape_strides(&[6, 4], &[4, 1], &[2, 3, 2, 2]), Some(vec![12, 4, 2, 1]));
    }

    #[test]
    fn reshape_of_a_transposed_access_merges_only_compatible_dims() {
        // [3, 2] read transposed from a [2, 3] buffer: strides [1, 3].
        assert_eq!(reshape_strides(&[3, 2], &[1, 3], &[6]), None);
        // Splitting a dim is always possible.
        assert_eq!(reshape_strides(&[4, 2], &[1, 4], &[2, 2, 2]), Some(vec![2, 1, 4]));
        // Broadcast dims merge with each other.
        assert_eq!(reshape_strides(&[2, 3, 4], &[0, 0, 1], &[6, 4]), Some(vec![0, 1]));
    }

    #[test]
    fn slice_params_follow_onnx_clamping() {
        let st = slice_params(&[10], &[4], &[-1], &[-8], None, Some(&[-2])).unwrap();
        assert_eq!(
            st,
            Step::Slice {
                starts: vec![9],
                steps: vec![-2]
            }
        );
        let st = slice_params(&[4, 6], &[4, 2], &[1], &[i64::MAX], Some(&[-1]), Some(&[3]));
        assert_eq!(
            st,
            Some(Step::Slice {
                starts: vec![0, 1],
                steps: vec![1, 3]
            })
        );
    }
}
