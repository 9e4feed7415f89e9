//! Argument groups shared by several subcommands, and how they become a [`Compiler`].

use crate::compiler::{Compiler, OptLevel, Target};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Where the inputs of a run come from.
#[derive(Args, Clone, Debug)]
pub struct FeedArgs {
    /// Input tensors from a numpy .npz archive, keyed by input name
    #[arg(long, value_name = "IN.npz")]
    pub inputs: Option<PathBuf>,
    /// One input from a .npy or ONNX TensorProto .pb file (repeatable; overrides --inputs)
    #[arg(long = "input", value_name = "NAME=FILE")]
    pub input: Vec<String>,
    /// Size of a symbolic dim for generated inputs (repeatable; unset symbolic dims are 1)
    #[arg(long = "dim", value_name = "NAME=SIZE")]
    pub dim: Vec<String>,
    /// Seed of the random data generated for inputs not given
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

/// How the model is compiled.
#[derive(Args, Clone, Debug)]
pub struct CompileArgs {
    /// Where the compiled code runs
    #[arg(long, value_enum, value_name = "T", default_value_t = TargetArg::Cpu)]
    pub target: TargetArg,
    /// Worker threads (default: one per core)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Optimization level: -O0, -O1 or -O2
    #[arg(short = 'O', long = "opt-level", value_name = "LEVEL", default_value = "2",
          value_parser = ["0", "1", "2"])]
    pub opt_level: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    Cpu,
    Cuda,
}

impl CompileArgs {
    pub fn compiler(&self) -> Compiler {
        let target = match self.target {
            TargetArg::Cpu => Target::Cpu,
            TargetArg::Cuda => Target::Cuda,
        };
        let level = match self.opt_level.as_str() {
            "0" => OptLevel::O0,
            "1" => OptLevel::O1,
            _ => OptLevel::O2,
        };
        let compiler = Compiler::new().target(target).opt_level(level);
        match self.threads {
            Some(n) => compiler.threads(n as usize),
            None => compiler,
        }
    }
}
