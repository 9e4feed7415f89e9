//! tenfold: a tensor-program compiler and optimizer. This crate is the library facade for
//! frameworks and the home of the command-line tool; the compiler itself lives in the `ir`,
//! `rewrites`, `codegen` and `autotune` crates.
//!
//! ```no_run
//! use std::collections::HashMap;
//! use tenfold::{Compiler, OptLevel, Target};
//!
//! let compiler = Compiler::new().target(Target::Cpu).opt_level(OptLevel::O2).threads(4);
//! let model = compiler.load("model.onnx")?;
//! let exe = compiler.compile(&model)?;
//! let outputs = exe.run(&HashMap::new())?;
//! # Ok::<(), tenfold::Error>(())
//! ```

pub mod cli;
mod compiler;
mod error;
pub mod io;

pub use compiler::{Compiler, Executable, Model, OptLevel, Plan, ProfiledRun, RunStats, Target};
pub use error::Error;
pub use ir;
pub use ir::{DType, Tensor};
