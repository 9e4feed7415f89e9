//! `tenfold info --plan`: how a model compiles — the kernels, what each fused, and which nodes
//! run in the interpreter.

use super::args::{CompileArgs, FeedArgs};
use super::{feeds, summary};
use crate::compiler::{Model, Plan};
use crate::error::Error;
use codegen::kernel::{KernelKind, Program};
use serde_json::{Value as Json, json};
use std::fmt::Write;

/// The plan of `model` for inputs generated from its declared shapes (`dims` fixes symbolic
/// dims), as text and as JSON.
pub fn describe(
    model: &Model,
    dims: &[String],
    compile: &CompileArgs,
) -> Result<(String, Json), Error> {
    let compiler = compile.compiler();
    let exe = compiler.compile(model)?;
    let feed_args = FeedArgs {
        inputs: None,
        input: Vec::new(),
        dim: dims.to_vec(),
        seed: 0,
    };
    let feeds = feeds::build(model.graph(), &feed_args)?;
    let plan = exe.plan(&feeds.tensors)?;
    let mut text = String::new();
    let json = match &*plan {
        Plan::Interpreted(why) => {
            let _ = writeln!(
                text,
                "plan: the whole graph runs in the interpreter ({why})"
            );
            json!({ "compiled": false, "reason": why })
        }
        Plan::Compiled(c) => {
            let p = c.program();
            let mem = c.memory_plan();
            let counts: Vec<String> = p
                .kind_counts()
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            let interpreted = interpreted_nodes(p);
            let _ = writeln!(
                text,
                "plan: {} kernels for {} nodes ({})",
                p.kernels.len(),
                model.graph().nodes.len(),
                counts.join(", ")
            );
            text.push_str(&p.describe());
            let _ = writeln!(
                text,
                "memory: arena {} for {} of temps ({} in place), peak {}",
                summary::bytes(mem.arena_bytes as u64),
                summary::bytes(mem.unshared_bytes as u64),
                mem.in_place,
                summary::bytes(c.peak_bytes() as u64)
            );
            if interpreted.is_empty() {
                let _ = writeln!(text, "interpreted: none");
            } else {
                let _ = writeln!(text, "interpreted: {}", interpreted.join(", "));
            }
            json!({
                "compiled": true,
                "kernels": p.kernels.iter().map(|k| json!({
                    "kind": k.kind.label(),
                    "nodes": k.nodes,
                })).collect::<Vec<_>>(),
                "kind_counts": p.kind_counts().into_iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "interpreted": interpreted,
                "arena_bytes": mem.arena_bytes,
                "peak_bytes": c.peak_bytes(),
            })
        }
    };
    Ok((text, json))
}

/// Nodes left to the interpreter, as "name (Op)".
fn interpreted_nodes(p: &Program) -> Vec<String> {
    p.kernels
        .iter()
        .filter_map(|k| match &k.kind {
            KernelKind::Interp(ik) => Some(format!(
                "{} ({})",
                k.nodes.first().map(String::as_str).unwrap_or("?"),
                ik.op.name()
            )),
            KernelKind::Pointwise(_)
            | KernelKind::Row(_)
            | KernelKind::Reduce(_)
            | KernelKind::Gemm(_)
            | KernelKind::Conv(_) => None,
        })
        .collect()
}
