//! Typed errors of lowering, code generation and running compiled programs.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CodegenError {
    /// The graph cannot be compiled for this target (the caller may interpret it instead).
    #[error("cannot compile: {0}")]
    Unsupported(String),
    /// The backend rejected a kernel: a bug in lowering or code generation.
    #[error("kernel '{kernel}': code generation failed: {msg}")]
    Jit { kernel: String, msg: String },
    /// A kernel failed while running (an index out of range, an interpreted node's error).
    #[error("{0}")]
    Run(#[from] ir::Error),
    /// The feeds do not match the program.
    #[error("input '{name}': {msg}")]
    Input { name: String, msg: String },
}

/// [`CodegenError::Unsupported`] from any message.
pub(crate) fn unsupported(msg: impl Into<String>) -> CodegenError {
    CodegenError::Unsupported(msg.into())
}
