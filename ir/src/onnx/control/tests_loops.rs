//! Scan and Loop through import, inference, the interpreter and export, as `tests` does for
//! If.

use super::tests::{flag, input, model, x};
use crate::dtype::DType;
use crate::interp;
use crate::onnx::proto::{AttributeProto, GraphProto, NodeProto};
use crate::onnx::test_protos::{graph_attr, int_attr, ints_attr, named, node};
use crate::onnx::{export_model, import_model, import_proto};
use crate::shape::Dim;
use crate::tensor::Tensor;
use prost::Message;
use std::collections::HashMap;

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
