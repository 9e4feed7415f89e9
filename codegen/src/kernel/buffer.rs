//! Buffers: typed, statically shaped memory that kernels read and write.

use ir::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Index of a buffer in [`crate::kernel::Program::buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BufferId(pub u32);

impl BufferId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a buffer's memory comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BufferKind {
    /// Graph input `i`: the caller's tensor, read in place, never written.
    Input(usize),
    /// Known at compile time; never written.
    Constant(Arc<Tensor>),
    /// An intermediate: placed in the run's arena by the memory planner.
    Temp,
    /// Graph output `i`: allocated per run and handed to the caller without a copy.
    Output(usize),
}

/// One buffer: a dense row-major array of `shape` elements of `dtype`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BufferDecl {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub kind: BufferKind,
    /// The graph value it holds, for messages and `--plan`.
    pub name: String,
}

impl BufferDecl {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes in memory (sub-byte dtypes take one byte per element, like `ir::Data`).
    pub fn bytes(&self) -> usize {
        storage_bytes(self.dtype, self.numel())
    }
}

/// Bytes that `n` elements of `dtype` take in memory: `ir::Data`'s storage, one element per
/// storage slot (sub-byte dtypes unpacked, bool one byte).
pub fn storage_bytes(dtype: DType, n: usize) -> usize {
    use ir::dtype::Storage as S;
    let width = match dtype.storage() {
        S::F64 | S::I64 | S::U64 => 8,
        S::F32 | S::I32 | S::U32 => 4,
        S::F16 | S::BF16 | S::I16 | S::U16 => 2,
        S::I8 | S::U8 | S::Bool => 1,
    };
    n * width
}
