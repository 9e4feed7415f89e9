//! The compiled path against the reference interpreter: a property test over seeded random
//! graphs (-O2 with one and two threads vs -O0), the per-signature plan cache, index errors
//! reported as errors, and identical outputs for one and two threads.
//!
//! Environment: `TENFOLD_COMPILED_SEED=<seed>` runs one generated graph (the seed a failure
//! prints) and prints it; `TENFOLD_COMPILED_CASES=<n>` changes the number of graphs.

mod common;
#[path = "compiled/families.rs"]
mod families;
#[path = "compiled/generator.rs"]
mod generator;
#[path = "compiled/property.rs"]
mod property;

use common::{PlanSummary, compile_graph, panic_message};
use generator::{Rng, generate};
use ir::{DType, Tensor};
use property::{
    Outcome, Rejected, check, compare_outputs, describe_failure, identical, is_codegen_bug, prepare,
};
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use tenfold::{OptLevel, Plan};

/// Random graphs per run (each a few milliseconds to compile twice and run).
const CASES: usize = 300;

/// A number from the environment, decimal or `0x` hexadecimal.
fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

#[test]
fn random_graphs_compiled_match_interpreter() {
    if let Some(seed) = env_number("TENFOLD_COMPILED_SEED") {
        let case = match prepare(seed) {
            Ok(c) => c,
            Err(Rejected::IllConditioned) => {
                panic!("seed {seed:#x} is rejected as ill-conditioned")
            }
            Err(Rejected::Interp(m)) => panic!("seed {seed:#x}: interpreter: {m}"),
        };
        println!("{}", ir::text::print(&case.generated.graph));
        let report = check(&case);
        println!("plan: {}", report.plan.describe());
        assert!(
            report.failures.is_empty(),
            "{}",
            describe_failure(&case, &report)
        );
        return;
    }
    let n = env_number("TENFOLD_COMPILED_CASES").map_or(CASES, |n| n as usize);
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let rejected = Mutex::new(0usize);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut next = next.lock().unwrap();
                        *next += 1;
                        *next - 1
                    };
                    if i >= n {
                        break;
                    }
                    // Graph i tries seeds derived from i until one is well-conditioned.
                    let mut rng = Rng::new(0x7E4F_01D5_EED5 ^ (i as u64) << 20);
                    let mut outcome = Err(format!("graph {i}: every seed was ill-conditioned"));
                    for _ in 0..50 {
                        let seed = rng.next_u64();
                        match prepare(seed) {
                            Ok(case) => {
                                let report = check(&case);
                                outcome = Ok((case, report));
                                break;
                            }
                            Err(Rejected::IllConditioned) => *rejected.lock().unwrap() += 1,
                            Err(Rejected::Interp(m)) => {
                                outcome = Err(format!(
                                    "seed {seed:#x}: the interpreter fails on a graph inference accepts: {m}\n{}",
                                    ir::text::print(&generate(seed).graph)
                                ));
                                break;
                            }
                        }
                    }
                    results.lock().unwrap().push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);

    let mut failures = Vec::new();
    let mut ops: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut interp_ops: BTreeMap<String, usize> = BTreeMap::new();
    let (mut nodes, mut fallbacks, mut reasons) = (0, 0, BTreeMap::<String, usize>::new());
    for (_, r) in &results {
        match r {
            Err(m) => failures.push(m.clone()),
            Ok((case, report)) => {
                nodes += case.generated.graph.nodes.len();
                for node in &case.generated.graph.nodes {
                    *ops.entry(node.op.name()).or_default() += 1;
                }
                for (k, c) in &report.plan.kind_counts {
                    *kinds.entry(k).or_default() += c;
                }
                for (op, _) in &report.plan.interp_nodes {
                    *interp_ops.entry(op.clone()).or_default() += 1;
                }
                if let Some(why) = &report.plan.fallback {
                    fallbacks += 1;
                    *reasons.entry(why.chars().take(60).collect()).or_default() += 1;
                }
                if !report.failures.is_empty() {
                    failures.push(describe_failure(case, report));
                }
            }
        }
    }
    let join = |m: Vec<(String, usize)>| {
        m.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{} random graphs ({nodes} nodes; {} ill-conditioned seeds regenerated): {} failed",
        results.len(),
        rejected.into_inner().unwrap(),
        failures.len()
    );
    println!(
        "  ops: {}",
        join(ops.iter().map(|(k, n)| (k.to_string(), *n)).collect())
    );
    println!(
        "  kernels: {}; whole-graph fallbacks: {fallbacks}",
        join(kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect())
    );
    if !interp_ops.is_empty() {
        println!(
            "  interpreted nodes by op: {}",
            join(interp_ops.into_iter().collect())
        );
    }
    if !reasons.is_empty() {
        println!(
            "  fallback reasons: {}",
            join(reasons.into_iter().collect())
        );
    }
    const SHOWN: usize = 5;
    // One line per failing graph (its seed and first problem), then the first graphs in full.
    let summary: Vec<String> = failures
        .iter()
        .map(|f| {
            let mut lines = f.lines();
            let head = lines.next().unwrap_or("");
            let first = lines.next().unwrap_or("").trim();
            format!(
                "  {} {first}",
                head.split(' ').take(2).collect::<Vec<_>>().join(" ")
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} random graphs fail compiled:\n{}\n\nthe first {} in full:\n\n{}",
        failures.len(),
        results.len(),
        summary.join("\n"),
        SHOWN.min(failures.len()),
        failures[..SHOWN.min(failures.len())].join("\n")
    );
}

/// Parses a graph of the text form (test-authored text: a parse error is a bug in the test).
fn parse(text: &str) -> ir::Graph {
    ir::text::parse(text).unwrap_or_else(|e| {
        let line = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
        panic!(
            "test graph: {e}: {}",
            line.chars().take(200).collect::<String>()
        )
    })
}

fn random_f32(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let v = (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect();
    Tensor::from_f32(shape.to_vec(), v).expect("sizes match")
}

#[test]
fn executable_caches_one_plan_per_input_shape_signature() {
    let graph = parse(
        r#"graph cache(x: f32[batch,6]) -> (y, z) {
  const w: f32[6,4] = [0.5, -1, 0.25, 2, 1, 0.75, -0.5, 0.1, -0.3, 0.2, 0.6, -0.9, 0.4, 0.8, -0.7, 0.3, -0.2, 0.9, 0.05, -0.6, 0.7, -0.4, 0.15, 0.35]
  const b: f32[4] = [0.1, -0.2, 0.3, -0.4]
  const shp: i64[3] = [0, 2, 2]
  const axes: i64[1] = [1]
  h = MatMul(x, w)
  hb = Binary(Add)(h, b)
  a = Unary(Tanh)(hb)
  y = Softmax{kind=Softmax, axis=-1, coerce_2d=false}(a)
  r = Reshape{allowzero=false}(a, shp)
  z = Reduce{kind=Sum, keepdims=false, noop_with_empty_axes=false}(r, axes)
}
"#,
    );
    let exe = compile_graph(&graph, OptLevel::O2, 1).expect("compiles");
    let reference = compile_graph(&graph, OptLevel::O0, 1).expect("compiles");
    let mut rng = Rng::new(7);
    let feeds = |rng: &mut Rng, batch: usize| {
        HashMap::from([("x".to_string(), random_f32(rng, &[batch, 6]))])
    };
    let mut plans = Vec::new();
    for batch in [1, 3, 1] {
        let f = feeds(&mut rng, batch);
        let got = exe.run(&f).unwrap_or_else(|e| panic!("batch {batch}: {e}"));
        let want = reference.run(&f).expect("the interpreter runs it");
        assert_eq!(got[0].1.shape(), &[batch, 4]);
        assert_eq!(got[1].1.shape(), &[batch, 2]);
        if let Err(m) = compare_outputs(&got, &want, 1.0) {
            panic!("batch {batch}: {m}");
        }
        plans.push(exe.plan(&f).expect("plans"));
    }
    assert!(
        Arc::ptr_eq(&plans[0], &plans[2]),
        "batch 1 was planned twice instead of reusing its cached plan"
    );
    assert!(
        !Arc::ptr_eq(&plans[0], &plans[1]),
        "batch 1 and batch 3 share a plan"
    );
    let summary = PlanSummary::of(&plans[1]);
    println!("batch 3: {}", summary.describe());
    assert!(
        matches!(*plans[1], Plan::Compiled(_)),
        "batch 3 is not compiled: {}",
        summary.describe()
    );
}

#[test]
fn gather_index_out_of_range_is_an_error_in_compiled_code() {
    for (axis, shape, bad, good) in [
        (0i64, [2usize], vec![1i64, 5], vec![-5i64, 4]),
        (0, [2], vec![-6, 0], vec![0, -1]),
        (1, [3], vec![0, 3, 1], vec![-3, 2, 1]),
    ] {
        let graph = parse(&format!(
            "graph gather(data: f32[5,3], idx: i64{shape:?}) -> (y) {{\n  g = Gather{{axis={axis}}}(data, idx)\n  y = Unary(Relu)(g)\n}}\n"
        ));
        let exe = compile_graph(&graph, OptLevel::O2, 1).expect("compiles");
        let mut rng = Rng::new(11);
        let data = random_f32(&mut rng, &[5, 3]);
        let feeds = |idx: &[i64]| {
            HashMap::from([
                ("data".to_string(), data.clone()),
                (
                    "idx".to_string(),
                    Tensor::from_i64(shape.to_vec(), idx.to_vec()).expect("sizes match"),
                ),
            ])
        };
        let plan = PlanSummary::of_run(&exe, &feeds(&good)).expect("plans");
        println!("gather axis {axis}: {}", plan.describe());
        if plan.fallback.is_some() || !plan.interp_nodes.is_empty() {
            println!("  note: the Gather does not run as compiled code here");
        }
        let res = catch_unwind(AssertUnwindSafe(|| exe.run(&feeds(&bad))));
        match res {
            Err(p) => panic!(
                "axis {axis}, indices {bad:?}: panicked: {}",
                panic_message(&*p)
            ),
            Ok(Ok(_)) => panic!("axis {axis}, indices {bad:?}: ran without an error"),
            Ok(Err(e)) => println!("  indices {bad:?}: {e}"),
        }
        assert!(ir::interp::run(&graph, &feeds(&bad)).is_err());
        // The executable still works after a failed run.
        let got = exe.run(&feeds(&good)).expect("valid indices run");
        let want = ir::interp::run(&graph, &feeds(&good)).expect("valid indices run");
        if let Err(m) = compare_outputs(&got, &want, 1.0) {
            panic!("axis {axis}, indices {good:?}: {m}");
        }
    }
}

/// Small graphs whose outputs, or the inputs of interpreted nodes, are views (Reshape,
/// Squeeze, Unsqueeze, Flatten, an identity Transpose) of another buffer: each must keep its
/// own shape. Minimal forms of failures the property test found.
#[test]
fn views_keep_their_own_shapes() {
    let cases = [
        // A graph output that is a view of a graph input.
        "graph v(x: f32[3,1]) -> (y) {
  const axes: i64[1] = [1]
  y = Squeeze(x, axes)
}",
        "graph v(x: f32[2,3,4]) -> (y) {
  y = Flatten{axis=1}(x)
}",
        // A graph output that is a view of a computed value.
        "graph v(x: f32[5,7]) -> (y) {
  const axes: i64[1] = [1]
  const at: i64[2] = [0, 2]
  r = Reduce{kind=Max, keepdims=false, noop_with_empty_axes=false}(x, axes)
  y = Unsqueeze(r, at)
}",
        "graph v(x: f32[6,4]) -> (e, y) {
  const s: i64[3] = [2, 3, 4]
  e = Unary(Exp)(x)
  y = Reshape{allowzero=false}(e, s)
}",
        "graph v(x: f32[6,4]) -> (y) {
  const s: i64[3] = [2, 3, 4]
  e = Unary(Exp)(x)
  r = Reshape{allowzero=false}(e, s)
  y = Transpose{perm=[0, 1, 2]}(r)
}",
        // An interpreted node reading a view.
        "graph v(x: f32[5], z: f32[2,5]) -> (y) {
  const at: i64[1] = [0]
  u = Unsqueeze(x, at)
  y = Concat{axis=0}(z, u)
}",
        "graph v(x: f32[5], z: f32[2,5]) -> (y) {
  const at: i64[1] = [0]
  e = Unary(Exp)(x)
  u = Unsqueeze(e, at)
  y = Concat{axis=0}(z, u)
}",
        "graph v(x: f32[9,9]) -> (y) {
  const s: i64[3] = [3, 1, 27]
  r = Reshape{allowzero=false}(x, s)
  y = Softmax{kind=Softmax, axis=0, coerce_2d=false}(r)
}",
    ];
    check_small_graphs("view", &cases);
}

/// Runs each graph (text form, static f32/i64 inputs fed with seeded data: f32 in [-2, 2], i64
/// in [0, 3)) compiled at -O2 and in the interpreter, and fails listing every graph that
/// differs.
fn check_small_graphs(what: &str, cases: &[&str]) {
    let mut failures = Vec::new();
    for text in cases {
        let graph = parse(&format!("{text}\n"));
        let feeds = small_feeds(&graph);
        let want = ir::interp::run(&graph, &feeds).expect("the interpreter runs it");
        let got = compile_graph(&graph, OptLevel::O2, 1)
            .map_err(|e| e.to_string())
            .and_then(|exe| {
                let plan = PlanSummary::of_run(&exe, &feeds).map_err(|e| e.to_string())?;
                let got = exe.run(&feeds).map_err(|e| e.to_string())?;
                Ok((plan, got))
            });
        match got {
            Err(m) => failures.push(format!("{m}\n{text}")),
            Ok((plan, got)) => {
                if let Err(m) = compare_outputs(&got, &want, 1.0) {
                    failures.push(format!("{m} (plan: {})\n{text}", plan.describe()));
                }
                if let Some(why) = plan.fallback.as_deref().filter(|w| is_codegen_bug(w)) {
                    failures.push(format!("fell back to the interpreter: {why}\n{text}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {what} graphs fail compiled:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Seeded feeds for a test graph's static inputs: f32 in [-2, 2], i64 in [0, 3).
fn small_feeds(graph: &ir::Graph) -> HashMap<String, Tensor> {
    let mut rng = Rng::new(5);
    graph
        .inputs
        .iter()
        .map(|&v| {
            let value = graph.value(v);
            let ty = value.ty.as_ref().expect("typed test inputs");
            let shape = ir::shape::concrete(ty.shape.as_deref().expect("ranked test inputs"))
                .expect("static test inputs");
            let t = match ty.dtype {
                DType::I64 => {
                    let n = shape.iter().product();
                    let v = (0..n).map(|_| rng.range(0, 2)).collect();
                    Tensor::from_i64(shape, v).expect("sizes match")
                }
                _ => random_f32(&mut rng, &shape),
            };
            (value.name.clone(), t)
        })
        .collect()
}

/// Reductions and softmax whose operand is broadcast (an Expand: stride 0 along the reduced or
/// the innermost dim) compile and match. Minimal forms of property-test seeds
/// 0x6746a33c72cd7d05, 0xc8872b540df7e91c, 0xa9019fdaf310dba5 and 0xe81bc9677ffa981e, where
/// the backend rejected the kernel (a scalar load used as an f32x4 operand) and the whole graph
/// fell back to the interpreter.
#[test]
fn reductions_of_broadcast_operands_compile() {
    check_small_graphs(
        "broadcast reduction",
        &[
            "graph r(x: f32[5,1]) -> (y) {
  const s: i64[2] = [5, 8]
  const axes: i64[1] = [1]
  e = Expand(x, s)
  y = Reduce{kind=Sum, keepdims=false, noop_with_empty_axes=false}(e, axes)
}",
            "graph r(x: f32[7]) -> (y) {
  const s: i64[2] = [2, 1]
  e = Expand(x, s)
  t = Transpose{perm=[1, 0]}(e)
  y = Reduce{kind=Mean, keepdims=false, noop_with_empty_axes=false}(t)
}",
            "graph r(x: f32[1,2,7,2]) -> (y) {
  const s: i64[4] = [4, 1, 7, 1]
  const axes: i64[1] = [0]
  e = Expand(x, s)
  y = Reduce{kind=Max, keepdims=false, noop_with_empty_axes=false}(e, axes)
}",
            "graph r(x: f32[8,10,1]) -> (y) {
  const s: i64[4] = [3, 8, 10, 4]
  const axes: i64[1] = [3]
  e = Expand(x, s)
  y = Reduce{kind=Sum, keepdims=true, noop_with_empty_axes=false}(e, axes)
}",
            "graph r(x: f32[6,1]) -> (y) {
  const s: i64[2] = [1, 4]
  e = Expand(x, s)
  y = Softmax{kind=Softmax, axis=1, coerce_2d=false}(e)
}",
        ],
    );
}

/// A pointwise kernel may write its output in place of an input that dies in it only when
/// both have the same element width: here `Gather + Where` writes f32 and reads a bool mask
/// that dies in it. A minimal form of the expanded NegativeLogLikelihoodLoss (conformance case
/// test_nllloss_NCd1_weight_ii_expanded, 3x2 targets with ignore_index 1).
#[test]
fn in_place_outputs_do_not_clobber_narrower_inputs() {
    check_small_graphs(
        "in-place",
        &[
            "graph m(input: f32[3,5,2], target: i64[3,2], weight: f32[5]) -> (loss) {
  const zero: i64[1] = [0]
  const one: i64[1] = [1]
  const axes: i64[1] = [1]
  const ii: i64[] = [1]
  const zf: f32[] = [0]
  u = Unsqueeze(target, axes)
  zt = Binary(Sub)(u, u)
  ut = Cast{to=I64, saturate=true}(u)
  mask = Binary(Equal)(ut, ii)
  tt = Where(mask, zt, u)
  ge = GatherElements{axis=1}(input, tt)
  get = Where(mask, zf, ge)
  ncdd = Unary(Neg)(get)
  n1dd = Slice(ncdd, zero, one, one)
  wt = Gather{axis=0}(weight, tt)
  wt1 = Where(mask, zf, wt)
  wg = Squeeze(wt1, axes)
  lu = Squeeze(n1dd, axes)
  lndd = Binary(Mul)(lu, wg)
  ls = Reduce{kind=Sum, keepdims=false, noop_with_empty_axes=false}(lndd)
  ws = Reduce{kind=Sum, keepdims=false, noop_with_empty_axes=false}(wg)
  loss = Binary(Div)(ls, ws)
}",
        ],
    );
}

/// A graph big enough that kernels split across threads: a GEMM with bias and GELU, softmax,
/// layer norm, a reduction and a transpose.
fn wide_graph(rng: &mut Rng) -> ir::Graph {
    let consts = |rng: &mut Rng, shape: &[usize]| {
        let t = random_f32(rng, shape);
        let v: Vec<String> = t.to_f32_vec().iter().map(|x| format!("{x}")).collect();
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        format!("f32[{}] = [{}]", dims.join(","), v.join(", "))
    };
    parse(&format!(
        r#"graph wide(x: f32[64,96]) -> (p, n, s, t) {{
  const w: {}
  const b: {}
  const scale: {}
  const bias: {}
  const axes: i64[1] = [0]
  h = MatMul(x, w)
  hb = Binary(Add)(h, b)
  a = Unary(Gelu{{tanh=false}})(hb)
  p = Softmax{{kind=Softmax, axis=-1, coerce_2d=false}}(a)
  n = LayerNormalization{{axis=-1, epsilon=1e-5, stash_type=F32}}(a, scale, bias)
  s = Reduce{{kind=Sum, keepdims=true, noop_with_empty_axes=false}}(a, axes)
  t = Transpose{{perm=[1, 0]}}(n)
}}
"#,
        consts(rng, &[96, 128]),
        consts(rng, &[128]),
        consts(rng, &[128]),
        consts(rng, &[128]),
    ))
}

#[test]
fn one_and_two_threads_give_identical_outputs() {
    let mut rng = Rng::new(3);
    let graph = wide_graph(&mut rng);
    let feeds = HashMap::from([("x".to_string(), random_f32(&mut rng, &[64, 96]))]);
    let want = ir::interp::run(&graph, &feeds).expect("the interpreter runs it");
    let mut cases = vec![("wide".to_string(), graph, feeds)];
    let gpt2 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2");
    match common::load_case(&gpt2) {
        Ok((g, sets)) => cases.push(("gpt2".into(), g, sets[0].inputs.clone())),
        Err(common::LoadError::Failed(m) | common::LoadError::Unsupported(m)) => {
            panic!("gpt2 fixture: {m}")
        }
    }
    for (name, graph, feeds) in &cases {
        let mut outs = Vec::new();
        for threads in [1, 2] {
            let exe = compile_graph(graph, OptLevel::O2, threads).expect("compiles");
            let plan = PlanSummary::of_run(&exe, feeds).expect("plans");
            println!("{name}, {threads} thread(s): {}", plan.describe());
            outs.push(exe.run(feeds).unwrap_or_else(|e| panic!("{name}: {e}")));
        }
        if let Err(m) = identical(&outs[0], &outs[1]) {
            panic!("{name}: {m}");
        }
        if name == "wide"
            && let Err(m) = compare_outputs(&outs[0], &want, 1.0)
        {
            panic!("{name}: {m}");
        }
    }
}

#[test]
fn run_reusing_writes_into_the_previous_outputs_storage() {
    let graph = parse(
        r#"graph reuse(x: f32[batch,6]) -> (y, z) {
  const w: f32[6,4] = [0.5, -1, 0.25, 2, 1, 0.75, -0.5, 0.1, -0.3, 0.2, 0.6, -0.9, 0.4, 0.8, -0.7, 0.3, -0.2, 0.9, 0.05, -0.6, 0.7, -0.4, 0.15, 0.35]
  const axes: i64[1] = [1]
  h = MatMul(x, w)
  y = Softmax{kind=Softmax, axis=-1, coerce_2d=false}(h)
  z = Reduce{kind=Max, keepdims=false, noop_with_empty_axes=false}(h, axes)
}
"#,
    );
    let exe = compile_graph(&graph, OptLevel::O2, 2).expect("compiles");
    let reference = compile_graph(&graph, OptLevel::O0, 1).expect("compiles");
    let mut rng = Rng::new(11);
    let ptr = |outs: &[(String, Tensor)], i: usize| outs[i].1.data().as_ptr();
    let f = HashMap::from([("x".to_string(), random_f32(&mut rng, &[5, 6]))]);
    // Stale contents (NaN) that every element of the new outputs must replace.
    let stale: Vec<(String, Tensor)> = exe
        .run(&f)
        .expect("runs")
        .into_iter()
        .map(|(n, t)| {
            let shape = t.shape().to_vec();
            let nan = vec![f32::NAN; t.len()];
            (n, Tensor::from_f32(shape, nan).expect("sizes match"))
        })
        .collect();
    let before = [ptr(&stale, 0), ptr(&stale, 1)];
    for batch in [5, 5, 2] {
        let f = HashMap::from([("x".to_string(), random_f32(&mut rng, &[batch, 6]))]);
        let previous = if batch == 5 {
            stale.clone()
        } else {
            exe.run(&HashMap::from([(
                "x".to_string(),
                random_f32(&mut rng, &[5, 6]),
            )]))
            .expect("runs")
        };
        let clone_ptrs = [ptr(&previous, 0), ptr(&previous, 1)];
        let (got, stats) = exe.run_reusing(&f, previous).expect("runs");
        assert!(stats.compiled, "batch {batch} did not run compiled code");
        let want = reference.run(&f).expect("the interpreter runs it");
        if let Err(m) = compare_outputs(&got, &want, 1.0) {
            panic!("batch {batch}: {m}");
        }
        let now = [ptr(&got, 0), ptr(&got, 1)];
        if batch == 5 {
            assert_eq!(
                now, clone_ptrs,
                "outputs of the same size were not written in place"
            );
            assert_ne!(now, before, "the test's clone shares storage with `stale`");
        } else {
            // Batch 2 outputs are smaller than the batch 5 storage handed in: fresh storage.
            assert_eq!(got[0].1.shape(), &[2, 4]);
            assert_ne!(now[0], clone_ptrs[0], "a wrong-sized buffer was reused");
        }
    }
}

/// BatchNormalization (inference) compiles as a pointwise operation: fused into a
/// convolution's epilogue before a Relu (the ResNet order), before a convolution on its own
/// (the DenseNet order), with per-activation statistics, and on rank 2, each matching the
/// interpreter and running no node in it.
#[test]
fn batch_normalization_compiles_and_fuses() {
    let bn_params = "  const g: f32[3] = [1.5, 0.5, -1]
  const b: f32[3] = [0.1, -0.2, 0.3]
  const m: f32[3] = [0.25, -0.5, 1]
  const v: f32[3] = [0.5, 2, 0.04]";
    let cases = [
        format!(
            "graph r(x: f32[2,2,5,5]) -> (y) {{
  const w: f32[3,2,1,1] = [0.5, -1, 0.25, 2, 1, -0.75]
{bn_params}
  c = Conv{{kernel_shape=none, strides=[1, 1], dilations=[], pads=[0, 0, 0, 0], auto_pad=NotSet, group=1}}(x, w, _)
  n = BatchNormalization{{epsilon=0.00001}}(c, g, b, m, v)
  y = Unary(Relu)(n)
}}"
        ),
        format!(
            "graph d(x: f32[2,3,4,4]) -> (y) {{
  const w: f32[2,3,1,1] = [0.5, -1, 0.25, 2, 1, -0.75]
{bn_params}
  n = BatchNormalization{{epsilon=0.001}}(x, g, b, m, v)
  r = Unary(Relu)(n)
  y = Conv{{kernel_shape=none, strides=[1, 1], dilations=[], pads=[0, 0, 0, 0], auto_pad=NotSet, group=1}}(r, w, _)
}}"
        ),
        "graph a(x: f32[4,3,2]) -> (y) {
  const g: f32[3,2] = [1, 2, 3, 4, 5, 6]
  const b: f32[3,2] = [0, 1, 0, 1, 0, 1]
  const m: f32[3,2] = [0.5, 0.5, -0.5, -0.5, 1, 1]
  const v: f32[3,2] = [1, 2, 3, 4, 5, 6]
  y = BatchNormalization{epsilon=0.00001}(x, g, b, m, v)
}"
        .to_string(),
        format!(
            "graph f(x: f32[6,3]) -> (y) {{
{bn_params}
  y = BatchNormalization{{epsilon=0.00001}}(x, g, b, m, v)
}}"
        ),
    ];
    let texts: Vec<&str> = cases.iter().map(String::as_str).collect();
    check_small_graphs("batch-norm", &texts);
    for text in &texts {
        let graph = parse(&format!("{text}\n"));
        let exe = compile_graph(&graph, OptLevel::O2, 1).expect("compiles");
        let plan = PlanSummary::of_run(&exe, &small_feeds(&graph)).expect("plans");
        assert!(
            plan.fallback.is_none() && !plan.describe().contains("interp"),
            "{}: {}",
            graph.name,
            plan.describe()
        );
        if graph.name == "r" {
            assert_eq!(plan.describe(), "conv 1", "Conv + BN + Relu is one kernel");
        }
    }
}

/// Concat runs natively on its buffers (straight copies, see `runtime/native.rs`): along the
/// first, a middle and the last axis (negative too), of three inputs, for f32, i64 and bool,
/// with a transposed view and a computed value as inputs; each matches the interpreter.
#[test]
fn concat_matches_the_interpreter() {
    check_small_graphs(
        "concat",
        &[
            "graph c(a: f32[2,3,4], b: f32[1,3,4], d: f32[3,3,4]) -> (y) {
  y = Concat{axis=0}(a, b, d)
}",
            "graph c(a: f32[2,3,4], b: f32[2,1,4], d: f32[2,5,4]) -> (y) {
  y = Concat{axis=1}(a, b, d)
}",
            "graph c(a: f32[2,3,4], b: f32[2,3,1], d: f32[4,3,2]) -> (y) {
  t = Transpose{perm=[2, 1, 0]}(d)
  e = Unary(Exp)(b)
  y = Concat{axis=-1}(a, e, t)
}",
            "graph c(a: i64[3,2], b: i64[3,1]) -> (y) {
  y = Concat{axis=1}(a, b, a)
}",
            "graph c(a: f32[3,2], b: f32[3,2]) -> (y) {
  p = Binary(Less)(a, b)
  q = Binary(Greater)(a, b)
  y = Concat{axis=0}(p, q)
}",
        ],
    );
}
