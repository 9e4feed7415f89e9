//! The compiled path against the reference interpreter: a property test over seeded random
//! graphs (-O2 with one and two threads vs -O0), the per-signature plan cache, index errors
//! reported as errors, identical outputs for one and two threads, outputs written into a
//! previous run's storage, and small text graphs (`compiled/small_graphs.rs`).
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
#[path = "compiled/small_graphs.rs"]
mod small_graphs;

use common::{PlanSummary, compile_graph, panic_message};
use generator::{Rng, generate};
use ir::Tensor;
use property::{Outcome, Rejected, check, compare_outputs, describe_failure, identical, prepare};
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
