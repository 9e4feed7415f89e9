//! Access maps: how a point of a kernel's iteration space addresses an element of a buffer.
//!
//! An access is affine: `offset + Σ strides[d] · i[d]`, in elements, over the iteration
//! point `i`. Broadcasting is a zero stride; Transpose, Slice (any step), Expand, Squeeze,
//! Unsqueeze, Flatten and contiguous Reshape are all affine, so they become access maps in their
//! consumers instead of copies. Gather adds one data-dependent term ([`Indirect`]).

use crate::kernel::body::InstId;
use serde::{Deserialize, Serialize};

/// An affine (plus at most one indirect) map from iteration points to buffer elements.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Access {
    /// Which of the kernel's `args`.
    pub arg: usize,
    /// Element offset of the iteration point 0.
    pub offset: i64,
    /// Element stride per iteration dim (`strides.len()` is the iteration rank).
    pub strides: Vec<i64>,
    /// A data-dependent term, for Gather.
    pub indirect: Option<Indirect>,
}

/// Adds `stride · j` to an access, where `j` is the integer value `index` of the body
/// normalized like ONNX Gather: a negative index counts from the end (`j + extent`).
///
/// Invariant: `index` is a `Load` of a buffer that the kernel's [`IndexCheck`]s cover, so the
/// runtime has verified `-extent <= j < extent` before the kernel runs; the generated code does
/// not check bounds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Indirect {
    pub index: InstId,
    pub extent: i64,
    pub stride: i64,
}

/// A check the runtime makes before a kernel runs: every element of integer buffer `arg`
/// lies in `[-extent, extent)`. Failing it is an error naming the node, never a wild read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndexCheck {
    pub arg: usize,
    pub extent: i64,
    /// The graph node the indices belong to, for the message.
    pub node: String,
}

impl Access {
    /// The dense row-major access of a buffer whose shape is the iteration space.
    pub fn dense(arg: usize, shape: &[usize]) -> Access {
        Access {
            arg,
            offset: 0,
            strides: contiguous_strides(shape),
            indirect: None,
        }
    }

    /// Whether this access reads element `k` at the `k`-th point in row-major order.
    pub fn is_dense_over(&self, shape: &[usize]) -> bool {
        self.indirect.is_none()
            && self.offset == 0
            && self
                .strides
                .iter()
                .zip(contiguous_strides(shape))
                .zip(shape)
                .all(|((&s, c), &n)| n == 1 || s == c)
    }
}

/// Row-major strides of a shape, in elements.
pub fn contiguous_strides(shape: &[usize]) -> Vec<i64> {
    let mut strides = vec![0i64; shape.len()];
    let mut acc = 1i64;
    for d in (0..shape.len()).rev() {
        strides[d] = acc;
        acc *= shape[d] as i64;
    }
    strides
}
