//! Importer tests for old-opset forms and attribute handling: models built in memory,
//! imported and run through the interpreter.

use crate::dtype::DType;
use crate::onnx::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, ValueInfoProto};
use crate::onnx::test_protos::{float_attr, int_attr, node, string_attr, typed};
use crate::onnx::{import_proto, tensor_to_proto};
use crate::tensor::Tensor;
use crate::{Error, interp};
use std::collections::HashMap;

/// A graph input with a static shape.
fn input(name: &str, t: &Tensor) -> ValueInfoProto {
    typed(name, t.dtype(), t.shape())
}

/// Imports a one-opset model with graph inputs `feeds` and constant `initializers`, runs
/// it, and returns its outputs in order.
fn run(
    opset: i64,
    nodes: Vec<NodeProto>,
    feeds: &[(&str, Tensor)],
    initializers: &[(&str, Tensor)],
    outputs: &[&str],
) -> Result<Vec<Tensor>, Error> {
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(GraphProto {
            node: nodes,
            input: feeds.iter().map(|(n, t)| input(n, t)).collect(),
            initializer: initializers
                .iter()
                .map(|(n, t)| tensor_to_proto(n, t))
                .collect(),
            output: outputs
                .iter()
                .map(|n| ValueInfoProto {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let graph = import_proto(&model, None)?;
    let feeds: HashMap<String, Tensor> = feeds
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    Ok(interp::run(&graph, &feeds)?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
}

#[test]
fn opset_6_axis_broadcast_aligns_the_second_input_at_the_axis() {
    let x = f32s(&[2, 3, 2], &[0.0; 12]);
    let b = f32s(&[3], &[1.0, 2.0, 3.0]);
    let legacy = || vec![int_attr("broadcast", 1), int_attr("axis", 1)];
    // `x`'s rank is declared; `r`'s is only known once shapes are inferred.
    let nodes = vec![
        node("Add", &["x", "b"], "y", legacy()),
        node("Relu", &["x"], "r", vec![]),
        node("Add", &["r", "b"], "z", legacy()),
    ];
    let out = run(6, nodes, &[("x", x)], &[("b", b)], &["y", "z"]).unwrap();
    let want = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
    for t in &out {
        assert_eq!(t.shape(), &[2, 3, 2]);
        assert_eq!(t.as_f32().unwrap(), &want);
    }
}

#[test]
fn clip_before_opset_11_takes_its_bounds_from_attributes_in_the_input_dtype() {
    let x = Tensor::from_f64(DType::F64, vec![3], &[-5.0, 0.5, 5.0]).unwrap();
    let attrs = vec![float_attr("min", -1.0), float_attr("max", 1.0)];
    let nodes = vec![node("Clip", &["x"], "y", attrs)];
    let out = run(6, nodes, &[("x", x.clone())], &[], &["y"]).unwrap();
    assert_eq!(out[0].to_f64_vec(), vec![-1.0, 0.5, 1.0]);
    // Opset 1 bounds are optional: without them Clip changes nothing.
    let nodes = vec![node("Clip", &["x"], "y", vec![])];
    let out = run(1, nodes, &[("x", x.clone())], &[], &["y"]).unwrap();
    assert_eq!(out[0], x);
}

#[test]
fn cast_before_opset_6_names_its_target() {
    let x = f32s(&[2], &[1.9, -2.9]);
    let nodes = vec![node("Cast", &["x"], "y", vec![string_attr("to", "INT32")])];
    let out = run(5, nodes, &[("x", x)], &[], &["y"]).unwrap();
    assert_eq!(out[0].dtype(), DType::I32);
    assert_eq!(out[0].to_i128_vec(), vec![1, -2]);
}

#[test]
fn cast_to_string_and_other_e8m0_rounding_modes_are_unsupported() {
    let x = f32s(&[1], &[1.0]);
    let to_string = vec![int_attr("to", 8)];
    let err = run(
        13,
        vec![node("Cast", &["x"], "y", to_string)],
        &[("x", x.clone())],
        &[],
        &["y"],
    );
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("STRING is not supported")
    );
    let to_e8m0 = vec![int_attr("to", 24), string_attr("round_mode", "nearest")];
    let err = run(
        24,
        vec![node("Cast", &["x"], "y", to_e8m0)],
        &[("x", x)],
        &[],
        &["y"],
    );
    assert!(err.unwrap_err().to_string().contains("not supported"));
}

#[test]
fn mean_divides_the_broadcast_sum_by_the_input_count() {
    let a = Tensor::from_f64(DType::F64, vec![2], &[1.0, 2.0]).unwrap();
    let b = Tensor::from_f64(DType::F64, vec![1], &[4.0]).unwrap();
    let c = Tensor::from_f64(DType::F64, vec![2], &[1.0, 3.0]).unwrap();
    let nodes = vec![node("Mean", &["a", "b", "c"], "y", vec![])];
    let feeds = [("a", a), ("b", b), ("c", c)];
    let out = run(13, nodes, &feeds, &[], &["y"]).unwrap();
    assert_eq!(out[0].to_f64_vec(), vec![2.0, 3.0]);
}

#[test]
fn bit_shift_needs_a_known_direction() {
    let x = Tensor::from_i128(DType::U8, vec![1], &[1]).unwrap();
    let feeds = [("x", x.clone()), ("s", x)];
    let err = run(
        11,
        vec![node("BitShift", &["x", "s"], "y", vec![])],
        &feeds,
        &[],
        &["y"],
    );
    assert!(err.unwrap_err().to_string().contains("'direction'"));
    let up = vec![string_attr("direction", "UP")];
    let err = run(
        11,
        vec![node("BitShift", &["x", "s"], "y", up)],
        &feeds,
        &[],
        &["y"],
    );
    assert!(err.unwrap_err().to_string().contains("'UP'"));
}
