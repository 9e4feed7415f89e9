//! The kernel IR: what `lower` produces and the backends consume.
//!
//! A [`Program`] is a list of [`Kernel`]s in execution order over typed [`BufferDecl`]s. A kernel
//! is a loop nest over an iteration space whose body is a small SSA list of scalar instructions
//! ([`Body`]) that read buffers through affine [`Access`] maps, plus — for the anchored kinds —
//! one heavy operation (a row normalization, a reduction, a contraction, a convolution) with
//! the pointwise code fused before and after it.
//!
//! How the loops run is not part of the kernel's meaning: it is the kernel's [`Schedule`],
//! explicit data that a heuristic fills in (`schedule::default_for`) and the autotuner may
//! replace. Any valid schedule computes the same values.
//!
//! Invariants:
//! - the IR is target-neutral: it names no CPU or GPU instruction; bindings of loops to threads,
//!   GPU blocks or lanes live only in the schedule;
//! - every buffer a kernel touches is listed in its `args`; `Access::arg` indexes that list;
//! - stores are dense: a kernel writes its outputs in row-major order of its iteration space
//!   (of the output's shape for the anchored kinds), so an output buffer is contiguous.

mod access;
mod body;
mod buffer;
pub mod eval;
mod kinds;
mod program;
pub mod schedule;

pub use access::{Access, IndexCheck, Indirect, contiguous_strides};
pub use body::{BinaryFn, Body, Inst, InstId, Scalar, Store, UnaryFn};
pub use buffer::{BufferDecl, BufferId, BufferKind, storage_bytes};
pub use kinds::{
    ConvKernel, GemmKernel, GemmOperand, InterpKernel, Kernel, KernelKind, PointwiseKernel,
    ReduceFn, ReduceKernel, RowKernel, RowOp,
};
pub use program::Program;
pub use schedule::{GemmPath, GemmSchedule, LoopBinding, LoopSchedule, Schedule};
