//! Shared by the integration tests: loading ONNX test-case folders (`model.onnx` plus
//! `test_data_set_N/{input,output}_K.pb`) and comparing tensors with stated tolerances.
#![allow(dead_code)]

use ir::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
pub fn check_case(
    graph: &ir::Graph,
    sets: &[DataSet],
    rtol: f64,
    atol: f64,
    run: impl Fn(&ir::Graph, &HashMap<String, Tensor>) -> Result<Vec<(String, Tensor)>, ir::Error>,
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
