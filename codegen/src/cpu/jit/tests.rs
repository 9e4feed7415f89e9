//! Tests of the JIT: raw functions, kernels against the reference evaluator and plain-Rust
//! expectations, the math polynomials against f64, and schedule invariance.

mod math;
mod ops;
mod pointwise;
mod raw;
mod reduce;
mod row;
mod staged;
mod transpose;
pub(crate) mod util;
