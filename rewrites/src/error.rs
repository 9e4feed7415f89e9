//! Errors of the optimizer.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RewriteError {
    #[error("value '{0}' has no type: run shape inference before optimizing")]
    Untyped(String),
    #[error("{0}")]
    Graph(String),
    #[error(transparent)]
    Ir(#[from] ir::Error),
    #[error("extraction failed: {0}")]
    Extraction(String),
}
