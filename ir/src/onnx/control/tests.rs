//! If through import, inference, the interpreter and export: bodies built in memory, run
//! against values computed here, and re-imported from their export. The model builders here
//! serve `tests_loops` too.

use crate::dtype::DType;
use crate::graph::Graph;
use crate::interp;
use crate::onnx::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, ValueInfoProto};
use crate::onnx::test_protos::{graph_attr, int_attr, named, node, typed};
use crate::onnx::{export_model, import_model, import_proto, tensor_to_proto};
use crate::shape::Dim;
use crate::tensor::Tensor;
use prost::Message;
use std::collections::HashMap;

/// A body: `nodes`, read by name, with `outputs` and no inputs of its own.
pub(super) fn body(name: &str, nodes: Vec<NodeProto>, outputs: &[&str]) -> GraphProto {
    GraphProto {
        name: name.into(),
        node: nodes,
        output: outputs.iter().map(|o| named(o)).collect(),
        ..Default::default()
    }
}

/// `If(cond)` writing `output`.
pub(super) fn if_node(
    cond: &str,
    then_b: GraphProto,
    else_b: GraphProto,
    output: &str,
) -> NodeProto {
    node(
        "If",
        &[cond],
        output,
        vec![
            graph_attr("then_branch", then_b),
            graph_attr("else_branch", else_b),
        ],
    )
}

pub(super) fn input(name: &str, dtype: DType, shape: &[usize]) -> ValueInfoProto {
    typed(name, dtype, shape)
}

pub(super) fn model(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    inits: &[(&str, Tensor)],
    out: &str,
) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            name: "g".into(),
            node: nodes,
            input: inputs,
            initializer: inits.iter().map(|(n, t)| tensor_to_proto(n, t)).collect(),
            output: vec![named(out)],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn run(g: &Graph, feeds: &[(&str, Tensor)]) -> Tensor {
    let feeds: HashMap<String, Tensor> = feeds
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let mut out = interp::run(g, &feeds).expect("runs");
    out.remove(0).1
}

pub(super) fn flag(b: bool) -> Tensor {
    Tensor::from_f64(DType::Bool, vec![], &[b as u8 as f64]).unwrap()
}

/// x [2, 3]: 1, -2, 3, -4, 5, -6.
pub(super) fn x() -> Tensor {
    Tensor::from_f32(vec![2, 3], vec![1.0, -2.0, 3.0, -4.0, 5.0, -6.0]).unwrap()
}

/// An If nested in a branch reads `x` (two scopes up) and `xx` (produced after the If in
/// file order); every combination of the two conds gives the branch's value, before and
/// after an export round trip.
#[test]
fn nested_if_reads_values_from_enclosing_scopes() {
    let inner = if_node(
        "c2",
        body(
            "mul",
            vec![node("Mul", &["xx", "x"], "t1", vec![])],
            &["t1"],
        ),
        body(
            "sub",
            vec![node("Sub", &["xx", "x"], "t2", vec![])],
            &["t2"],
        ),
        "r",
    );
    let outer = if_node(
        "c1",
        body("then", vec![inner], &["r"]),
        body("else", vec![node("Neg", &["x"], "e", vec![])], &["e"]),
        "y",
    );
    let nodes = vec![outer, node("Add", &["x", "x"], "xx", vec![])];
    let m = model(
        nodes,
        vec![
            input("x", DType::F32, &[2, 3]),
            input("c1", DType::Bool, &[]),
            input("c2", DType::Bool, &[]),
        ],
        &[],
        "y",
    );
    let g = import_proto(&m, None).expect("imports");
    let y = g.outputs[0];
    let ty = g.value(y).ty.clone().expect("typed");
    assert_eq!(
        (ty.dtype, ty.shape),
        (DType::F32, Some(vec![Dim::Static(2), Dim::Static(3)]))
    );
    let again = import_model(&export_model(&g).expect("exports"), None).expect("re-imports");
    let xs = x().to_f64_vec();
    for (c1, c2) in [(true, true), (true, false), (false, true), (false, false)] {
        let want: Vec<f64> = xs
            .iter()
            .map(|&v| match (c1, c2) {
                (true, true) => 2.0 * v * v,
                (true, false) => v,
                (false, _) => -v,
            })
            .collect();
        for graph in [&g, &again] {
            let got = run(graph, &[("x", x()), ("c1", flag(c1)), ("c2", flag(c2))]);
            assert_eq!(got.shape(), &[2, 3]);
            assert_eq!(got.to_f64_vec(), want, "c1 {c1}, c2 {c2}");
        }
    }
}

/// Branches of different shapes: the If's output has a symbolic dim where they differ; a
/// branch may output an enclosing value as it is; each run has its branch's shape.
#[test]
fn branches_of_different_shapes_meet_in_a_symbolic_dim() {
    let cat = NodeProto {
        attribute: vec![int_attr("axis", 0)],
        ..node("Concat", &["x", "x"], "c", vec![])
    };
    let m = model(
        vec![if_node(
            "cond",
            body("same", vec![], &["x"]),
            body("twice", vec![cat], &["c"]),
            "y",
        )],
        vec![
            input("x", DType::F32, &[2, 3]),
            input("cond", DType::Bool, &[]),
        ],
        &[],
        "y",
    );
    let g = import_proto(&m, None).expect("imports");
    let shape = g.value(g.outputs[0]).ty.clone().unwrap().shape.unwrap();
    assert!(matches!(shape[0], Dim::Symbolic(_)), "{shape:?}");
    assert_eq!(shape[1], Dim::Static(3));
    let again = import_model(&export_model(&g).expect("exports"), None).expect("re-imports");
    for graph in [&g, &again] {
        let same = run(graph, &[("x", x()), ("cond", flag(true))]);
        assert_eq!(
            (same.shape(), same.to_f64_vec()),
            (&[2usize, 3][..], x().to_f64_vec())
        );
        let twice = run(graph, &[("x", x()), ("cond", flag(false))]);
        assert_eq!(twice.shape(), &[4, 3]);
    }
}

/// A constant cond selects its branch during inference: the output type is that branch's.
#[test]
fn a_constant_cond_types_the_output_from_its_branch() {
    let m = model(
        vec![if_node(
            "k",
            body("flat", vec![node("Flatten", &["x"], "f", vec![])], &["f"]),
            body("same", vec![], &["x"]),
            "y",
        )],
        vec![input("x", DType::F32, &[2, 3])],
        &[("k", flag(true))],
        "y",
    );
    let g = import_proto(&m, None).expect("imports");
    let shape = g.value(g.outputs[0]).ty.clone().unwrap().shape.unwrap();
    assert_eq!(shape, vec![Dim::Static(2), Dim::Static(3)]);
}

/// Malformed Ifs are errors that say what is wrong, never panics.
#[test]
fn malformed_ifs_are_reported() {
    let neg = || body("neg", vec![node("Neg", &["x"], "n", vec![])], &["n"]);
    let inputs = || {
        vec![
            input("x", DType::F32, &[2, 3]),
            input("c", DType::Bool, &[]),
        ]
    };
    let err = |nodes: Vec<NodeProto>, inputs: Vec<ValueInfoProto>| -> String {
        let m = model(nodes, inputs, &[], "y");
        let bytes = m.encode_to_vec();
        match import_model(&bytes, None) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("imported"),
        }
    };
    let mut with_input = neg();
    with_input.input.push(input("z", DType::F32, &[1]));
    let cases: Vec<(Vec<NodeProto>, Vec<ValueInfoProto>, &str)> = vec![
        (
            vec![if_node("c", with_input, neg(), "y")],
            inputs(),
            "takes no inputs",
        ),
        (
            vec![if_node(
                "c",
                body("two", vec![node("Neg", &["x"], "n", vec![])], &["n", "x"]),
                neg(),
                "y",
            )],
            inputs(),
            "outputs",
        ),
        (
            vec![node(
                "If",
                &["c"],
                "y",
                vec![graph_attr("then_branch", neg())],
            )],
            inputs(),
            "else_branch",
        ),
        (
            vec![if_node("c", neg(), neg(), "y")],
            vec![input("x", DType::F32, &[2, 3]), input("c", DType::F32, &[])],
            "cond must be bool",
        ),
        (
            vec![if_node(
                "c",
                body("bad", vec![node("Neg", &["nowhere"], "n", vec![])], &["n"]),
                neg(),
                "y",
            )],
            inputs(),
            "nowhere",
        ),
    ];
    for (nodes, inputs, want) in cases {
        let msg = err(nodes, inputs);
        assert!(msg.contains(want), "'{msg}' does not say '{want}'");
    }
}

/// A branch that contradicts its inputs (adding shapes [2, 3] and [4]) leaves the node the
/// other branch's type; taking it fails the run with the branch's error.
#[test]
fn a_branch_that_cannot_run_types_the_node_from_the_other() {
    let four = Tensor::from_f32(vec![4], vec![1.0; 4]).unwrap();
    let m = model(
        vec![if_node(
            "c",
            body(
                "bad",
                vec![node("Add", &["x", "four"], "r", vec![])],
                &["r"],
            ),
            body("neg", vec![node("Neg", &["x"], "n", vec![])], &["n"]),
            "y",
        )],
        vec![
            input("x", DType::F32, &[2, 3]),
            input("c", DType::Bool, &[]),
        ],
        &[("four", four)],
        "y",
    );
    let g = import_proto(&m, None).expect("imports");
    let shape = g.value(g.outputs[0]).ty.clone().unwrap().shape.unwrap();
    assert_eq!(shape, vec![Dim::Static(2), Dim::Static(3)]);
    let neg = run(&g, &[("x", x()), ("c", flag(false))]);
    assert_eq!(
        neg.to_f64_vec(),
        x().to_f64_vec().iter().map(|v| -v).collect::<Vec<_>>()
    );
    let feeds: HashMap<String, Tensor> =
        [("x".to_string(), x()), ("c".to_string(), flag(true))].into();
    let e = interp::run(&g, &feeds)
        .expect_err("the bad branch fails")
        .to_string();
    assert!(e.contains("Add"), "{e}");
}

/// The text form holds an If's branches: printed, parsed back and printed again, it is the
/// same text, and the parsed graph computes the same.
#[test]
fn if_survives_the_text_form() {
    let m = model(
        vec![if_node(
            "c",
            body("neg", vec![node("Neg", &["x"], "n", vec![])], &["n"]),
            body("abs", vec![node("Abs", &["x"], "a", vec![])], &["a"]),
            "y",
        )],
        vec![
            input("x", DType::F32, &[2, 3]),
            input("c", DType::Bool, &[]),
        ],
        &[],
        "y",
    );
    let g = import_proto(&m, None).expect("imports");
    let text = crate::text::print(&g);
    let mut back = crate::text::parse(&text).expect("parses");
    crate::infer::infer_graph(&mut back).expect("infers");
    assert_eq!(crate::text::print(&back), text);
    for c in [true, false] {
        let feeds = [("x", x()), ("c", flag(c))];
        assert_eq!(
            run(&back, &feeds).to_f64_vec(),
            run(&g, &feeds).to_f64_vec()
        );
    }
}
