//! Equality saturation over the IR with `egg`: the e-graph language and analysis, rule families
//! in separate files (algebra, sharing, low-rank, Kronecker, Monarch), extraction by a target
//! cost behind the [`cost::CostModel`] trait, and verification of every rule against the
//! reference interpreter.
//!
//! Deterministic: given the same graph and options it returns the same graph. (The time budget
//! is a safety net the node and iteration budgets reach first.)
//!
//! Architecture invariant: this crate knows nothing of Cranelift, CUDA or ONNX bytes; it reads
//! and writes `ir::Graph`.

pub mod analysis;
pub mod build;
pub mod consts;
pub mod cost;
pub mod emit;
pub mod error;
pub mod extract;
pub mod lang;
pub mod linalg;
pub mod optimize;
pub mod rules;
pub mod verify;

pub use cost::{CostModel, Roofline, TargetDesc};
pub use error::RewriteError;
pub use optimize::{Limits, Options, Report, optimize, optimize_with};
pub use rules::{Family, Rule, RuleOptions, catalog, full_catalog};
