//! The bundled transformer fixtures (GPT-2, BERT, ViT; exported from PyTorch with the dynamo
//! exporter at opset 18) run through the reference interpreter and through the compiled path
//! (-O2, one and two threads) and match ONNX Runtime's outputs saved beside them:
//! |got - want| <= 1e-6 + 1e-4 * |want| for every element. The compiled plans must be compiled
//! kernels, with no node left to the interpreter except those listed in [`ALLOWED_INTERP`].
//! Each fixture is also exported back to ONNX (`ir::onnx::export_model`), re-imported and
//! interpreted against the same outputs.

mod common;

use common::{LoadError, PlanSummary, check_case, compile_graph, load_case};
use std::path::Path;
use tenfold::OptLevel;

const RTOL: f64 = 1e-4;
const ATOL: f64 = 1e-6;

/// Nodes the compiled plans may leave to the interpreter: (fixture, op name, why).
const ALLOWED_INTERP: &[(&str, &str, &str)] = &[
    (
        "bert",
        "GatherND",
        "builds the padding mask from attention_mask (2x16 elements, once per run); lowering \
         has no GatherND",
    ),
    (
        "vit",
        "Concat",
        "prepends the CLS token to the patch embeddings (17x64 elements, once per run); \
         lowering leaves Concat to the interpreter",
    ),
];

fn load_fixture(name: &str) -> (ir::Graph, Vec<common::DataSet>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let (graph, sets) = match load_case(&dir) {
        Ok(c) => c,
        Err(LoadError::Unsupported(m)) | Err(LoadError::Failed(m)) => panic!("{name}: {m}"),
    };
    assert!(!sets.is_empty(), "{name} has no test data");
    (graph, sets)
}

fn check_fixture(name: &str) {
    let (graph, sets) = load_fixture(name);
    if let Err(m) = check_case(&graph, &sets, RTOL, ATOL, ir::interp::run) {
        panic!("{name}: {m}");
    }
}

/// Exports the fixture to ONNX, imports the bytes again and checks the re-imported graph
/// through the interpreter: same input and output names, same outputs.
fn check_fixture_exported(name: &str) {
    let (graph, sets) = load_fixture(name);
    let bytes = ir::onnx::export_model(&graph).unwrap_or_else(|e| panic!("{name}: exporting: {e}"));
    let back = ir::onnx::import_model(&bytes, None)
        .unwrap_or_else(|e| panic!("{name}: re-importing the export: {e}"));
    let names = |g: &ir::Graph, ids: &[ir::ValueId]| -> Vec<String> {
        ids.iter().map(|&v| g.value(v).name.clone()).collect()
    };
    assert_eq!(names(&back, &back.inputs), names(&graph, &graph.inputs));
    assert_eq!(names(&back, &back.outputs), names(&graph, &graph.outputs));
    if let Err(m) = check_case(&back, &sets, RTOL, ATOL, ir::interp::run) {
        panic!("{name}, exported and re-imported: {m}");
    }
}

/// Compiles the fixture at -O2 with `threads` threads, checks its plan and its outputs.
fn check_fixture_compiled(name: &str, threads: usize) {
    let (graph, sets) = load_fixture(name);
    let exe = compile_graph(&graph, OptLevel::O2, threads)
        .unwrap_or_else(|e| panic!("{name}: compiling: {e}"));
    let plan = PlanSummary::of_run(&exe, &sets[0].inputs)
        .unwrap_or_else(|e| panic!("{name}: planning: {e}"));
    println!("{name}, {threads} thread(s): {}", plan.describe());
    for (fixture, op, why) in ALLOWED_INTERP {
        if *fixture == name && plan.interp_nodes.iter().any(|(o, _)| o == op) {
            println!("  interpreted {op}: {why}");
        }
    }
    if let Some(why) = &plan.fallback {
        panic!("{name}: the whole graph runs in the interpreter: {why}");
    }
    let unexpected: Vec<String> = plan
        .interp_nodes
        .iter()
        .filter(|(op, _)| {
            !ALLOWED_INTERP
                .iter()
                .any(|(fixture, allowed, _)| *fixture == name && allowed == op)
        })
        .map(|(op, node)| format!("{op} '{node}'"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{name}: nodes left to the interpreter: {}",
        unexpected.join(", ")
    );
    if let Err(m) = check_case(&graph, &sets, RTOL, ATOL, |_, feeds| exe.run(feeds)) {
        panic!("{name}, compiled with {threads} thread(s): {m}");
    }
}

#[test]
fn gpt2_matches_onnx_runtime() {
    check_fixture("gpt2");
}

#[test]
fn bert_matches_onnx_runtime() {
    check_fixture("bert");
}

#[test]
fn vit_matches_onnx_runtime() {
    check_fixture("vit");
}

#[test]
fn gpt2_exported_matches_onnx_runtime() {
    check_fixture_exported("gpt2");
}

#[test]
fn bert_exported_matches_onnx_runtime() {
    check_fixture_exported("bert");
}

#[test]
fn vit_exported_matches_onnx_runtime() {
    check_fixture_exported("vit");
}

#[test]
fn gpt2_compiled_matches_onnx_runtime() {
    check_fixture_compiled("gpt2", 1);
    check_fixture_compiled("gpt2", 2);
}

#[test]
fn bert_compiled_matches_onnx_runtime() {
    check_fixture_compiled("bert", 1);
    check_fixture_compiled("bert", 2);
}

#[test]
fn vit_compiled_matches_onnx_runtime() {
    check_fixture_compiled("vit", 1);
    check_fixture_compiled("vit", 2);
}
