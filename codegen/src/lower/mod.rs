//! Lowering a graph to a [`Program`]: fusion into kernels, layout ops into access maps.

use crate::error::CodegenError;
use crate::kernel::Program;
use ir::{Graph, Tensor};
use std::sync::Arc;

/// What lowering may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowerOptions {
    /// Fuse producers and consumers into one kernel (off: one kernel per node).
    pub fuse: bool,
}

impl Default for LowerOptions {
    fn default() -> LowerOptions {
        LowerOptions { fuse: true }
    }
}

/// Lowers `graph`, whose values all have static shapes, to a program. `known[v]` holds the
/// value of every value that inference could compute at compile time (constants and folded
/// shape arithmetic).
pub fn lower(
    _graph: &Graph,
    _known: &[Option<Arc<Tensor>>],
    _options: &LowerOptions,
) -> Result<Program, CodegenError> {
    Err(CodegenError::Unsupported(
        "lowering is not built yet".into(),
    ))
}
