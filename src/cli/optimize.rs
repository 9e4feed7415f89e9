//! `tenfold optimize`: equality saturation on a model, written back as standard ONNX (every
//! structured form is plain MatMul, Reshape, Transpose...), with a report of what changed.

use super::Report;
use super::args::TargetArg;
use crate::compiler::Compiler;
use crate::error::Error;
use clap::Args;
use rewrites::{Limits, Options, RuleOptions, TargetDesc};
use serde_json::json;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct OptimizeArgs {
    /// The ONNX model to optimize
    #[arg(value_name = "MODEL.onnx")]
    pub model: PathBuf,
    /// Where to write the optimized model (default: MODEL.opt.onnx beside the input)
    #[arg(short = 'o', long = "output", value_name = "OUT.onnx")]
    pub output: Option<PathBuf>,
    /// The target whose costs extraction minimizes
    #[arg(long, value_enum, value_name = "T", default_value_t = TargetArg::Cpu)]
    pub target: TargetArg,
    /// Print the report (rules fired, FLOPs, bytes, modelled cost)
    #[arg(long)]
    pub report: bool,
    /// End the output with one line holding a JSON object of the report
    #[arg(long)]
    pub json: bool,
    /// Time budget of equality saturation, seconds
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub time_limit: f64,
    /// E-node budget of equality saturation
    #[arg(long, value_name = "N", default_value_t = Limits::default().nodes)]
    pub node_limit: usize,
    /// Iteration budget of equality saturation
    #[arg(long, value_name = "N", default_value_t = Limits::default().iterations)]
    pub iter_limit: usize,
    /// Allow approximate rewrites (SVD truncation, nearest Kronecker or Monarch) whose relative
    /// error on a weight is at most TOL; the report states each one's error
    #[arg(long, value_name = "TOL")]
    pub approx: Option<f64>,
}

fn default_output(model: &Path) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.opt.onnx"))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a model.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        Some(_) | None => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, "cannot write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, "cannot write", e)
    })
}

pub fn optimize(args: &OptimizeArgs) -> Result<Report, Error> {
    if !(args.time_limit.is_finite() && args.time_limit > 0.0) {
        return Err(Error::Invalid(format!(
            "--time-limit must be a positive number of seconds, not {}",
            args.time_limit
        )));
    }
    if let Some(tol) = args.approx
        && !(tol.is_finite() && tol > 0.0 && tol < 1.0)
    {
        return Err(Error::Invalid(format!(
            "--approx must be a relative error between 0 and 1, not {tol}"
        )));
    }
    let target = match args.target {
        TargetArg::Cpu => TargetDesc::cpu(),
        TargetArg::Cuda => TargetDesc::h200(),
    };
    let model = Compiler::new().load(&args.model)?;
    let opts = Options {
        target,
        limits: Limits {
            iterations: args.iter_limit,
            nodes: args.node_limit,
            time: Duration::from_secs_f64(args.time_limit),
        },
        rules: RuleOptions {
            approx: args.approx,
        },
    };
    let started = Instant::now();
    let (graph, report) = rewrites::optimize(model.graph(), &opts)
        .map_err(|e| Error::Invalid(format!("{}: cannot optimize: {e}", args.model.display())))?;
    let time_ms = started.elapsed().as_secs_f64() * 1e3;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.model));
    let bytes = ir::onnx::export_model_with(&graph, ir::onnx::ExportOptions::for_runtimes())
        .map_err(|e| Error::Invalid(format!("{}: cannot write ONNX: {e}", out.display())))?;
    write_atomic(&out, &bytes)?;

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 1.0 };
    // The report counts an op whose size depends on input values (a Loop, a data-dependent
    // shape) as 0: its figures then cover only the rest.
    let flops_known = ir::cost::graph_flops(model.graph()).is_some();
    let flops = format!(
        "{}{:.4e} -> {:.4e} ({:.2}x fewer)",
        if flops_known {
            "FLOPs "
        } else {
            "FLOPs of the ops of known size (the others depend on input values) "
        },
        report.flops_before,
        report.flops_after,
        ratio(report.flops_before, report.flops_after),
    );
    let mut stdout = String::new();
    let _ = writeln!(
        stdout,
        "{} -> {}: {} nodes -> {}, {flops}, modelled time {:.3} ms -> {:.3} ms, {:.0} ms",
        args.model.display(),
        out.display(),
        model.graph().nodes.len(),
        graph.nodes.len(),
        report.cost_before * 1e3,
        report.cost_after * 1e3,
        time_ms
    );
    if args.report || args.json {
        let _ = writeln!(
            stdout,
            "  e-graph: {} nodes, {} classes, {} iterations, stopped: {}",
            report.egraph_nodes, report.egraph_classes, report.iterations, report.stop_reason
        );
        let _ = writeln!(
            stdout,
            "  bytes moved {:.4e} -> {:.4e}",
            report.bytes_before, report.bytes_after
        );
        for (rule, n) in &report.rules_fired {
            let _ = writeln!(stdout, "  rule {rule}: {n}");
        }
        for a in &report.approximations {
            let _ = writeln!(
                stdout,
                "  approximation {}: {} (relative error {:.3e})",
                a.rule, a.what, a.rel_error
            );
        }
        if report.kept_original {
            let _ = writeln!(
                stdout,
                "  no cheaper program found: the model is written unchanged"
            );
        }
    }
    if args.json {
        let obj = json!({
            "model": args.model.display().to_string(),
            "output": out.display().to_string(),
            "target": target_name(args.target),
            "flops_before": report.flops_before,
            "flops_after": report.flops_after,
            "flops_known": flops_known,
            "bytes_before": report.bytes_before,
            "bytes_after": report.bytes_after,
            "cost_before": report.cost_before,
            "cost_after": report.cost_after,
            "rules_fired": report.rules_fired,
            "egraph_nodes": report.egraph_nodes,
            "egraph_classes": report.egraph_classes,
            "iterations": report.iterations,
            "stop_reason": report.stop_reason,
            "approximations": report.approximations,
            "kept_original": report.kept_original,
            "nodes_before": model.graph().nodes.len(),
            "nodes_after": graph.nodes.len(),
            "time_ms": time_ms,
        });
        let _ = writeln!(stdout, "{obj}");
    }
    Ok(Report {
        stdout,
        notes: vec![],
    })
}

fn target_name(t: TargetArg) -> &'static str {
    match t {
        TargetArg::Cpu => "cpu",
        TargetArg::Cuda => "cuda",
    }
}
