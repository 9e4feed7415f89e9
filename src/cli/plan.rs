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
            let (native, interpreted): (Vec<_>, Vec<_>) =
                interp_nodes(p).into_iter().partition(|n| n.1);
            let names = |v: Vec<(String, bool)>| v.into_iter().map(|n| n.0).collect::<Vec<_>>();
            let (native, interpreted) = (names(native), names(interpreted));
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
            if !native.is_empty() {
                let _ = writeln!(text, "run natively: {}", native.join(", "));
            }
            json!({
                "compiled": true,
                "kernels": p.kernels.iter().map(|k| json!({
                    "kind": k.kind.label(),
                    "nodes": k.nodes,
                })).collect::<Vec<_>>(),
                "kind_counts": p.kind_counts().into_iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "interpreted": interpreted,
                "native": native,
                "arena_bytes": mem.arena_bytes,
                "peak_bytes": c.peak_bytes(),
            })
        }
    };
    Ok((text, json))
}

/// The nodes of `Interp` kernels, as "name (Op)", each with whether the executor runs it
/// natively on its buffers rather than in the interpreter.
fn interp_nodes(p: &Program) -> Vec<(String, bool)> {
    p.kernels
        .iter()
        .filter_map(|k| match &k.kind {
            KernelKind::Interp(ik) => Some((
                format!(
                    "{} ({})",
                    k.nodes.first().map(String::as_str).unwrap_or("?"),
                    ik.op.name()
                ),
                codegen::runtime::runs_natively(p, k),
            )),
            KernelKind::Pointwise(_)
            | KernelKind::Row(_)
            | KernelKind::Reduce(_)
            | KernelKind::Gemm(_)
            | KernelKind::Conv(_) => None,
        })
        .collect()
}
