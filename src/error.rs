//! The error type of the facade: IR errors, plus file errors that name the path involved.

use std::path::{Path, PathBuf};
use thiserror::Error;

/// Anything that can go wrong loading, compiling or running a model, or reading and writing
/// tensor files. Every variant's message names what failed and, for files, where.
#[derive(Debug, Error)]
pub enum Error {
    /// A model failed to import or to run; the message starts with its path.
    #[error("{}: {source}", path.display())]
    Model { path: PathBuf, source: ir::Error },
    /// Checking or running a graph failed (a bad feed, a failing node).
    #[error(transparent)]
    Ir(#[from] ir::Error),
    /// A file could not be read, written or renamed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    /// A tensor file (.npy, .npz, .pb) is malformed or holds something tenfold cannot use.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    /// A tensor cannot be stored in the requested format (a dtype numpy has no code for).
    #[error("{0}")]
    Unrepresentable(String),
    /// The requested target or option is not available in this build.
    #[error("{0}")]
    Unavailable(String),
    /// An invalid request from the caller (a feed that is not a graph input, a bad option).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn io(path: &Path, action: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    pub fn format(path: &Path, msg: impl Into<String>) -> Error {
        Error::Format {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}
