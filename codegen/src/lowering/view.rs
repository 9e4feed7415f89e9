//! Views: a value as a strided window onto a buffer, which is what layout ops become.

use crate::kernel::{Access, BufferId, contiguous_strides};
use ir::interp::layout::params::SliceAxis;

/// `shape` elements of `buf` at `offset + Σ strides[d]·i[d]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub buf: BufferId,
    pub offset: i64,
    pub shape: Vec<usize>,
    pub strides: Vec<i64>,
}

impl View {
    /// The whole of a dense buffer.
    pub fn dense(buf: BufferId, shape: &[usize]) -> View {
        View {
            buf,
            offset: 0,
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
        }
    }

    /// Whether consecutive elements in row-major order are consecutive in memory.
    pub fn is_contiguous(&self) -> bool {
        self.shape
            .iter()
            .zip(&self.strides)
            .zip(contiguous_strides(&self.shape))
            .all(|((&n, &s), c)| n == 1 || s == c)
    }

    /// Whether this is exactly a whole dense buffer of `numel` elements.
    pub fn is_whole(&self, numel: usize) -> bool {
        self.offset == 0 && self.is_contiguous() && self.shape.iter().product::<usize>() == numel
    }

    /// The same elements in row-major order under a new shape, if expressible without a copy
    /// (numpy's rule: a group of old dims that merges or splits must be contiguous within
    /// itself).
    pub fn reshape(&self, shape: &[usize]) -> Option<View> {
        if shape.iter().product::<usize>() != self.shape.iter().product::<usize>() {
            return None;
        }
        if self.is_contiguous() {
            return Some(View {
                buf: self.buf,
                offset: self.offset,
                shape: shape.to_vec(),
                strides: contiguous_strides(shape),
            });
        }
        let strides = nocopy_strides(&self.shape, &self.strides, shape)?;
        Some(View {
            buf: self.buf,
            offset: self.offset,
            shape: shape.to_vec(),
            strides,
        })
    }

    pub fn transpose(&self, perm: &[usize]) -> View {
        View {
            buf: self.buf,
            offset: self.offset,
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
        }
    }

    /// Applies clamped slice parameters (any step, negative included).
    pub fn slice(&self, axes: &[SliceAxis]) -> View {
        let mut v = self.clone();
        for a in axes {
            v.offset += a.start * self.strides[a.axis];
            v.strides[a.axis] = self.strides[a.axis] * a.step;
            v.shape[a.axis] = a.count;
        }
        v
    }

    /// Numpy broadcasting to `shape` (dims aligned right; size-1 dims repeat with stride 0).
    pub fn expand(&self, shape: &[usize]) -> Option<View> {
        let lead = shape.len().checked_sub(self.shape.len())?;
        let mut strides = vec![0i64; shape.len()];
        for (d, (&n, &s)) in self.shape.iter().zip(&self.strides).enumerate() {
            let out = shape[lead + d];
            if n == out {
                strides[lead + d] = s;
            } else if n != 1 {
                return None;
            }
        }
        Some(View {
            buf: self.buf,
            offset: self.offset,
            shape: shape.to_vec(),
            strides,
        })
    }

    /// The access of kernel arg `arg` reading this view at the point `p` of the value, where
    /// `map[d]` says which iteration dim coordinate `d` of the value equals (`None`: 0) and the
    /// iteration space has rank `rank`.
    pub fn access(&self, arg: usize, map: &[Option<usize>], rank: usize) -> Access {
        let mut strides = vec![0i64; rank];
        for (d, m) in map.iter().enumerate() {
            if let Some(i) = m {
                strides[*i] += self.strides[d];
            }
        }
        Access {
            arg,
            offset: self.offset,
            strides,
            indirect: None,
        }
    }
}

/// How a value of shape `value` is read at the points of an op whose output has shape `out`
/// (numpy broadcasting), given the coordinate map `out_map` of the output: per value dim, the
/// iteration dim it follows, or `None` where it is broadcast.
pub fn broadcast_map(
    value: &[usize],
    out: &[usize],
    out_map: &[Option<usize>],
) -> Vec<Option<usize>> {
    let lead = out.len().saturating_sub(value.len());
    value
        .iter()
        .enumerate()
        .map(|(d, &n)| {
            let o = lead + d;
            if n == 1 && out.get(o).copied().unwrap_or(1) != 1 {
                None
            } else {
                out_map.get(o).copied().flatten()
            }
        })
        .collect()
}

/// The identity map of a rank-`r` iteration space.
pub fn identity(r: usize) -> Vec<Option<usize>> {
    (0..r).map(Some).collect()
}

/// Strides for viewing `(shape, strides)` as `new` without moving data, if possible.
fn nocopy_strides(shape: &[usize], strides: &[i64], new: &[usize]) -> Option<Vec<i64>> {
    let old: Vec<(usize, i64)> = shape
        .iter()
        .zip(strides)
        .filter(|(n, _)| **n != 1)
        .map(|(&n, &s)| (n, s))
        .collect();
    let new_dims: Vec<usize> = new.iter().copied().filter(|&n| n != 1).collect();
    let mut new_strides = vec![0i64; new_dims.len()];
    let (mut oi, mut ni) = (0usize, 0usize);
    while ni < new_dims.len() && oi < old.len() {
        let (mut oj, mut nj) = (oi + 1, ni + 1);
        let (mut op, mut np) = (old[oi].0, new_dims[ni]);
        while op != np {
            if np < op {
                np *= *new_dims.get(nj)?;
                nj += 1;
            } else {
                op *= old.get(oj)?.0;
                oj += 1;
            }
        }
        for ok in oi..oj - 1 {
            if old[ok].1 != old[ok + 1].0 as i64 * old[ok + 1].1 {
                return None;
            }
        }
        new_strides[nj - 1] = old[oj - 1].1;
        for nk in (ni + 1..nj).rev() {
            new_strides[nk - 1] = new_strides[nk] * new_dims[nk] as i64;
        }
        ni = nj;
        oi = oj;
    }
    if ni != new_dims.len() || oi != old.len() {
        return None;
    }
    let mut it = new_strides.into_iter();
    Some(
        new.iter()
            .map(|&n| if n == 1 { 0 } else { it.next().unwrap_or(0) })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_splits_a_strided_slice_without_a_copy() {
        // Columns 64..128 of a [16, 192] buffer, viewed as [1, 16, 4, 16].
        let v = View {
            buf: BufferId(0),
            offset: 64,
            shape: vec![16, 64],
            strides: vec![192, 1],
        };
        let r = v.reshape(&[1, 16, 4, 16]).expect("expressible");
        assert_eq!(r.strides, vec![0, 192, 16, 1]);
        assert_eq!(r.offset, 64);
        // Merging the rows of the slice is not expressible.
        assert!(v.reshape(&[1024]).is_none());
        // A transposed view cannot merge its dims either.
        let t = View::dense(BufferId(0), &[4, 16]).transpose(&[1, 0]);
        assert!(t.reshape(&[64]).is_none());
        assert_eq!(
            t.reshape(&[16, 1, 4]).map(|v| v.strides),
            Some(vec![1, 0, 16])
        );
    }
}
