//! Lowering of the IR to kernels with explicit schedules, the CPU backend (Cranelift JIT and
//! packed GEMM microkernels), and the runtime (memory planning, thread pool, executor).
//!
//! Architecture invariant: this crate knows nothing of ONNX; it sees only `ir::Graph`.

pub mod cpu;
pub mod error;
pub mod kernel;
pub mod lowering;
pub mod runtime;

pub use error::CodegenError;
