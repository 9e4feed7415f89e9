//! The bundled transformer fixtures (GPT-2, BERT, ViT; exported from PyTorch with the dynamo
//! exporter at opset 18) run through the reference interpreter and match ONNX Runtime's outputs
//! saved beside them: |got - want| <= 1e-6 + 1e-4 * |want| for every element.

mod common;

use common::{LoadError, check_case, load_case};
use std::path::Path;

const RTOL: f64 = 1e-4;
const ATOL: f64 = 1e-6;

fn check_fixture(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let (graph, sets) = match load_case(&dir) {
        Ok(c) => c,
        Err(LoadError::Unsupported(m)) | Err(LoadError::Failed(m)) => panic!("{name}: {m}"),
    };
    assert!(!sets.is_empty(), "{name} has no test data");
    if let Err(m) = check_case(&graph, &sets, RTOL, ATOL, ir::interp::run) {
        panic!("{name}: {m}");
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
