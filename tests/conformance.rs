//! ONNX conformance: runs every backend node case and every `light_*` model written by
//! `scripts/gen_onnx_tests.py` through the reference interpreter and compares with the expected
//! outputs (rtol 1e-3, atol 1e-7, as the ONNX backend runner does). Every case the interpreter
//! passes also runs through the compiled path (`Compiler::new()`, -O2, one thread) against the
//! same expected outputs at the same tolerances.
//!
//! Every case the interpreter passes is also exported back to ONNX (`ir::onnx::export_model`),
//! re-imported and run through the interpreter against the same expected outputs at the same
//! tolerances.
//!
//! `tests/conformance/passing.txt` lists the cases that pass; a listed case that fails fails
//! this test, a case that passes in the interpreter but fails compiled or fails its export round
//! trip fails it, and no case may panic. Environment:
//! - `TENFOLD_ONNX_TESTS`: the cases' folder (default `target/onnx-tests`);
//! - `TENFOLD_CONFORMANCE_FILTER`: run only cases whose name contains this, printing each result;
//! - `TENFOLD_CONFORMANCE_UPDATE=1`: rewrite `passing.txt` with today's passing set.

mod common;

use common::{
    DataSet, LoadError, PlanSummary, check_case, compile_graph, load_case, panic_message,
};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tenfold::OptLevel;

const RTOL: f64 = 1e-3;
const ATOL: f64 = 1e-7;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Pass,
    Unsupported(String),
    Fail(String),
    Panic(String),
}

/// How a case that passes in the interpreter fared in the compiled path.
#[derive(Clone, Debug, Default)]
struct CompiledRun {
    /// Why it did not match the expected outputs (a compile or run error, a mismatch, a
    /// panic); `None` when it matched.
    failure: Option<String>,
    /// The plan for the first data set's shapes (empty when compiling failed).
    plan: PlanSummary,
    /// Compiling and running every data set.
    time: Duration,
}

/// One case: the interpreter's outcome, and the compiled path's and the export round trip's
/// when the interpreter passes.
#[derive(Clone, Debug)]
struct CaseResult {
    outcome: Outcome,
    compiled: Option<CompiledRun>,
    /// Export, re-import and interpret: `Err` says what failed; and the time it took.
    exported: Option<(Result<(), String>, Duration)>,
    interp_time: Duration,
}

fn run_case(dir: &Path) -> CaseResult {
    let start = Instant::now();
    let loaded = catch_unwind(AssertUnwindSafe(|| load_case(dir)));
    let (graph, sets) = match loaded {
        Err(p) => return interp_only(Outcome::Panic(panic_message(&*p)), start),
        Ok(Err(LoadError::Unsupported(m))) => return interp_only(Outcome::Unsupported(m), start),
        Ok(Err(LoadError::Failed(m))) => return interp_only(Outcome::Fail(m), start),
        Ok(Ok(case)) => case,
    };
    let res = catch_unwind(AssertUnwindSafe(|| {
        check_case(&graph, &sets, RTOL, ATOL, ir::interp::run)
    }));
    let outcome = match res {
        Err(p) => Outcome::Panic(panic_message(&*p)),
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(m)) if m.contains("unsupported") || m.contains("not supported") => {
            Outcome::Unsupported(m)
        }
        Ok(Err(m)) => Outcome::Fail(m),
    };
    let interp_time = start.elapsed();
    let passed = outcome == Outcome::Pass;
    let compiled = passed.then(|| run_compiled(&graph, &sets));
    let exported = passed.then(|| {
        let start = Instant::now();
        let res = catch_unwind(AssertUnwindSafe(|| export_round_trip(&graph, &sets)))
            .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))));
        (res, start.elapsed())
    });
    CaseResult {
        outcome,
        compiled,
        exported,
        interp_time,
    }
}

fn interp_only(outcome: Outcome, start: Instant) -> CaseResult {
    CaseResult {
        outcome,
        compiled: None,
        exported: None,
        interp_time: start.elapsed(),
    }
}

/// Exports the imported graph to ONNX, imports the bytes again and checks the expected outputs
/// through the interpreter.
fn export_round_trip(graph: &ir::Graph, sets: &[DataSet]) -> Result<(), String> {
    let bytes = ir::onnx::export_model(graph).map_err(|e| format!("export: {e}"))?;
    let back = ir::onnx::import_model(&bytes, None).map_err(|e| format!("re-import: {e}"))?;
    check_case(&back, sets, RTOL, ATOL, ir::interp::run)
}

/// Compiles the case at -O2 with one thread and checks every data set.
fn run_compiled(graph: &ir::Graph, sets: &[DataSet]) -> CompiledRun {
    let start = Instant::now();
    let res = catch_unwind(AssertUnwindSafe(|| {
        let exe = match compile_graph(graph, OptLevel::O2, 1) {
            Ok(exe) => exe,
            Err(e) => {
                return CompiledRun {
                    failure: Some(format!("compile: {e}")),
                    ..CompiledRun::default()
                };
            }
        };
        let plan = match sets.first().map(|s| PlanSummary::of_run(&exe, &s.inputs)) {
            None => PlanSummary::default(),
            Some(Ok(plan)) => plan,
            Some(Err(e)) => {
                return CompiledRun {
                    failure: Some(format!("plan: {e}")),
                    ..CompiledRun::default()
                };
            }
        };
        // A whole-graph fallback runs the interpreter that just passed: only its reason counts.
        // The backend rejecting a kernel lowering produced (`CodegenError::Jit`) is a bug.
        let failure = match &plan.fallback {
            Some(why) if why.contains("code generation failed") => {
                Some(format!("fell back to the interpreter: {why}"))
            }
            Some(_) => None,
            None => check_case(graph, sets, RTOL, ATOL, |_, feeds| exe.run(feeds)).err(),
        };
        CompiledRun {
            failure,
            plan,
            time: Duration::ZERO,
        }
    }));
    let mut run = res.unwrap_or_else(|p| CompiledRun {
        failure: Some(format!("panicked: {}", panic_message(&*p))),
        ..CompiledRun::default()
    });
    run.time = start.elapsed();
    run
}

fn case_dirs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for kind in ["node", "light"] {
        let Ok(rd) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for e in rd.flatten() {
            out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
    }
    out.sort();
    out
}

#[test]
fn onnx_backend_conformance() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::var_os("TENFOLD_ONNX_TESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target/onnx-tests"));
    assert!(
        root.join(".complete").exists(),
        "no ONNX test cases in {}: run `scripts/setup_venv.sh && .venv/bin/python scripts/gen_onnx_tests.py {}` (scripts/test.sh does)",
        root.display(),
        root.display()
    );
    let filter = std::env::var("TENFOLD_CONFORMANCE_FILTER").ok();
    let cases: Vec<(String, PathBuf)> = case_dirs(&root)
        .into_iter()
        .filter(|(n, _)| filter.as_ref().is_none_or(|f| n.contains(f.as_str())))
        .collect();
    // Quiet the default hook: panics are counted and reported below.
    std::panic::set_hook(Box::new(|_| {}));
    let results = Mutex::new(Vec::with_capacity(cases.len()));
    let next = Mutex::new(0usize);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some((name, dir)) = cases.get(i) else {
                        break;
                    };
                    let result = std::thread::Builder::new()
                        .stack_size(64 << 20)
                        .spawn({
                            let dir = dir.clone();
                            move || run_case(&dir)
                        })
                        .unwrap()
                        .join()
                        .unwrap_or(CaseResult {
                            outcome: Outcome::Panic("worker died".into()),
                            compiled: None,
                            exported: None,
                            interp_time: Duration::ZERO,
                        });
                    results.lock().unwrap().push((name.clone(), result));
                }
            });
        }
    });
    let _ = std::panic::take_hook();
    let mut full: Vec<(String, CaseResult)> = results.into_inner().unwrap();
    full.sort_by(|a, b| a.0.cmp(&b.0));
    let results: Vec<(String, Outcome)> = full
        .iter()
        .map(|(n, r)| (n.clone(), r.outcome.clone()))
        .collect();

    let passing_file = manifest.join("tests/conformance/passing.txt");
    let listed: Vec<String> = std::fs::read_to_string(&passing_file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();

    let count = |f: fn(&Outcome) -> bool, prefix: &str| {
        results
            .iter()
            .filter(|(n, o)| n.starts_with(prefix) && f(o))
            .count()
    };
    let is_pass = |o: &Outcome| *o == Outcome::Pass;
    let is_unsup = |o: &Outcome| matches!(o, Outcome::Unsupported(_));
    let is_fail = |o: &Outcome| matches!(o, Outcome::Fail(_) | Outcome::Panic(_));
    let is_panic = |o: &Outcome| matches!(o, Outcome::Panic(_));
    if filter.is_some() {
        for (n, r) in &full {
            println!("{n}: {:?}", r.outcome);
            if let Some(c) = &r.compiled {
                match &c.failure {
                    None => println!("  compiled: pass ({})", c.plan.describe()),
                    Some(m) => println!("  compiled: FAIL ({}): {m}", c.plan.describe()),
                }
            }
        }
    }
    println!(
        "node cases: {} passed, {} failed, {} unsupported (of {})",
        count(is_pass, "test_"),
        count(is_fail, "test_"),
        count(is_unsup, "test_"),
        count(|_| true, "test_")
    );
    println!(
        "light models: {} passed, {} failed, {} unsupported",
        count(is_pass, "light_"),
        count(is_fail, "light_"),
        count(is_unsup, "light_")
    );

    for prefix in ["test_", "light_"] {
        print_compiled_counts(&full, prefix);
    }
    let export_failures = print_export_counts(&full);

    if std::env::var("TENFOLD_CONFORMANCE_UPDATE").is_ok_and(|v| v == "1") && filter.is_none() {
        let mut text = String::from(
            "# ONNX backend cases that pass through the reference interpreter.\n# Regenerate: TENFOLD_CONFORMANCE_UPDATE=1 cargo test --test conformance\n",
        );
        for (n, o) in &results {
            if *o == Outcome::Pass {
                text.push_str(n);
                text.push('\n');
            }
        }
        std::fs::write(&passing_file, text).unwrap();
    }

    let mut problems = Vec::new();
    for (n, o) in &results {
        if is_panic(o) {
            problems.push(format!("{n} panicked: {o:?}"));
        } else if listed.contains(n) && *o != Outcome::Pass {
            problems.push(format!("{n} is listed as passing but: {o:?}"));
        }
    }
    for (n, r) in &full {
        if let Some(CompiledRun {
            failure: Some(m),
            plan,
            ..
        }) = &r.compiled
        {
            problems.push(format!(
                "{n} passes in the interpreter but fails compiled ({}): {m}",
                plan.describe()
            ));
        }
    }
    problems.extend(export_failures);
    let ran: std::collections::HashSet<&String> = results.iter().map(|(n, _)| n).collect();
    if filter.is_none() {
        for n in &listed {
            if !ran.contains(n) {
                problems.push(format!("{n} is listed as passing but was not found"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} conformance problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Prints the export round trip's summary line and its failures; returns one problem line per
/// failure.
fn print_export_counts(full: &[(String, CaseResult)]) -> Vec<String> {
    let runs: Vec<(&String, &Result<(), String>)> = full
        .iter()
        .filter_map(|(n, r)| r.exported.as_ref().map(|(e, _)| (n, e)))
        .collect();
    let time: Duration = full
        .iter()
        .filter_map(|(_, r)| r.exported.as_ref().map(|(_, t)| *t))
        .sum();
    let failures: Vec<String> = runs
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|m| format!("{n}: {m}")))
        .collect();
    println!(
        "export round trip: {} passed, {} failed (of {})",
        runs.len() - failures.len(),
        failures.len(),
        runs.len()
    );
    println!(
        "  time summed over cases: export, re-import and interpret {:.1} s",
        time.as_secs_f64()
    );
    for f in &failures {
        println!("  export round trip failed: {f}");
    }
    failures
        .into_iter()
        .map(|f| format!("export round trip failed: {f}"))
        .collect()
}

/// Prints the compiled path's counts for the cases whose names start with `prefix`: passes and
/// failures, kernels by kind, the ops left to the interpreter and the most frequent reasons for
/// whole-graph fallbacks.
fn print_compiled_counts(full: &[(String, CaseResult)], prefix: &str) {
    let runs: Vec<&CompiledRun> = full
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .filter_map(|(_, r)| r.compiled.as_ref())
        .collect();
    let failed = runs.iter().filter(|c| c.failure.is_some()).count();
    let compiled: usize = runs.iter().map(|c| c.plan.compiled_kernels()).sum();
    let interp: usize = runs.iter().map(|c| c.plan.interp_nodes.len()).sum();
    let fallbacks = runs.iter().filter(|c| c.plan.fallback.is_some()).count();
    let label = if prefix == "test_" {
        "node cases"
    } else {
        "light models"
    };
    println!(
        "{label}, compiled path: {} passed, {failed} failed (of {} the interpreter passes); kernels: {compiled} compiled, {interp} interpreted nodes, {fallbacks} whole-graph fallbacks",
        runs.len() - failed,
        runs.len()
    );
    let interp_time: Duration = full
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, r)| r.interp_time)
        .sum();
    let compiled_time: Duration = runs.iter().map(|c| c.time).sum();
    println!(
        "  time summed over cases: interpreter {:.1} s, compiled path (compile + run) {:.1} s",
        interp_time.as_secs_f64(),
        compiled_time.as_secs_f64()
    );
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut interp_ops: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for c in &runs {
        for (label, n) in &c.plan.kind_counts {
            *kinds.entry(label).or_default() += n;
        }
        for (op, _) in &c.plan.interp_nodes {
            *interp_ops.entry(op.as_str()).or_default() += 1;
        }
        if let Some(why) = &c.plan.fallback {
            // Reasons name values and shapes; the first words group them.
            let key: String = why.chars().take(60).collect();
            *reasons.entry(key).or_default() += 1;
        }
    }
    let top = |m: Vec<(String, usize)>, k: usize| -> String {
        let mut m = m;
        m.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        m.iter()
            .take(k)
            .map(|(name, n)| format!("{name} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !kinds.is_empty() {
        let v = kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        println!("  kernels by kind: {}", top(v, usize::MAX));
    }
    if !interp_ops.is_empty() {
        let v = interp_ops
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        println!("  interpreted nodes by op (top 15): {}", top(v, 15));
    }
    if !reasons.is_empty() {
        let v: Vec<(String, usize)> = reasons.into_iter().collect();
        println!("  whole-graph fallbacks by reason (top 8): {}", top(v, 8));
    }
}
