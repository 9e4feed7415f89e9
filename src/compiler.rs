//! The compiler facade: load a model, compile it for a target, run it.
//!
//! Today an [`Executable`] runs the reference interpreter (`ir::interp`); generated code will
//! take its place behind the same API.

use crate::error::Error;
use ir::{Graph, Tensor};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// Where compiled code runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Target {
    #[default]
    Cpu,
    Cuda,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Cpu => "cpu",
            Target::Cuda => "cuda",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(s: &str) -> Result<Target, Error> {
        match s {
            "cpu" => Ok(Target::Cpu),
            "cuda" => Ok(Target::Cuda),
            other => Err(Error::Invalid(format!(
                "unknown target '{other}' (expected cpu or cuda)"
            ))),
        }
    }
}

/// How hard the compiler optimizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OptLevel {
    /// No rewriting: run the graph as imported.
    O0,
    /// Cheap, always-profitable rewrites.
    O1,
    /// Everything that is exact.
    #[default]
    O2,
}

/// A compiler configuration (a builder).
#[derive(Clone, Debug, Default)]
pub struct Compiler {
    target: Target,
    opt_level: OptLevel,
    threads: Option<usize>,
}

impl Compiler {
    /// CPU, `-O2`, one thread per core.
    pub fn new() -> Compiler {
        Compiler::default()
    }

    pub fn target(mut self, target: Target) -> Compiler {
        self.target = target;
        self
    }

    pub fn opt_level(mut self, level: OptLevel) -> Compiler {
        self.opt_level = level;
        self
    }

    /// Worker threads for CPU code; 0 means one per core.
    pub fn threads(mut self, n: usize) -> Compiler {
        self.threads = (n > 0).then_some(n);
        self
    }

    pub fn get_target(&self) -> Target {
        self.target
    }

    pub fn get_opt_level(&self) -> OptLevel {
        self.opt_level
    }

    /// The thread count compiled code will use.
    pub fn get_threads(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    /// Reads and imports an ONNX model. External data is looked up next to the file.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Model, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read the model", e))?;
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            Some(_) | None => Path::new("."),
        };
        let graph =
            ir::onnx::import_model(&bytes, Some(base_dir)).map_err(|source| Error::Model {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Model {
            graph: Arc::new(graph),
            path: Some(path.to_path_buf()),
        })
    }

    /// Compiles a model for this configuration's target.
    pub fn compile(&self, model: &Model) -> Result<Executable, Error> {
        match self.target {
            Target::Cpu => {}
            Target::Cuda => {
                return Err(Error::Unavailable(
                    "target cuda is not available in this build".into(),
                ));
            }
        }
        Ok(Executable {
            graph: model.graph.clone(),
            target: self.target,
            opt_level: self.opt_level,
            threads: self.get_threads(),
        })
    }
}

/// An imported model: a checked, typed graph.
#[derive(Clone, Debug)]
pub struct Model {
    graph: Arc<Graph>,
    path: Option<PathBuf>,
}

impl Model {
    /// Wraps a graph built in memory.
    pub fn from_graph(graph: Graph) -> Model {
        Model {
            graph: Arc::new(graph),
            path: None,
        }
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The file the model was loaded from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// What one run cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// The most bytes held at once by inputs and intermediate tensors (constants excluded).
    pub peak_bytes: usize,
}

/// A compiled model, ready to run many times.
#[derive(Clone, Debug)]
pub struct Executable {
    graph: Arc<Graph>,
    target: Target,
    opt_level: OptLevel,
    threads: usize,
}

impl Executable {
    /// Runs on named feeds (one per graph input) and returns every graph output by name, in the
    /// graph's output order.
    pub fn run(&self, feeds: &HashMap<String, Tensor>) -> Result<Vec<(String, Tensor)>, Error> {
        self.run_with_stats(feeds).map(|(outputs, _)| outputs)
    }

    /// [`Executable::run`], also reporting [`RunStats`].
    pub fn run_with_stats(
        &self,
        feeds: &HashMap<String, Tensor>,
    ) -> Result<(Vec<(String, Tensor)>, RunStats), Error> {
        let (outputs, stats) = ir::interp::run_with_stats(&self.graph, feeds)?;
        Ok((
            outputs,
            RunStats {
                peak_bytes: stats.peak_bytes,
            },
        ))
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn target(&self) -> Target {
        self.target
    }

    pub fn opt_level(&self) -> OptLevel {
        self.opt_level
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}
