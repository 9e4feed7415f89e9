//! Typed errors of the IR crate.
//!
//! Kernels and per-op inference return [`OpError`], a message without location; the graph-level
//! passes wrap it into [`Error::Node`] with the node's name and op, so every message a user sees
//! names what failed and where.

use thiserror::Error;

/// A failure inside one op (a kernel or its shape rule), before the caller adds where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct OpError(pub String);

impl OpError {
    pub fn new(msg: impl Into<String>) -> OpError {
        OpError(msg.into())
    }
}

/// Builds an [`OpError`] from a format string.
#[macro_export]
macro_rules! op_err {
    ($($t:tt)*) => { $crate::error::OpError::new(format!($($t)*)) };
}

/// Returns an [`OpError`] built from a format string.
#[macro_export]
macro_rules! op_bail {
    ($($t:tt)*) => { return Err($crate::op_err!($($t)*)) };
}

/// An error from importing, checking or running a graph.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// The bytes are not an ONNX model.
    #[error("not a valid ONNX model: {0}")]
    Decode(String),
    /// The model uses an op tenfold does not implement.
    #[error("unsupported op '{op}' (domain '{domain}', opset {opset}) at node '{node}'")]
    UnsupportedOp {
        op: String,
        domain: String,
        opset: i64,
        node: String,
    },
    /// An attribute is missing, of the wrong type, or has a value the op does not accept.
    #[error("node '{node}' ({op}): attribute '{attr}': {msg}")]
    Attribute {
        node: String,
        op: String,
        attr: String,
        msg: String,
    },
    /// The graph's structure is broken (dangling value, cycle, duplicate name, bad opset...).
    #[error("{0}")]
    Model(String),
    /// An initializer or constant tensor is malformed.
    #[error("tensor '{name}': {msg}")]
    Tensor { name: String, msg: String },
    /// A node failed shape inference or evaluation.
    #[error("node '{node}' ({op}): {msg}")]
    Node {
        node: String,
        op: String,
        msg: String,
    },
    /// A graph input was fed a tensor it does not accept, or was not fed.
    #[error("input '{name}': {msg}")]
    Input { name: String, msg: String },
}

impl Error {
    pub fn node(node: &str, op: impl Into<String>, err: OpError) -> Error {
        Error::Node {
            node: node.to_string(),
            op: op.into(),
            msg: err.0,
        }
    }
}
