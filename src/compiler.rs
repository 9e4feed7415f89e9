//! The compiler facade: load a model, compile it for a target, run it.
//!
//! An [`Executable`] specializes the graph on the shapes of its inputs, lowers it to kernels
//! and compiles them to native code, once per input-shape signature (dynamic dims work: each
//! new signature compiles once and is cached). `-O0` runs the reference interpreter instead.

use crate::error::Error;
use codegen::lowering::{LowerOptions, lower};
use codegen::runtime::{CompiledProgram, Pool};
use codegen::{CodegenError, kernel::Program};
use ir::shape::{concrete, static_shape};
use ir::{Graph, Tensor, TensorType};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Compile the graph as imported (fusion in lowering, no graph rewriting).
    O1,
    /// Equality saturation with every exact rule, then compile.
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
        let threads = self.get_threads();
        let (graph, rewrite) = match self.opt_level {
            OptLevel::O2 => self.rewrite(&model.graph),
            OptLevel::O0 | OptLevel::O1 => (model.graph.clone(), None),
        };
        let exe = Executable {
            graph,
            rewrite,
            target: self.target,
            opt_level: self.opt_level,
            threads,
            engine: Arc::new(Engine {
                pool: Pool::new(threads),
                cache: Mutex::new(HashMap::new()),
            }),
        };
        // A model whose inputs all have static shapes has one signature: compile it now.
        if let Some(signature) = exe.static_signature() {
            exe.prepared(&signature)?;
        }
        Ok(exe)
    }
}

impl Compiler {
    /// `-O2`'s graph optimization: equality saturation with the target's cost. A graph the
    /// optimizer cannot handle runs as imported; the outcome says why.
    fn rewrite(&self, graph: &Arc<Graph>) -> (Arc<Graph>, Option<RewriteOutcome>) {
        let opts = rewrites::Options {
            target: rewrites::TargetDesc::named(self.target.name())
                .unwrap_or_else(rewrites::TargetDesc::cpu),
            ..rewrites::Options::default()
        };
        let start = std::time::Instant::now();
        match rewrites::optimize(graph, &opts) {
            Ok((g, report)) => {
                let ms = start.elapsed().as_secs_f64() * 1e3;
                let g = if report.kept_original {
                    graph.clone()
                } else {
                    Arc::new(g)
                };
                (g, Some(RewriteOutcome::Optimized { report, ms }))
            }
            Err(e) => (graph.clone(), Some(RewriteOutcome::Skipped(e.to_string()))),
        }
    }
}

/// What `-O2`'s graph optimization did.
#[derive(Clone, Debug)]
pub enum RewriteOutcome {
    Optimized {
        report: rewrites::Report,
        ms: f64,
    },
    /// The graph runs as imported, for the reason given.
    Skipped(String),
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

/// A run with the time each kernel took.
#[derive(Debug)]
pub struct ProfiledRun {
    /// Every graph output by name, in the graph's output order.
    pub outputs: Vec<(String, Tensor)>,
    /// The wall time of each kernel, in the order of [`Plan::program`]'s kernels; `None` when
    /// the run was not compiled (`-O0`, or a plan the interpreter runs).
    pub kernel_times: Option<Vec<Duration>>,
}

/// What one run cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// The most bytes held at once by inputs, outputs and intermediate tensors (constants
    /// excluded). For compiled code: inputs, outputs, the planned arena and scratch.
    pub peak_bytes: usize,
    /// Whether compiled kernels ran (false at `-O0` and for plans the interpreter runs).
    pub compiled: bool,
}

/// How a graph runs for one input-shape signature.
pub enum Plan {
    /// Compiled kernels (some of which may be interpreted nodes: see [`Program::kernels`]).
    Compiled(Box<CompiledProgram>),
    /// The whole graph runs in the reference interpreter, for the reason given.
    Interpreted(String),
}

impl Plan {
    /// The lowered program, when compiled.
    pub fn program(&self) -> Option<&Program> {
        match self {
            Plan::Compiled(c) => Some(c.program()),
            Plan::Interpreted(_) => None,
        }
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Compiled(c) => write!(f, "Compiled({} kernels)", c.program().kernels.len()),
            Plan::Interpreted(why) => write!(f, "Interpreted({why})"),
        }
    }
}

/// Shared by the clones of an executable: the thread pool and the compiled signatures.
struct Engine {
    pool: Pool,
    cache: Mutex<HashMap<Vec<Vec<usize>>, Arc<Plan>>>,
}

/// A compiled model, ready to run many times (and from several threads).
#[derive(Clone)]
pub struct Executable {
    graph: Arc<Graph>,
    rewrite: Option<RewriteOutcome>,
    target: Target,
    opt_level: OptLevel,
    threads: usize,
    engine: Arc<Engine>,
}

impl fmt::Debug for Executable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executable")
            .field("graph", &self.graph.name)
            .field("target", &self.target)
            .field("opt_level", &self.opt_level)
            .field("threads", &self.threads)
            .finish()
    }
}

impl Executable {
    /// What graph optimization did (`None` below `-O2`).
    pub fn rewrite_outcome(&self) -> Option<&RewriteOutcome> {
        self.rewrite.as_ref()
    }

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
        self.execute(feeds, None, Vec::new())
    }

    /// [`Executable::run_with_stats`], writing the outputs into the storage of `previous` (the
    /// outputs of an earlier run, handed back) where an output's dtype and size match; the
    /// others are allocated. For loops of runs: large fresh allocations cost page faults on
    /// every run, reused ones do not. The result does not depend on what `previous` held.
    pub fn run_reusing(
        &self,
        feeds: &HashMap<String, Tensor>,
        previous: Vec<(String, Tensor)>,
    ) -> Result<(Vec<(String, Tensor)>, RunStats), Error> {
        self.execute(feeds, None, previous)
    }

    /// [`Executable::run_reusing`], also timing each kernel.
    pub fn run_profiled(
        &self,
        feeds: &HashMap<String, Tensor>,
        previous: Vec<(String, Tensor)>,
    ) -> Result<ProfiledRun, Error> {
        let mut times = Vec::new();
        let (outputs, stats) = self.execute(feeds, Some(&mut times), previous)?;
        Ok(ProfiledRun {
            outputs,
            kernel_times: stats.compiled.then_some(times),
        })
    }

    fn execute(
        &self,
        feeds: &HashMap<String, Tensor>,
        times: Option<&mut Vec<Duration>>,
        previous: Vec<(String, Tensor)>,
    ) -> Result<(Vec<(String, Tensor)>, RunStats), Error> {
        if self.opt_level == OptLevel::O0 {
            return self.interpret(feeds);
        }
        let inputs = ir::interp::bind_feeds(&self.graph, feeds)?;
        let plan = self.prepared(&signature(&inputs))?;
        match &*plan {
            Plan::Interpreted(_) => self.interpret(feeds),
            Plan::Compiled(c) => {
                let reuse = previous.into_iter().map(|(_, t)| t).collect();
                let outputs = c
                    .run_reusing(&inputs, &self.engine.pool, reuse, times)
                    .map_err(codegen_error)?;
                let named = c
                    .program()
                    .output_names
                    .iter()
                    .cloned()
                    .zip(outputs)
                    .collect();
                Ok((
                    named,
                    RunStats {
                        peak_bytes: c.peak_bytes(),
                        compiled: true,
                    },
                ))
            }
        }
    }

    /// How the graph runs on feeds of these shapes (compiling it if it was not yet).
    pub fn plan(&self, feeds: &HashMap<String, Tensor>) -> Result<Arc<Plan>, Error> {
        if self.opt_level == OptLevel::O0 {
            return Ok(Arc::new(Plan::Interpreted(
                "-O0 runs the interpreter".into(),
            )));
        }
        let inputs = ir::interp::bind_feeds(&self.graph, feeds)?;
        self.prepared(&signature(&inputs))
    }

    fn interpret(
        &self,
        feeds: &HashMap<String, Tensor>,
    ) -> Result<(Vec<(String, Tensor)>, RunStats), Error> {
        let (outputs, stats) = ir::interp::run_with_stats(&self.graph, feeds)?;
        Ok((
            outputs,
            RunStats {
                peak_bytes: stats.peak_bytes,
                compiled: false,
            },
        ))
    }

    /// The input shapes, when every input's shape is static.
    fn static_signature(&self) -> Option<Vec<Vec<usize>>> {
        if self.opt_level == OptLevel::O0 {
            return None;
        }
        self.graph
            .inputs
            .iter()
            .map(|&v| {
                let ty = self.graph.value(v).ty.as_ref()?;
                concrete(ty.shape.as_deref()?)
            })
            .collect()
    }

    /// The plan for one signature, from the cache or compiled now.
    fn prepared(&self, signature: &[Vec<usize>]) -> Result<Arc<Plan>, Error> {
        if let Some(p) = self.lock_cache().get(signature) {
            return Ok(p.clone());
        }
        let plan = Arc::new(self.build_plan(signature)?);
        self.lock_cache()
            .entry(signature.to_vec())
            .or_insert_with(|| plan.clone());
        Ok(plan)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<Vec<usize>>, Arc<Plan>>> {
        // A panic while holding the lock cannot leave the map half-updated (one insert).
        self.engine
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Specializes the graph on `signature`, lowers and compiles it. Graphs that cannot be
    /// compiled (data-dependent shapes) get an interpreted plan; real errors (a shape
    /// contradiction) are returned.
    fn build_plan(&self, signature: &[Vec<usize>]) -> Result<Plan, Error> {
        let mut graph = (*self.graph).clone();
        for (&v, shape) in self.graph.inputs.iter().zip(signature) {
            let value = graph.value_mut(v);
            let dtype = match &value.ty {
                Some(ty) => ty.dtype,
                None => {
                    return Ok(Plan::Interpreted(format!(
                        "input '{}' has no declared type",
                        value.name
                    )));
                }
            };
            value.ty = Some(TensorType::new(dtype, static_shape(shape)));
        }
        let known = ir::infer::infer_graph_values(&mut graph)?;
        if let Some(v) = graph.values.iter().find(|v| {
            v.ty.as_ref()
                .and_then(|t| concrete(t.shape.as_deref()?))
                .is_none()
        }) {
            return Ok(Plan::Interpreted(format!(
                "the shape of '{}' depends on data",
                v.name
            )));
        }
        let program = match lower(&graph, &known, &LowerOptions::default()) {
            Ok(p) => p,
            Err(e) => return Ok(Plan::Interpreted(e.to_string())),
        };
        match CompiledProgram::compile(program) {
            Ok(c) => Ok(Plan::Compiled(Box::new(c))),
            Err(e) => Ok(Plan::Interpreted(e.to_string())),
        }
    }

    /// The graph that runs (after `-O2`'s rewriting).
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

/// The input-shape signature plans are cached under.
fn signature(inputs: &[&Tensor]) -> Vec<Vec<usize>> {
    inputs.iter().map(|t| t.shape().to_vec()).collect()
}

fn codegen_error(e: CodegenError) -> Error {
    match e {
        CodegenError::Run(e) => Error::Ir(e),
        CodegenError::Input { name, msg } => Error::Ir(ir::Error::Input { name, msg }),
        other @ (CodegenError::Unsupported(_) | CodegenError::Jit { .. }) => {
            Error::Unavailable(other.to_string())
        }
    }
}
