//! Round-trip tests of the ONNX exporter: small graphs built in Rust are exported, re-imported
//! with `import_model` and run through the interpreter against the original graph.

use super::{ExportOptions, export_model, export_model_with, export_proto, export_proto_with};
use crate::dtype::DType;
use crate::graph::{Graph, ValueId};
use crate::onnx::import_model;
use crate::onnx::proto::{tensor_shape_proto::dimension::Value as DimValue, type_proto};
use crate::op::*;
use crate::shape::{Dim, TensorType};
use crate::tensor::Tensor;
use crate::{infer, interp};
use std::collections::HashMap;

fn input(g: &mut Graph, name: &str, shape: &[usize]) -> ValueId {
    let shape = shape.iter().map(|&d| Dim::Static(d)).collect();
    g.add_input(name, TensorType::new(DType::F32, shape))
}

fn ints(g: &mut Graph, name: &str, v: &[i64]) -> ValueId {
    g.add_constant(name, Tensor::from_i64(vec![v.len()], v.to_vec()).unwrap())
}

/// Deterministic values in [-2, 2).
fn data(shape: &[usize], seed: u32) -> Tensor {
    let n: usize = shape.iter().product();
    let v = (0..n as u32)
        .map(|i| {
            let h = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 4096;
            h as f32 / 1024.0 - 2.0
        })
        .collect();
    Tensor::from_f32(shape.to_vec(), v).unwrap()
}

fn node(
    g: &mut Graph,
    name: &str,
    op: Op,
    inputs: &[Option<ValueId>],
    n_out: usize,
) -> Vec<ValueId> {
    let names = (0..n_out).map(|k| format!("{name}_out{k}")).collect();
    let id = g.add_node(name, op, inputs.to_vec(), names);
    g.node(id).outputs.clone()
}

/// Named outputs of one run.
type Outputs = Vec<(String, Tensor)>;

/// Exports `g`, re-imports it, runs both on `feeds`; returns (original, re-imported) outputs.
fn round_trip(mut g: Graph, feeds: &[(&str, Tensor)]) -> (Outputs, Outputs, Graph) {
    infer::infer_graph(&mut g).unwrap();
    let feeds: HashMap<String, Tensor> = feeds
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let want = interp::run(&g, &feeds).unwrap();
    let bytes = export_model(&g).unwrap();
    let back = import_model(&bytes, None).unwrap();
    let got = interp::run(&back, &feeds).unwrap();
    (want, got, back)
}

fn assert_same(want: &[(String, Tensor)], got: &[(String, Tensor)]) {
    assert_eq!(want.len(), got.len());
    for ((wn, w), (gn, g)) in want.iter().zip(got) {
        assert_eq!(wn, gn, "output names");
        assert_eq!(w, g, "output '{wn}' differs");
    }
}

fn assert_close(want: &[(String, Tensor)], got: &[(String, Tensor)], tol: f64) {
    assert_eq!(want.len(), got.len());
    for ((wn, w), (gn, g)) in want.iter().zip(got) {
        assert_eq!(wn, gn, "output names");
        assert_eq!(w.shape(), g.shape(), "output '{wn}' shape");
        for (a, b) in w.to_f64_vec().iter().zip(g.to_f64_vec()) {
            assert!(
                (a - b).abs() <= tol * (1.0 + a.abs()),
                "output '{wn}': {a} vs {b}"
            );
        }
    }
}

#[test]
fn matmul_with_a_constant_weight() {
    let mut g = Graph::new("mm");
    let x = input(&mut g, "x", &[2, 3]);
    let w = g.add_constant("w", data(&[3, 4], 1));
    let unused = g.add_constant("unused", data(&[5], 2));
    let _ = unused;
    let y = node(&mut g, "mm", Op::MatMul, &[Some(x), Some(w)], 1);
    g.outputs.push(y[0]);
    let proto = export_proto(&{
        let mut g = g.clone();
        infer::infer_graph(&mut g).unwrap();
        g
    })
    .unwrap();
    assert_eq!(proto.ir_version, 10);
    assert_eq!(proto.opset_import[0].version, 21);
    let graph = proto.graph.as_ref().unwrap();
    assert_eq!(graph.input[0].name, "x");
    assert_eq!(graph.output[0].name, "mm_out0");
    let inits: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(inits, ["w"], "unused constants are not written");
    let (want, got, _) = round_trip(g, &[("x", data(&[2, 3], 3))]);
    assert_same(&want, &got);
}

#[test]
fn reshape_with_a_constant_shape() {
    let mut g = Graph::new("reshape");
    let x = input(&mut g, "x", &[2, 3, 4]);
    let shape = ints(&mut g, "shape", &[0, -1]);
    let y = node(
        &mut g,
        "r",
        Op::Reshape { allowzero: false },
        &[Some(x), Some(shape)],
        1,
    );
    g.outputs.push(y[0]);
    let (want, got, back) = round_trip(g, &[("x", data(&[2, 3, 4], 4))]);
    assert_same(&want, &got);
    assert_eq!(want[0].1.shape(), [2, 12]);
    assert!(back.constant(back.nodes[0].inputs[1].unwrap()).is_some());
}

#[test]
fn transpose_with_a_perm() {
    let mut g = Graph::new("t");
    let x = input(&mut g, "x", &[2, 3, 4]);
    let perm = Some(vec![1, 2, 0]);
    let y = node(&mut g, "t", Op::Transpose { perm }, &[Some(x)], 1);
    let z = node(&mut g, "t2", Op::Transpose { perm: None }, &[Some(y[0])], 1);
    g.outputs.extend([y[0], z[0]]);
    let (want, got, back) = round_trip(g, &[("x", data(&[2, 3, 4], 5))]);
    assert_same(&want, &got);
    assert_eq!(want[1].1.shape(), [2, 4, 3]);
    assert_eq!(back.nodes[1].op, Op::Transpose { perm: None });
}

#[test]
fn gemm_with_attributes() {
    let mut g = Graph::new("gemm");
    let a = input(&mut g, "a", &[3, 2]);
    let b = input(&mut g, "b", &[4, 3]);
    let c = g.add_constant("c", data(&[4], 6));
    let attrs = GemmAttrs {
        alpha: 0.5,
        beta: 2.0,
        trans_a: true,
        trans_b: true,
    };
    let y = node(
        &mut g,
        "gemm",
        Op::Gemm(attrs),
        &[Some(a), Some(b), Some(c)],
        1,
    );
    g.outputs.push(y[0]);
    let (want, got, back) = round_trip(g, &[("a", data(&[3, 2], 7)), ("b", data(&[4, 3], 8))]);
    assert_same(&want, &got);
    assert_eq!(back.nodes[0].op, Op::Gemm(attrs));
}

#[test]
fn split_into_two_outputs() {
    let mut g = Graph::new("split");
    let x = input(&mut g, "x", &[2, 6]);
    let sizes = ints(&mut g, "sizes", &[2, 4]);
    let split = |n| Op::Split {
        axis: 1,
        num_outputs: n,
    };
    let by_sizes = node(&mut g, "s1", split(2), &[Some(x), Some(sizes)], 2);
    let halves = node(&mut g, "s2", split(2), &[Some(x)], 2);
    g.outputs.extend(by_sizes.iter().chain(&halves));
    let (want, got, _) = round_trip(g, &[("x", data(&[2, 6], 9))]);
    assert_same(&want, &got);
    assert_eq!(want[1].1.shape(), [2, 4]);
    assert_eq!(want[2].1.shape(), [2, 3]);
}

#[test]
fn softmax_along_an_axis_and_in_the_old_2d_form() {
    let mut g = Graph::new("softmax");
    let x = input(&mut g, "x", &[2, 3, 4]);
    let modern = Op::Softmax {
        kind: SoftmaxKind::Softmax,
        axis: 1,
        coerce_2d: false,
    };
    let old = Op::Softmax {
        kind: SoftmaxKind::LogSoftmax,
        axis: 1,
        coerce_2d: true,
    };
    let hard = Op::Softmax {
        kind: SoftmaxKind::Hardmax,
        axis: 2,
        coerce_2d: true,
    };
    let y = node(&mut g, "sm", modern, &[Some(x)], 1);
    let z = node(&mut g, "lsm", old, &[Some(x)], 1);
    let h = node(&mut g, "hm", hard, &[Some(x)], 1);
    g.outputs.extend([y[0], z[0], h[0]]);
    let (want, got, back) = round_trip(g, &[("x", data(&[2, 3, 4], 10))]);
    assert_close(&want, &got, 1e-6);
    assert!(
        back.nodes
            .iter()
            .any(|n| matches!(n.op, Op::Flatten { axis: 1 })),
        "the 2-D form flattens"
    );
}

#[test]
fn layer_norm_with_optional_outputs_and_bias_omitted() {
    let mut g = Graph::new("ln");
    let x = input(&mut g, "x", &[2, 3, 4]);
    let scale = g.add_constant("scale", data(&[4], 11));
    let bias = g.add_constant("bias", data(&[4], 12));
    let op = Op::LayerNormalization {
        axis: -1,
        epsilon: 1e-3,
        stash_type: DType::F32,
    };
    let y = node(
        &mut g,
        "ln",
        op.clone(),
        &[Some(x), Some(scale), Some(bias)],
        1,
    );
    let z = node(&mut g, "ln_nobias", op, &[Some(x), Some(scale), None], 1);
    g.outputs.extend([y[0], z[0]]);
    let (want, got, back) = round_trip(g, &[("x", data(&[2, 3, 4], 13))]);
    assert_same(&want, &got);
    assert_eq!(
        back.nodes[1].inputs.len(),
        2,
        "a trailing omitted input is dropped"
    );
    assert_eq!(back.nodes[1].outputs.len(), 1);
}

#[test]
fn an_omitted_middle_input_is_an_empty_name() {
    let mut g = Graph::new("clip");
    let x = input(&mut g, "x", &[5]);
    let hi = g.add_constant("hi", Tensor::scalar_f32(0.5));
    let y = node(&mut g, "clip", Op::Clip, &[Some(x), None, Some(hi)], 1);
    g.outputs.push(y[0]);
    let mut typed = g.clone();
    infer::infer_graph(&mut typed).unwrap();
    let proto = export_proto(&typed).unwrap();
    assert_eq!(proto.graph.unwrap().node[0].input, ["x", "", "hi"]);
    let (want, got, _) = round_trip(g, &[("x", data(&[5], 14))]);
    assert_same(&want, &got);
}

#[test]
fn a_constant_output_is_an_identity_of_its_initializer() {
    let mut g = Graph::new("io");
    let x = input(&mut g, "x", &[2]);
    let c = g.add_constant("c", data(&[2], 15));
    let y = node(
        &mut g,
        "add",
        Op::Binary(BinaryOp::Add),
        &[Some(x), Some(c)],
        1,
    );
    g.outputs.extend([c, y[0]]);
    let (want, got, back) = round_trip(g, &[("x", data(&[2], 16))]);
    assert_same(&want, &got);
    let names: Vec<&str> = back
        .outputs
        .iter()
        .map(|&v| back.value(v).name.as_str())
        .collect();
    assert_eq!(names, ["c", "add_out0"]);
    assert_eq!(back.nodes[0].op, Op::Identity);
}

/// ONNX (and ONNX Runtime) accept a graph input listed as a graph output: it is written as is
/// and re-imports as the same pass-through.
#[test]
fn an_input_output_keeps_its_name() {
    let mut g = Graph::new("io");
    let x = input(&mut g, "x", &[2]);
    let y = node(&mut g, "neg", Op::Unary(UnaryOp::Neg), &[Some(x)], 1);
    g.outputs.extend([x, y[0]]);
    infer::infer_graph(&mut g).unwrap();
    let graph = export_proto(&g).unwrap().graph.unwrap();
    let outputs: Vec<&str> = graph.output.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(outputs, ["x", "neg_out0"]);
    assert_eq!(graph.input[0].name, "x");
    assert_eq!(graph.node.len(), 1);
    let (want, got, back) = round_trip(g, &[("x", data(&[2], 9))]);
    assert_same(&want, &got);
    assert_eq!(back.outputs[0], back.inputs[0]);
}

/// A value other than the input cannot be an output under the input's name.
#[test]
fn an_output_named_like_a_different_input_is_refused() {
    let mut g = Graph::new("clash");
    let x = input(&mut g, "x", &[2]);
    let y = node(&mut g, "neg", Op::Unary(UnaryOp::Neg), &[Some(x)], 1)[0];
    g.value_mut(y).name = "x".into();
    g.outputs.push(y);
    let err = g.validate().unwrap_err().to_string();
    assert!(
        err.contains("two different graph inputs or outputs are named 'x'"),
        "{err}"
    );
}

#[test]
fn clashing_and_empty_names_are_made_unique() {
    let mut g = Graph::new("names");
    let x = input(&mut g, "x", &[3]);
    let a = g.add_node(
        "n1",
        Op::Unary(UnaryOp::Neg),
        vec![Some(x)],
        vec!["x".into()],
    );
    let a = g.node(a).outputs[0];
    let b = g.add_node(
        "n1",
        Op::Unary(UnaryOp::Exp),
        vec![Some(a)],
        vec![String::new()],
    );
    let b = g.node(b).outputs[0];
    let c = g.add_node("", Op::Unary(UnaryOp::Abs), vec![Some(b)], vec!["y".into()]);
    g.outputs.push(g.node(c).outputs[0]);
    let mut typed = g.clone();
    infer::infer_graph(&mut typed).unwrap();
    let proto = export_proto(&typed).unwrap();
    let graph = proto.graph.unwrap();
    assert_eq!(graph.node[0].output, [format!("v{}", a.0)]);
    assert_eq!(graph.node[1].output, [format!("v{}", b.0)]);
    let node_names: Vec<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(node_names, ["n1", "n1_1", "node"]);
    let (want, got, _) = round_trip(g, &[("x", data(&[3], 17))]);
    assert_same(&want, &got);
}

#[test]
fn declared_types_carry_symbolic_dims() {
    let mut g = Graph::new("sym");
    let x = g.add_input(
        "x",
        TensorType::new(
            DType::F32,
            vec![Dim::Symbolic("batch".into()), Dim::Static(4)],
        ),
    );
    let y = node(&mut g, "relu", Op::Unary(UnaryOp::Relu), &[Some(x)], 1);
    g.outputs.push(y[0]);
    infer::infer_graph(&mut g).unwrap();
    let proto = export_proto(&g).unwrap();
    let graph = proto.graph.unwrap();
    for vi in [&graph.input[0], &graph.output[0]] {
        let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().unwrap().value.as_ref()
        else {
            panic!("no tensor type");
        };
        assert_eq!(t.elem_type, 1);
        let dims: Vec<_> = t
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.value.clone())
            .collect();
        assert_eq!(
            dims,
            [
                Some(DimValue::DimParam("batch".into())),
                Some(DimValue::DimValue(4))
            ]
        );
    }
}

#[test]
fn newer_ops_raise_the_opset() {
    let mut g = Graph::new("rms");
    let x = input(&mut g, "x", &[2, 4]);
    let scale = g.add_constant("scale", data(&[4], 18));
    let op = Op::RmsNormalization {
        axis: -1,
        epsilon: 1e-5,
        stash_type: DType::F32,
    };
    let y = node(&mut g, "rms", op, &[Some(x), Some(scale)], 1);
    g.outputs.push(y[0]);
    let mut typed = g.clone();
    infer::infer_graph(&mut typed).unwrap();
    let proto = export_proto(&typed).unwrap();
    assert_eq!((proto.opset_import[0].version, proto.ir_version), (23, 11));
    let (want, got, _) = round_trip(g, &[("x", data(&[2, 4], 19))]);
    assert_same(&want, &got);
}

#[test]
fn per_activation_batch_norm_and_float_dropout_masks_decompose() {
    let mut g = Graph::new("old");
    let x = input(&mut g, "x", &[2, 3, 2]);
    let scale = g.add_constant("scale", data(&[3, 2], 20));
    let bias = g.add_constant("bias", data(&[3], 21));
    let mean = g.add_constant("mean", data(&[3, 2], 22));
    let var = g.add_constant(
        "var",
        Tensor::from_f32(vec![3, 2], vec![0.5, 1.0, 2.0, 0.25, 3.0, 1.5]).unwrap(),
    );
    let bn = Op::BatchNormalization { epsilon: 1e-5 };
    let ins = [Some(x), Some(scale), Some(bias), Some(mean), Some(var)];
    let y = node(&mut g, "bn", bn, &ins, 1);
    let ratio = g.add_constant("ratio", Tensor::scalar_f32(0.5));
    let d = node(
        &mut g,
        "drop",
        Op::Dropout { float_mask: true },
        &[Some(y[0]), Some(ratio)],
        2,
    );
    g.outputs.extend(d);
    let (want, got, back) = round_trip(g, &[("x", data(&[2, 3, 2], 23))]);
    assert_close(&want, &got, 1e-6);
    assert_eq!(got[1].1.dtype(), DType::F32);
    assert!(
        !back
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::BatchNormalization { .. }))
    );
}

#[test]
fn an_op_standard_onnx_cannot_express_is_an_error() {
    let mut g = Graph::new("lp");
    let x = input(&mut g, "x", &[1, 1, 4]);
    let y = node(&mut g, "pool", Op::GlobalLpPool { p: 2.5 }, &[Some(x)], 1);
    g.outputs.push(y[0]);
    let e = export_model(&g).unwrap_err().to_string();
    assert!(
        e.contains("'pool'") && e.contains("GlobalLpPool") && e.contains("2.5"),
        "{e}"
    );
}

#[test]
fn a_broken_graph_is_an_error_not_a_panic() {
    let mut g = Graph::new("broken");
    let x = input(&mut g, "x", &[2]);
    let y = node(&mut g, "neg", Op::Unary(UnaryOp::Neg), &[Some(x)], 1);
    let z = node(&mut g, "abs", Op::Unary(UnaryOp::Abs), &[Some(x)], 1);
    g.value_mut(z[0]).name = "neg_out0".into();
    g.outputs.extend([y[0], z[0]]);
    let e = export_model(&g).unwrap_err().to_string();
    assert!(
        e.contains("two different graph inputs or outputs are named 'neg_out0'"),
        "{e}"
    );
    g.outputs = vec![ValueId(99)];
    let e = export_model(&g).unwrap_err().to_string();
    assert!(e.contains("not a value of the graph"), "{e}");
}

/// A graph with a large view output `y` (Reshape of a computed value, also read by `z`), a
/// small one `small`, and a computed output `t`.
fn view_outputs_graph() -> Graph {
    let mut g = Graph::new("views");
    let x = input(&mut g, "x", &[256, 256]);
    let t = node(&mut g, "tanh", Op::Unary(UnaryOp::Tanh), &[Some(x)], 1)[0];
    g.value_mut(t).name = "t".into();
    let flat = ints(&mut g, "flat", &[-1]);
    let y = node(
        &mut g,
        "r",
        Op::Reshape { allowzero: false },
        &[Some(t), Some(flat)],
        1,
    )[0];
    g.value_mut(y).name = "y".into();
    let z = node(&mut g, "neg", Op::Unary(UnaryOp::Neg), &[Some(y)], 1)[0];
    g.value_mut(z).name = "z".into();
    let s = input(&mut g, "s", &[4, 4]);
    let small = node(
        &mut g,
        "rs",
        Op::Reshape { allowzero: false },
        &[Some(s), Some(flat)],
        1,
    )[0];
    g.value_mut(small).name = "small".into();
    g.outputs.extend([y, t, z, small]);
    infer::infer_graph(&mut g).unwrap();
    g
}

/// The op type of the node writing `name`, and its index.
fn writer_of(m: &crate::onnx::proto::ModelProto, name: &str) -> (usize, String) {
    let nodes = &m.graph.as_ref().unwrap().node;
    let i = nodes
        .iter()
        .position(|n| n.output.iter().any(|o| o == name))
        .unwrap();
    (i, nodes[i].op_type.clone())
}

#[test]
fn a_large_view_output_is_written_by_a_mul_by_one_for_runtimes() {
    let g = view_outputs_graph();
    let plain = export_proto(&g).unwrap();
    assert_eq!(writer_of(&plain, "y").1, "Reshape");
    let m = export_proto_with(&g, ExportOptions::for_runtimes()).unwrap();
    let (i, op) = writer_of(&m, "y");
    assert_eq!(op, "Mul");
    let mul = &m.graph.as_ref().unwrap().node[i];
    // The view writes the Mul's first input, right before it; the other input is a scalar one.
    assert_eq!(writer_of(&m, &mul.input[0]), (i - 1, "Reshape".to_string()));
    let one = m
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .find(|t| t.name == mul.input[1]);
    let one = crate::onnx::tensor_from_proto(one.unwrap(), None).unwrap();
    assert_eq!((one.shape(), one.to_f64_vec()), (&[][..], vec![1.0]));
    // Below the size threshold, and not written by a view: unchanged.
    assert_eq!(writer_of(&m, "small").1, "Reshape");
    assert_eq!(writer_of(&m, "t").1, "Tanh");

    // The re-imported model computes exactly what the graph does, outputs in order and named.
    let mut feeds = HashMap::new();
    feeds.insert("x".to_string(), data(&[256, 256], 7));
    feeds.insert("s".to_string(), data(&[4, 4], 8));
    let want = interp::run(&g, &feeds).unwrap();
    let bytes = export_model_with(&g, ExportOptions::for_runtimes()).unwrap();
    let back = import_model(&bytes, None).unwrap();
    let got = interp::run(&back, &feeds).unwrap();
    assert_same(&want, &got);
    assert_eq!(want[0].1.shape(), [65536]);
}
