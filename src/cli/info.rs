//! `tenfold info`: a model's inputs, outputs, op histogram, parameter count and FLOPs.

use super::Report;
use super::args::CompileArgs;
use super::{feeds, summary};
use crate::compiler::{Compiler, Model};
use crate::error::Error;
use clap::Args;
use ir::shape::static_shape;
use ir::{Dim, Graph, Source, TensorType, ValueId};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The ONNX model to describe
    #[arg(value_name = "MODEL.onnx")]
    pub model: PathBuf,
    /// Size of a symbolic dim for the FLOP count (repeatable; unset symbolic dims are 1)
    #[arg(long = "dim", value_name = "NAME=SIZE")]
    pub dim: Vec<String>,
    /// Print one line holding a JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// Also compile the model and show its kernels: what each fused, and which nodes run in the
    /// interpreter
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub compile: CompileArgs,
}

/// The FLOPs of a model at concrete input shapes, or why they are unknown.
struct FlopCount {
    flops: Result<u64, String>,
    /// The size each symbolic dim of the inputs was given.
    dims: BTreeMap<String, usize>,
}

pub fn info(args: &InfoArgs) -> Result<Report, Error> {
    let model = Compiler::new().load(&args.model)?;
    let graph = model.graph();
    let ops = op_histogram(graph);
    let (parameters, parameter_bytes) = parameters(graph);
    let flop_count = count_flops(&model, &feeds::parse_dims(&args.dim)?);

    let plan = if args.plan {
        Some(super::plan::describe(&model, &args.dim, &args.compile)?)
    } else {
        None
    };
    let mut stdout = if args.json {
        let flops = flop_count.flops.as_ref().ok();
        let mut obj = json!({
            "model": args.model.display().to_string(),
            "graph": graph.name,
            "inputs": graph.inputs.iter().map(|&v| value_json(graph, v)).collect::<Vec<_>>(),
            "outputs": graph.outputs.iter().map(|&v| value_json(graph, v)).collect::<Vec<_>>(),
            "nodes": graph.nodes.len(),
            "ops": ops.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "parameters": parameters,
            "parameter_bytes": parameter_bytes,
            "flops": flops,
            "dims": flop_count.dims,
        });
        if let Err(why) = &flop_count.flops {
            obj["flops_unknown_reason"] = json!(why);
        }
        if let Some((_, plan)) = &plan {
            obj["plan"] = plan.clone();
        }
        format!("{obj}\n")
    } else {
        text(args, graph, &ops, parameters, parameter_bytes, &flop_count)
    };
    if let (Some((text, _)), false) = (&plan, args.json) {
        stdout.push_str(text);
    }
    Ok(Report {
        stdout,
        notes: Vec::new(),
    })
}

fn text(
    args: &InfoArgs,
    graph: &Graph,
    ops: &[(&'static str, usize)],
    parameters: u64,
    parameter_bytes: u64,
    flop_count: &FlopCount,
) -> String {
    let mut out = String::new();
    let graph_name = if graph.name.is_empty() {
        String::new()
    } else {
        format!(" (graph '{}')", graph.name)
    };
    let _ = writeln!(out, "model: {}{graph_name}", args.model.display());
    for (title, ids) in [("inputs", &graph.inputs), ("outputs", &graph.outputs)] {
        let _ = writeln!(out, "{title}:");
        for &v in ids {
            let _ = writeln!(
                out,
                "  {}: {}",
                graph.value_label(v),
                feeds::describe(graph.value(v).ty.as_ref())
            );
        }
    }
    let _ = writeln!(out, "ops: {} nodes", graph.nodes.len());
    let width = ops.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, n) in ops {
        let _ = writeln!(out, "  {name:<width$}  {n}");
    }
    let _ = writeln!(
        out,
        "parameters: {} ({})",
        summary::count(parameters),
        summary::bytes(parameter_bytes)
    );
    let at = if flop_count.dims.is_empty() {
        String::new()
    } else {
        let dims: Vec<String> = flop_count
            .dims
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(" at {}", dims.join(", "))
    };
    match &flop_count.flops {
        Ok(f) => {
            let scaled = if *f >= 1000 {
                format!(" ({}FLOP)", summary::metric(*f))
            } else {
                String::new()
            };
            let _ = writeln!(out, "flops: {}{scaled}{at}", summary::count(*f));
        }
        Err(why) => {
            let _ = writeln!(out, "flops: unknown ({why}){at}");
        }
    }
    out
}

/// Nodes per op name, most frequent first.
fn op_histogram(graph: &Graph) -> Vec<(&'static str, usize)> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for node in &graph.nodes {
        *counts.entry(node.op.name()).or_default() += 1;
    }
    let mut ops: Vec<_> = counts.into_iter().collect();
    ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ops
}

/// Elements and bytes of every constant (initializers and constant nodes).
fn parameters(graph: &Graph) -> (u64, u64) {
    graph
        .values
        .iter()
        .filter_map(|v| match &v.source {
            Source::Constant(t) => Some((t.len() as u64, t.dtype().bytes_for(t.len()) as u64)),
            Source::Input | Source::Node { .. } => None,
        })
        .fold((0, 0), |(n, b), (tn, tb)| (n + tn, b + tb))
}

/// Re-infers the graph with every input at a concrete shape and sums the ops' FLOPs.
fn count_flops(model: &Model, dims: &BTreeMap<String, usize>) -> FlopCount {
    let mut graph = model.graph().clone();
    let mut defaulted = Vec::new();
    let mut reason = None;
    for &input in &graph.inputs.clone() {
        let value = graph.value(input);
        let Some(ty) = value.ty.clone() else {
            reason.get_or_insert_with(|| format!("input '{}' has no declared type", value.name));
            continue;
        };
        match feeds::concrete_shape(&value.name, &ty, dims, &mut defaulted) {
            Ok(shape) => {
                graph.value_mut(input).ty = Some(TensorType::new(ty.dtype, static_shape(&shape)))
            }
            Err(e) => {
                reason.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for &input in &model.graph().inputs {
        for d in model
            .graph()
            .value(input)
            .ty
            .iter()
            .flat_map(|t| t.shape.iter().flatten())
        {
            if let Dim::Symbolic(s) = d {
                used.insert(s.clone(), dims.get(s).copied().unwrap_or(1));
            }
        }
    }
    let flops = match reason {
        Some(why) => Err(why),
        None => match ir::infer::infer_graph(&mut graph) {
            Err(e) => Err(format!("shape inference at these input shapes failed: {e}")),
            Ok(()) => ir::cost::graph_flops(&graph)
                .ok_or_else(|| "some shapes depend on input values".to_string()),
        },
    };
    FlopCount { flops, dims: used }
}

fn value_json(graph: &Graph, v: ValueId) -> Json {
    let ty = graph.value(v).ty.as_ref();
    let shape = ty.and_then(|t| t.shape.as_ref()).map(|s| {
        s.iter()
            .map(|d| match d {
                Dim::Static(n) => json!(n),
                Dim::Symbolic(name) => json!(name),
            })
            .collect::<Vec<_>>()
    });
    json!({
        "name": graph.value_label(v),
        "dtype": ty.map(|t| t.dtype.name()),
        "shape": shape,
    })
}
