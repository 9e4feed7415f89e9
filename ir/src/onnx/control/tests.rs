//! If through import, inference, the interpreter and export: bodies built in memory, run
//! against values computed here, and re-imported from their export.

use crate::dtype::DType;
use crate::graph::Graph;
use crate::interp;
use crate::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, ValueInfoProto,
};
use crate::onnx::test_protos::{graph_attr, int_attr, ints_attr, named, node, typed};
use crate::onnx::{export_model, import_model, import_proto, tensor_to_proto};
use crate::shape::Dim;
use crate::tensor::Tensor;
use prost::Message;
use std::collections::HashMap;

/// A body: `nodes`, read by name, with `outputs` and no inputs of its own.
fn body(name: &str, nodes: Vec<NodeProto>, outputs: &[&str]) -> GraphProto {
    GraphProto {
        name: name.into(),
        node: nodes,
        output: outputs.iter().map(|o| named(o)).collect(),
        ..Default::default()
    }
}

/// `If(cond)` writing `output`.
fn if_node(cond: &str, then_b: GraphProto, else_b: GraphProto, output: &str) -> NodeProto {
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

fn input(name: &str, dtype: DType, shape: &[usize]) -> ValueInfoProto {
    typed(name, dtype, shape)
}

fn model(
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

fn run(g: &Graph, feeds: &[(&str, Tensor)]) -> Tensor {
    let feeds: HashMap<String, Tensor> = feeds
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let mut out = interp::run(g, &feeds).expect("runs");
    out.remove(0).1
}

fn flag(b: bool) -> Tensor {
    Tensor::from_f64(DType::Bool, vec![], &[b as u8 as f64]).unwrap()
}

/// x [2, 3]: 1, -2, 3, -4, 5, -6.
fn x() -> Tensor {
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

/// A Scan whose body adds `x`'s columns, last first, times a captured `w` to a state: the
/// state ends at the weighted row sum and the scan output (stacked along axis 1) holds the
/// running sums; the same after an export round trip.
#[test]
fn scan_walks_an_axis_backwards_with_a_state_and_a_capture() {
    let body = GraphProto {
        name: "step".into(),
        node: vec![
            node("Mul", &["xt", "w"], "p", vec![]),
            node("Add", &["s", "p"], "s2", vec![]),
            node("Identity", &["s2"], "e", vec![]),
        ],
        // Undeclared types: a body's inputs take what the node feeds them.
        input: vec![named("s"), named("xt")],
        output: vec![named("s2"), named("e")],
        ..Default::default()
    };
    let scan = node(
        "Scan",
        &["s0", "x"],
        "s_final",
        vec![
            graph_attr("body", body),
            int_attr("num_scan_inputs", 1),
            ints_attr("scan_input_axes", &[1]),
            ints_attr("scan_input_directions", &[1]),
            ints_attr("scan_output_axes", &[-1]),
        ],
    );
    let scan = NodeProto {
        output: vec!["s_final".into(), "running".into()],
        ..scan
    };
    let mut m = model(
        vec![scan],
        vec![
            input("x", DType::F32, &[2, 3]),
            input("s0", DType::F32, &[2]),
        ],
        &[("w", Tensor::from_f32(vec![2], vec![10.0, -1.0]).unwrap())],
        "s_final",
    );
    m.graph.as_mut().unwrap().output.push(named("running"));
    let g = import_proto(&m, None).expect("imports");
    let ty = |k: usize| g.value(g.outputs[k]).ty.clone().unwrap().shape.unwrap();
    assert_eq!(ty(0), vec![Dim::Static(2)]);
    assert_eq!(ty(1), vec![Dim::Static(2), Dim::Static(3)]);
    let again = import_model(&export_model(&g).expect("exports"), None).expect("re-imports");
    let s0 = Tensor::from_f32(vec![2], vec![0.5, 0.25]).unwrap();
    // x rows [1, -2, 3] and [-4, 5, -6], walked from column 2 to 0.
    let xs = x().to_f64_vec();
    let mut want_running = [[0.0; 3]; 2];
    let mut state = [0.5, 0.25];
    for (k, col) in [2usize, 1, 0].into_iter().enumerate() {
        for (r, (s, w)) in state.iter_mut().zip([10.0, -1.0]).enumerate() {
            *s += xs[r * 3 + col] * w;
            want_running[r][k] = *s;
        }
    }
    for graph in [&g, &again] {
        let feeds: HashMap<String, Tensor> =
            [("x".to_string(), x()), ("s0".to_string(), s0.clone())].into();
        let out = interp::run(graph, &feeds).expect("runs");
        assert_eq!(out[0].1.to_f64_vec(), state.to_vec());
        assert_eq!(out[1].1.shape(), &[2, 3]);
        assert_eq!(out[1].1.to_f64_vec(), want_running.concat());
    }
}

/// Malformed Scans are errors that say what is wrong, never panics.
#[test]
fn malformed_scans_are_reported() {
    let step = |inputs: &[&str]| GraphProto {
        name: "step".into(),
        node: vec![node("Add", &["s", "a"], "s2", vec![])],
        input: inputs.iter().map(|n| named(n)).collect(),
        output: vec![named("s2")],
        ..Default::default()
    };
    let scan = |ins: &[&str], attrs: Vec<AttributeProto>| node("Scan", ins, "y", attrs);
    let inputs = || {
        vec![
            input("s", DType::F32, &[2]),
            input("a", DType::F32, &[4, 2]),
            input("b", DType::F32, &[3, 2]),
        ]
    };
    let cases: Vec<(NodeProto, &str)> = vec![
        (
            scan(&["s", "a"], vec![graph_attr("body", step(&["s", "a"]))]),
            "num_scan_inputs",
        ),
        (
            scan(
                &["s", "a"],
                vec![
                    graph_attr("body", step(&["s", "a"])),
                    int_attr("num_scan_inputs", 3),
                ],
            ),
            "num_scan_inputs",
        ),
        (
            scan(
                &["s", "a"],
                vec![
                    graph_attr("body", step(&["s"])),
                    int_attr("num_scan_inputs", 1),
                ],
            ),
            "the body has 1 inputs",
        ),
        (
            scan(
                &["s", "a", "b"],
                vec![
                    graph_attr("body", step(&["s", "a", "b"])),
                    int_attr("num_scan_inputs", 2),
                ],
            ),
            "lengths 4 and 3",
        ),
        (
            scan(
                &["s", "a"],
                vec![
                    graph_attr("body", step(&["s", "a"])),
                    int_attr("num_scan_inputs", 1),
                    ints_attr("scan_input_directions", &[2]),
                ],
            ),
            "direction 2",
        ),
    ];
    for (n, want) in cases {
        let bytes = model(vec![n], inputs(), &[], "y").encode_to_vec();
        let msg = match import_model(&bytes, None) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("imported"),
        };
        assert!(msg.contains(want), "'{msg}' does not say '{want}'");
    }
}

/// A Loop body: `v2 = v * k` (k captured), cond = iteration < `stop`, scan output the
/// iteration number times v.
fn loop_body(stop: &str) -> GraphProto {
    GraphProto {
        name: "step".into(),
        node: vec![
            node("Mul", &["v", "k"], "v2", vec![]),
            node("Less", &["i", stop], "c2", vec![]),
            node("Cast", &["i"], "fi", vec![int_attr("to", 1)]),
            node("Mul", &["v", "fi"], "e", vec![]),
        ],
        input: vec![named("i"), named("c"), named("v")],
        output: vec![named("c2"), named("v2"), named("e")],
        ..Default::default()
    }
}

/// Loops stop at the trip count or when the body's condition turns false, whichever comes
/// first; the carried value and the stacked scan output match a count done here, also
/// after an export round trip, and with no trip count at all.
#[test]
fn loop_stops_at_its_count_or_its_condition() {
    let i64s = |v: i64| Tensor::from_i64(vec![], vec![v]).unwrap();
    let k = Tensor::from_f32(vec![2], vec![2.0, -1.0]).unwrap();
    let v0 = Tensor::from_f32(vec![2], vec![1.0, 3.0]).unwrap();
    for (with_count, trip, stop) in [(true, 5, 2), (true, 2, 9), (false, 0, 3)] {
        let inputs: &[&str] = if with_count {
            &["trip", "go", "v0"]
        } else {
            &["", "go", "v0"]
        };
        let mut lp = node(
            "Loop",
            inputs,
            "v_final",
            vec![graph_attr("body", loop_body("stop"))],
        );
        lp.output.push("scan".into());
        let mut m = model(
            vec![lp],
            vec![
                input("trip", DType::I64, &[]),
                input("go", DType::Bool, &[]),
                input("v0", DType::F32, &[2]),
            ],
            &[("k", k.clone()), ("stop", i64s(stop))],
            "v_final",
        );
        m.graph.as_mut().unwrap().output.push(named("scan"));
        let g = import_proto(&m, None).expect("imports");
        let scan_ty = g.value(g.outputs[1]).ty.clone().unwrap().shape.unwrap();
        assert!(matches!(scan_ty[0], Dim::Symbolic(_)) && scan_ty[1] == Dim::Static(2));
        let again = import_model(&export_model(&g).expect("exports"), None).expect("re-imports");
        // Iterations run while i < trip and the previous iteration's i < stop held.
        let mut v = [1.0f64, 3.0];
        let mut scan = Vec::new();
        let mut i = 0;
        loop {
            if (with_count && i >= trip) || (i > 0 && i > stop) {
                break;
            }
            scan.extend(v.iter().map(|x| x * i as f64));
            v = [v[0] * 2.0, -v[1]];
            i += 1;
        }
        for graph in [&g, &again] {
            let feeds: HashMap<String, Tensor> = [
                ("trip".to_string(), i64s(trip)),
                ("go".to_string(), flag(true)),
                ("v0".to_string(), v0.clone()),
            ]
            .into();
            let out = interp::run(graph, &feeds).expect("runs");
            assert_eq!(out[0].1.to_f64_vec(), v.to_vec(), "trip {trip} stop {stop}");
            assert_eq!(out[1].1.shape(), &[i as usize, 2]);
            assert_eq!(out[1].1.to_f64_vec(), scan);
        }
    }
}

/// Malformed Loops are errors that say what is wrong, never panics; a loop that runs no
/// iteration cannot give its scan outputs a shape, and says so.
#[test]
fn malformed_loops_are_reported() {
    let inputs = || {
        vec![
            input("trip", DType::I64, &[]),
            input("ftrip", DType::F32, &[]),
            input("go", DType::Bool, &[]),
            input("v0", DType::F32, &[2]),
        ]
    };
    let k = Tensor::from_f32(vec![2], vec![2.0, -1.0]).unwrap();
    let stop = Tensor::from_i64(vec![], vec![1]).unwrap();
    let two_out = |ins: &[&str], body: GraphProto| {
        let mut n = node("Loop", ins, "v_final", vec![graph_attr("body", body)]);
        n.output.push("scan".into());
        n
    };
    let mut extra = loop_body("stop");
    extra.input.push(named("unused"));
    let cases: Vec<(NodeProto, &str)> = vec![
        (
            two_out(&["trip", "go", "v0"], extra),
            "the body has 4 inputs",
        ),
        (
            two_out(&["ftrip", "go", "v0"], loop_body("stop")),
            "trip count must be i64",
        ),
        (
            node("Loop", &["trip", "go", "v0"], "v_final", vec![]),
            "body",
        ),
    ];
    for (n, want) in cases {
        let bytes = model(
            vec![n],
            inputs(),
            &[("k", k.clone()), ("stop", stop.clone())],
            "v_final",
        )
        .encode_to_vec();
        let msg = match import_model(&bytes, None) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("imported"),
        };
        assert!(msg.contains(want), "'{msg}' does not say '{want}'");
    }
    let mut m = model(
        vec![two_out(&["trip", "go", "v0"], loop_body("stop"))],
        inputs(),
        &[("k", k), ("stop", stop)],
        "v_final",
    );
    m.graph.as_mut().unwrap().output.push(named("scan"));
    let g = import_proto(&m, None).expect("imports");
    let feeds: HashMap<String, Tensor> = [
        (
            "trip".to_string(),
            Tensor::from_i64(vec![], vec![0]).unwrap(),
        ),
        (
            "ftrip".to_string(),
            Tensor::from_f32(vec![], vec![0.0]).unwrap(),
        ),
        ("go".to_string(), flag(true)),
        (
            "v0".to_string(),
            Tensor::from_f32(vec![2], vec![1.0, 1.0]).unwrap(),
        ),
    ]
    .into();
    let e = interp::run(&g, &feeds)
        .expect_err("no iteration")
        .to_string();
    assert!(e.contains("ran no iteration"), "{e}");
}
