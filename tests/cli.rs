//! The `tenfold` binary end to end: help, `run` against numpy's results, `bench --json`,
//! `info` with a FLOP count checked by hand, and the error contract of usage errors.
//!
//! The model (tests/data/mlp, written by tests/data/make_fixtures.py) is
//! `x[batch,4] -> MatMul(w[4,3]) -> Add(b[3]) = hidden -> Relu = y`.

#[path = "cli/support.rs"]
mod support;

use std::path::Path;
use support::{
    assert_close, assert_failure, assert_ok, assert_usage_error, data, last_json, scratch, tenfold,
};

const MODEL: &str = "tests/data/mlp/model.onnx";
const INPUTS: &str = "tests/data/mlp/inputs.npz";

fn assert_matches_numpy(out_npz: &Path) {
    let got = tenfold::io::read_npz(out_npz).unwrap();
    let want = tenfold::io::read_npz(&data("tests/data/mlp/expected.npz")).unwrap();
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["hidden", "y"],
        "outputs in graph order, keyed by ONNX name"
    );
    for (name, t) in &got {
        let (_, w) = want.iter().find(|(n, _)| n == name).unwrap();
        assert_close(name, t, w);
    }
}

#[test]
fn help_describes_every_subcommand() {
    let top = tenfold(&["--help"]);
    assert_ok(&top);
    for sub in ["run", "bench", "info", "optimize", "verify-rules"] {
        let line = top
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(sub))
            .unwrap_or("");
        assert!(
            line.len() > sub.len() + 10,
            "no description of {sub}:\n{}",
            top.stdout
        );
    }
    let expect: [(&str, &[&str]); 3] = [
        (
            "run",
            &[
                "--inputs",
                "--input",
                "--output",
                "--target",
                "--threads",
                "-O",
                "--dim",
                "--seed",
            ],
        ),
        (
            "bench",
            &[
                "--inputs",
                "--runs",
                "--warmup",
                "--target",
                "--threads",
                "--json",
            ],
        ),
        ("info", &["--dim", "--json"]),
    ];
    for (sub, flags) in expect {
        let help = tenfold(&[sub, "--help"]);
        assert_ok(&help);
        assert!(help.stdout.contains("MODEL.onnx"), "{}", help.stdout);
        for flag in flags {
            assert!(
                help.stdout.contains(flag),
                "{sub} --help lacks {flag}:\n{}",
                help.stdout
            );
        }
    }
}

#[test]
fn run_matches_numpy_and_writes_every_output() {
    let dir = scratch("run");
    let out_npz = dir.join("out.npz");
    let out = tenfold(&[
        "run",
        MODEL,
        "--inputs",
        INPUTS,
        "--output",
        out_npz.to_str().unwrap(),
    ]);
    assert_ok(&out);
    assert!(out.stdout.contains("hidden: f32 [2, 3]"), "{}", out.stdout);
    assert!(out.stdout.contains("y: f32 [2, 3]"), "{}", out.stdout);
    assert!(
        out.stdout.contains("mean:") && out.stdout.contains("max:"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.is_empty(),
        "no notes when every input is given: {}",
        out.stderr
    );
    assert_matches_numpy(&out_npz);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["out.npz"],
        "the atomic write leaves no temporary file"
    );
}

#[test]
fn run_reads_single_inputs_from_npy_files() {
    let dir = scratch("input");
    let inputs = tenfold::io::read_npz(&data(INPUTS)).unwrap();
    let x_npy = dir.join("x.npy");
    tenfold::io::write_npy(&x_npy, &inputs[0].1).unwrap();
    let out_npz = dir.join("out.npz");
    let spec = format!("x={}", x_npy.display());
    let out = tenfold(&[
        "run",
        MODEL,
        "--input",
        &spec,
        "--output",
        out_npz.to_str().unwrap(),
        "-O1",
    ]);
    assert_ok(&out);
    assert_matches_numpy(&out_npz);
}

#[test]
fn run_generates_seeded_inputs_of_the_declared_shape() {
    let dir = scratch("random");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let out = tenfold(&["run", MODEL, "--output", &path("a.npz")]);
    assert_ok(&out);
    assert!(out.stdout.contains("y: f32 [1, 3]"), "{}", out.stdout);
    assert!(
        out.stderr.starts_with("note: ")
            && out.stderr.contains("'batch'")
            && out.stderr.contains("--dim batch="),
        "{}",
        out.stderr
    );
    let again = tenfold(&["run", MODEL, "--output", &path("b.npz")]);
    assert_ok(&again);
    let other_seed = tenfold(&["run", MODEL, "--seed", "7", "--output", &path("c.npz")]);
    assert_ok(&other_seed);
    let read = |name: &str| tenfold::io::read_npz(&dir.join(name)).unwrap();
    assert_eq!(
        read("a.npz"),
        read("b.npz"),
        "the same seed gives the same data"
    );
    assert_ne!(
        read("a.npz"),
        read("c.npz"),
        "another seed gives other data"
    );

    let sized = tenfold(&["run", MODEL, "--dim", "batch=5"]);
    assert_ok(&sized);
    assert!(sized.stdout.contains("y: f32 [5, 3]"), "{}", sized.stdout);
    assert!(sized.stderr.is_empty(), "{}", sized.stderr);
}

#[test]
fn bench_json_is_the_last_line() {
    let out = tenfold(&[
        "bench", MODEL, "--inputs", INPUTS, "--runs", "3", "--warmup", "1", "--json",
    ]);
    assert_ok(&out);
    let last = out.stdout.lines().last().unwrap();
    let json: serde_json::Value = serde_json::from_str(last).unwrap();
    for key in [
        "model",
        "target",
        "compile_ms",
        "median_ms",
        "min_ms",
        "max_ms",
        "runs",
        "peak_bytes",
    ] {
        assert!(json.get(key).is_some(), "missing {key}: {last}");
    }
    assert_eq!(json["runs"], 3);
    assert_eq!(json["target"], "cpu");
    assert_eq!(json["model"], MODEL);
    let (min, median, max) = (
        json["min_ms"].as_f64().unwrap(),
        json["median_ms"].as_f64().unwrap(),
        json["max_ms"].as_f64().unwrap(),
    );
    assert!(min <= median && median <= max, "{last}");
    // At least the input x [2,4] and one [2,3] f32 intermediate are live at once.
    assert!(
        json["peak_bytes"].as_u64().unwrap() >= (8 + 6) * 4,
        "{last}"
    );
}

#[test]
fn bench_profile_times_every_kernel_of_the_plan() {
    let plan = tenfold(&["info", MODEL, "--plan", "--json", "-O1"]);
    assert_ok(&plan);
    let plan = last_json(&plan);
    let kinds: Vec<&str> = plan["plan"]["kernels"]
        .as_array()
        .expect("a compiled plan")
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.is_empty());

    let out = tenfold(&[
        "bench",
        MODEL,
        "--inputs",
        INPUTS,
        "--runs",
        "3",
        "--warmup",
        "1",
        "--profile",
        "--json",
        "-O1",
    ]);
    assert_ok(&out);
    let json = last_json(&out);
    let timed = json["kernels"].as_array().expect("per-kernel times");
    let timed_kinds: Vec<&str> = timed.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(timed_kinds, kinds, "one time per kernel, in plan order");
    assert!(
        timed
            .iter()
            .all(|k| k["median_ms"].as_f64().unwrap() >= 0.0)
    );
    let text = &out.stdout;
    assert!(text.contains("median of 3 profiled runs"), "{text}");
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("other")),
        "{text}"
    );

    // The interpreter has no kernels to time, and says so.
    let out = tenfold(&[
        "bench",
        MODEL,
        "--inputs",
        INPUTS,
        "--runs",
        "2",
        "--profile",
        "--json",
        "-O0",
    ]);
    assert_ok(&out);
    assert!(
        out.stdout
            .contains("none timed: the interpreter runs this model"),
        "{}",
        out.stdout
    );
    let json = last_json(&out);
    assert!(json["kernels"].is_null(), "{json}");
}

/// MatMul 2*B*4*3, Add B*3, Relu B*3 (see the counting convention in ir::cost).
fn mlp_flops(batch: u64) -> u64 {
    2 * batch * 4 * 3 + batch * 3 + batch * 3
}

#[test]
fn info_lists_types_ops_parameters_and_flops() {
    let out = tenfold(&["info", MODEL]);
    assert_ok(&out);
    let text = &out.stdout;
    assert!(text.contains("x: f32[batch,4]"), "{text}");
    assert!(
        text.contains("hidden: f32[batch,3]") && text.contains("y: f32[batch,3]"),
        "{text}"
    );
    for op in ["MatMul", "Add", "Relu"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [op, "1"]),
            "{op}: {text}"
        );
    }
    assert!(
        text.contains("parameters: 15 "),
        "w is 4x3 and b is 3: {text}"
    );
    let flops = text.lines().find(|l| l.starts_with("flops:")).unwrap();
    assert!(
        flops.starts_with(&format!("flops: {} ", mlp_flops(1))),
        "{flops}"
    );
    assert!(flops.contains("batch=1"), "{flops}");

    let json = tenfold(&["info", MODEL, "--json", "--dim", "batch=8"]);
    assert_ok(&json);
    let v: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["flops"], mlp_flops(8));
    assert_eq!(v["parameters"], 15);
    assert_eq!(v["ops"]["MatMul"], 1);
    assert_eq!(v["inputs"][0]["name"], "x");
    assert_eq!(v["inputs"][0]["shape"], serde_json::json!(["batch", 4]));
    assert_eq!(v["dims"]["batch"], 8);
}

/// `info --plan` tells nodes the executor runs natively (ViT's CLS-token Concat) from nodes
/// left to the interpreter (BERT's GatherND), in text and JSON.
#[test]
fn info_plan_separates_native_from_interpreted_nodes() {
    let vit = tenfold(&["info", "tests/fixtures/vit/model.onnx", "--plan", "--json"]);
    assert_ok(&vit);
    let v = last_json(&vit);
    assert_eq!(
        v["plan"]["native"],
        serde_json::json!(["node_cat (Concat)"]),
        "{}",
        vit.stdout
    );
    assert_eq!(
        v["plan"]["interpreted"],
        serde_json::json!([]),
        "{}",
        vit.stdout
    );
    let text = tenfold(&["info", "tests/fixtures/vit/model.onnx", "--plan"]);
    assert_ok(&text);
    assert!(text.stdout.contains("interpreted: none"), "{}", text.stdout);
    assert!(
        text.stdout.contains("run natively: node_cat (Concat)"),
        "{}",
        text.stdout
    );
    let bert = tenfold(&["info", "tests/fixtures/bert/model.onnx", "--plan", "--json"]);
    assert_ok(&bert);
    let b = last_json(&bert);
    assert_eq!(
        b["plan"]["native"],
        serde_json::json!([]),
        "{}",
        bert.stdout
    );
    assert_eq!(
        b["plan"]["interpreted"].as_array().map(Vec::len),
        Some(1),
        "{}",
        bert.stdout
    );
}

/// One `error: ...` line ending in `(see --help)`, exit status 2.
#[test]
fn usage_errors_are_one_line_with_status_2() {
    assert_usage_error(&tenfold(&["run"]), "MODEL.onnx");
    assert_usage_error(&tenfold(&["frobnicate"]), "frobnicate");
    assert_usage_error(&tenfold(&[]), "subcommand");
    assert_usage_error(&tenfold(&["bench", MODEL, "--runs", "0"]), "--runs");
    assert_usage_error(&tenfold(&["run", MODEL, "--target", "tpu"]), "tpu");
    assert_usage_error(&tenfold(&["run", MODEL, "-O7"]), "7");
}

/// One `error: ...` line containing `needle`, exit status 1.
#[test]
fn failures_are_one_line_naming_what_went_wrong() {
    assert_failure(&tenfold(&["run", "missing.onnx"]), "missing.onnx");
    assert_failure(
        &tenfold(&["info", INPUTS]),
        "tests/data/mlp/inputs.npz: not a valid ONNX model",
    );
    assert_failure(
        &tenfold(&["run", MODEL, "--target", "cuda"]),
        "target cuda is not available in this build",
    );
    assert_failure(&tenfold(&["run", MODEL, "--input", "x"]), "bad --input 'x'");
    assert_failure(
        &tenfold(&["run", MODEL, "--input", "z=tests/data/npy/f4_2x3.npy"]),
        "'z' is not an input",
    );
    assert_failure(
        &tenfold(&["run", MODEL, "--input", "x=tests/data/npy/i4_3.npy"]),
        "input 'x'",
    );
    assert_failure(
        &tenfold(&["run", MODEL, "--input", "x=tests/data/npy/f4_2x3.npy"]),
        "f4_2x3.npy: input 'x'",
    );
    assert_failure(
        &tenfold(&["run", MODEL, "--inputs", "nope.npz"]),
        "nope.npz",
    );
    assert_failure(
        &tenfold(&["run", MODEL, "--dim", "batch"]),
        "bad --dim 'batch'",
    );
}

#[test]
fn optimize_writes_onnx_that_runs_the_same_and_a_json_report() {
    let dir = scratch("optimize");
    let out_model = dir.join("opt.onnx");
    let out = tenfold(&[
        "optimize",
        "tests/fixtures/bert/model.onnx",
        "-o",
        out_model.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&out);
    let last = out.stdout.lines().last().unwrap();
    let report: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    for key in [
        "flops_before",
        "flops_after",
        "bytes_before",
        "bytes_after",
        "cost_before",
        "cost_after",
        "rules_fired",
        "egraph_nodes",
        "iterations",
        "stop_reason",
        "time_ms",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}: {last}");
    }
    assert!(report["cost_after"].as_f64() <= report["cost_before"].as_f64());
    // The written model imports and gives the original's outputs through the interpreter.
    let inputs = "tests/fixtures/bert/inputs.npz";
    let (a, b) = (dir.join("a.npz"), dir.join("b.npz"));
    assert_ok(&tenfold(&[
        "run",
        "tests/fixtures/bert/model.onnx",
        "-O0",
        "--inputs",
        inputs,
        "--output",
        a.to_str().unwrap(),
    ]));
    assert_ok(&tenfold(&[
        "run",
        out_model.to_str().unwrap(),
        "-O0",
        "--inputs",
        inputs,
        "--output",
        b.to_str().unwrap(),
    ]));
    let (ga, gb) = (
        tenfold::io::read_npz(&a).unwrap(),
        tenfold::io::read_npz(&b).unwrap(),
    );
    assert_eq!(ga.len(), gb.len());
    for ((na, ta), (nb, tb)) in ga.iter().zip(&gb) {
        assert_eq!(na, nb);
        assert_close(na, tb, ta);
    }
}

/// A model with a Loop runs compiled and optimized with numpy's values; the optimizer's
/// report says its FLOP figures leave out the Loop, whose size depends on input values.
#[test]
fn a_loop_model_runs_and_optimizes_with_its_unknown_flops_said() {
    let dir = scratch("loop");
    let model = "tests/data/loop/model.onnx";
    let inputs = "tests/data/loop/inputs.npz";
    let out_model = dir.join("opt.onnx");
    let out = tenfold(&[
        "optimize",
        model,
        "-o",
        out_model.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&out);
    assert!(
        out.stdout.contains("depend on input values"),
        "{}",
        out.stdout
    );
    assert_eq!(last_json(&out)["flops_known"], serde_json::json!(false));
    let want = tenfold::io::read_npz(&data("tests/data/loop/expected.npz")).unwrap();
    for m in [model, out_model.to_str().unwrap()] {
        let got_path = dir.join("got.npz");
        assert_ok(&tenfold(&[
            "run",
            m,
            "--inputs",
            inputs,
            "--output",
            got_path.to_str().unwrap(),
        ]));
        let got = tenfold::io::read_npz(&got_path).unwrap();
        assert_eq!(got.len(), want.len(), "{m}");
        for ((ng, tg), (nw, tw)) in got.iter().zip(&want) {
            assert_eq!(ng, nw);
            assert_close(ng, tg, tw);
        }
    }
}

#[test]
fn optimize_and_verify_rules_fail_cleanly() {
    assert_failure(
        &tenfold(&["optimize", "missing.onnx", "-o", "/tmp/x.onnx"]),
        "missing.onnx",
    );
    assert_failure(
        &tenfold(&["optimize", MODEL, "--approx", "2"]),
        "--approx must be a relative error between 0 and 1",
    );
    let out = tenfold(&[
        "verify-rules",
        "--filter",
        "matmul-assoc",
        "--instances",
        "3",
    ]);
    assert_ok(&out);
    assert!(out.stdout.contains("matmul-assoc-right"), "{}", out.stdout);
    assert!(out.stdout.contains("0 failed"), "{}", out.stdout);
}
