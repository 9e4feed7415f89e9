//! Shared by the integration tests: loading ONNX test-case folders (`model.onnx` plus
//! `test_data_set_N/{input,output}_K.pb`) and comparing tensors with stated tolerances.
#![allow(dead_code)]

use ir::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tenfold::{Compiler, Executable, Model, OptLevel, Plan};

/// One data set of a case: feeds by graph-input name, expected outputs in graph-output order.
pub struct DataSet {
    pub inputs: HashMap<String, Tensor>,
    pub expected: Vec<Tensor>,
}

/// Why a case could not be run.
pub enum LoadError {
    /// The model or its data uses something tenfold does not support (op, dtype, non-tensor).
    Unsupported(String),
    /// Anything else.
    Failed(String),
}

pub fn is_unsupported(e: &ir::Error) -> bool {
    match e {
        ir::Error::UnsupportedOp { .. } => true,
        ir::Error::Tensor { msg, .. } => msg.contains("is not supported"),
        ir::Error::Model(msg) | ir::Error::Attribute { msg, .. } => msg.contains("not supported"),
        _ => false,
    }
}

pub fn load_case(dir: &Path) -> Result<(ir::Graph, Vec<DataSet>), LoadError> {
    let bytes =
        std::fs::read(dir.join("model.onnx")).map_err(|e| LoadError::Failed(e.to_string()))?;
    let graph = ir::onnx::import_model(&bytes, Some(dir)).map_err(|e| {
        if is_unsupported(&e) {
            LoadError::Unsupported(e.to_string())
        } else {
            LoadError::Failed(e.to_string())
        }
    })?;
    let mut sets = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| LoadError::Failed(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("test_data_set_"))
        })
        .collect();
    dirs.sort();
    for ds in dirs {
        if std::fs::read_dir(&ds)
            .map_err(|e| LoadError::Failed(e.to_string()))?
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "unsupported"))
        {
            return Err(LoadError::Unsupported(
                "non-tensor inputs or outputs".into(),
            ));
        }
        let read = |kind: &str, k: usize| -> Option<Result<Tensor, LoadError>> {
            let p = ds.join(format!("{kind}_{k}.pb"));
            let bytes = std::fs::read(&p).ok()?;
            Some(
                ir::onnx::tensor_from_bytes(&bytes)
                    .map(|(_, t)| t)
                    .map_err(|e| {
                        if is_unsupported(&e) {
                            LoadError::Unsupported(e.to_string())
                        } else {
                            LoadError::Failed(format!("{}: {e}", p.display()))
                        }
                    }),
            )
        };
        let mut inputs = HashMap::new();
        for (k, &id) in graph.inputs.iter().enumerate() {
            match read("input", k) {
                Some(t) => {
                    inputs.insert(graph.value(id).name.clone(), t?);
                }
                None => {
                    return Err(LoadError::Failed(format!(
                        "{} has no input_{k}.pb",
                        ds.display()
                    )));
                }
            }
        }
        let mut expected = Vec::new();
        for k in 0..graph.outputs.len() {
            match read("output", k) {
                Some(t) => expected.push(t?),
                None => {
                    return Err(LoadError::Failed(format!(
                        "{} has no output_{k}.pb",
                        ds.display()
                    )));
                }
            }
        }
        sets.push(DataSet { inputs, expected });
    }
    Ok((graph, sets))
}

/// Compares `got` with `want`: same dtype and shape; floats within `atol + rtol * |want|`
/// (NaN matches NaN, infinities match by sign), everything else exactly.
pub fn compare(got: &Tensor, want: &Tensor, rtol: f64, atol: f64) -> Result<(), String> {
    if got.dtype() != want.dtype() {
        return Err(format!(
            "dtype {} != expected {}",
            got.dtype(),
            want.dtype()
        ));
    }
    if got.shape() != want.shape() {
        return Err(format!(
            "shape {:?} != expected {:?}",
            got.shape(),
            want.shape()
        ));
    }
    if !got.dtype().is_float() {
        let (g, w) = (got.to_i128_vec(), want.to_i128_vec());
        return match g.iter().zip(&w).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(i) => Err(format!("element {i}: got {}, expected {}", g[i], w[i])),
        };
    }
    let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
    let bad: Vec<usize> = (0..g.len())
        .filter(|&i| !close(g[i], w[i], rtol, atol))
        .collect();
    let Some(&worst) = bad.iter().max_by(|&&i, &&j| {
        let excess = |k: usize| (g[k] - w[k]).abs();
        excess(i).total_cmp(&excess(j))
    }) else {
        return Ok(());
    };
    Err(format!(
        "{} of {} elements differ; worst at {worst}: got {}, expected {}",
        bad.len(),
        g.len(),
        g[worst],
        w[worst]
    ))
}

/// numpy's `isclose` with `equal_nan`: NaN matches NaN, infinities match by sign.
fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= atol + rtol * b.abs()
}

/// Runs every data set of a case through `run` and compares outputs.
pub fn check_case<E: std::fmt::Display>(
    graph: &ir::Graph,
    sets: &[DataSet],
    rtol: f64,
    atol: f64,
    run: impl Fn(&ir::Graph, &HashMap<String, Tensor>) -> Result<Vec<(String, Tensor)>, E>,
) -> Result<(), String> {
    for (k, set) in sets.iter().enumerate() {
        let outs = run(graph, &set.inputs).map_err(|e| format!("data set {k}: {e}"))?;
        for (j, ((name, got), want)) in outs.iter().zip(&set.expected).enumerate() {
            compare(got, want, rtol, atol)
                .map_err(|e| format!("data set {k}, output {j} '{name}': {e}"))?;
        }
    }
    Ok(())
}

/// Compiles an in-memory graph with `Compiler::new()` at `level` with `threads` worker threads.
pub fn compile_graph(
    graph: &ir::Graph,
    level: OptLevel,
    threads: usize,
) -> Result<Executable, tenfold::Error> {
    Compiler::new()
        .opt_level(level)
        .threads(threads)
        .compile(&Model::from_graph(graph.clone()))
}

/// What a plan is made of, for counts and messages.
#[derive(Clone, Debug, Default)]
pub struct PlanSummary {
    /// The reason the whole graph runs in the interpreter; `None` when it is compiled.
    pub fallback: Option<String>,
    /// Kernels per kind (`Program::kind_counts`), empty for a whole-graph fallback.
    pub kind_counts: Vec<(&'static str, usize)>,
    /// The nodes of a compiled plan that the interpreter runs: (op name, node name).
    pub interp_nodes: Vec<(String, String)>,
}

impl PlanSummary {
    pub fn of(plan: &Plan) -> PlanSummary {
        match plan {
            Plan::Interpreted(why) => PlanSummary {
                fallback: Some(why.clone()),
                ..PlanSummary::default()
            },
            Plan::Compiled(c) => {
                let program = c.program();
                let interp_nodes = program
                    .kernels
                    .iter()
                    .filter_map(|k| match &k.kind {
                        codegen::kernel::KernelKind::Interp(i) => Some((
                            i.op.name().to_string(),
                            k.nodes.first().cloned().unwrap_or_default(),
                        )),
                        codegen::kernel::KernelKind::Pointwise(_)
                        | codegen::kernel::KernelKind::Row(_)
                        | codegen::kernel::KernelKind::Reduce(_)
                        | codegen::kernel::KernelKind::Gemm(_)
                        | codegen::kernel::KernelKind::Conv(_) => None,
                    })
                    .collect();
                PlanSummary {
                    fallback: None,
                    kind_counts: program.kind_counts(),
                    interp_nodes,
                }
            }
        }
    }

    /// The plan of `exe` for `feeds`, summarized.
    pub fn of_run(
        exe: &Executable,
        feeds: &HashMap<String, Tensor>,
    ) -> Result<PlanSummary, tenfold::Error> {
        exe.plan(feeds).map(|p| PlanSummary::of(&p))
    }

    /// Kernels compiled to native code (every kind but `interp`).
    pub fn compiled_kernels(&self) -> usize {
        self.kind_counts
            .iter()
            .filter(|(label, _)| *label != "interp")
            .map(|(_, n)| n)
            .sum()
    }

    /// `pointwise 3, gemm 1, interp 1`, or `whole graph interpreted: <reason>`.
    pub fn describe(&self) -> String {
        match &self.fallback {
            Some(why) => format!("whole graph interpreted: {why}"),
            None => self
                .kind_counts
                .iter()
                .map(|(label, n)| format!("{label} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The message of a caught panic.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
