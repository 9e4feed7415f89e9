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

    /// The same elements in row-major order under a new shape, if expressible without a copy:
    /// a contiguous view takes any shape; otherwise only size-1 dims may come and go.
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
        let old: Vec<(usize, i64)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(n, _)| **n != 1)
            .map(|(&n, &s)| (n, s))
            .collect();
        let new_dims: Vec<usize> = shape.iter().copied().filter(|&n| n != 1).collect();
        if old.iter().map(|(n, _)| *n).collect::<Vec<_>>() != new_dims {
            return None;
        }
        let mut it = old.iter();
        let strides = shape
            .iter()
            .map(|&n| {
                if n == 1 {
                    0
                } else {
                    it.next().map_or(0, |x| x.1)
                }
            })
            .collect();
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
