//! ONNX conformance: runs every backend node case and every `light_*` model written by
//! `scripts/gen_onnx_tests.py` through the reference interpreter and compares with the expected
//! outputs (rtol 1e-3, atol 1e-7, as the ONNX backend runner does).
//!
//! `tests/conformance/passing.txt` lists the cases that pass; a listed case that fails fails
//! this test, and no case may panic. Environment:
//! - `TENFOLD_ONNX_TESTS`: the cases' folder (default `target/onnx-tests`);
//! - `TENFOLD_CONFORMANCE_FILTER`: run only cases whose name contains this, printing each result;
//! - `TENFOLD_CONFORMANCE_UPDATE=1`: rewrite `passing.txt` with today's passing set.

mod common;

use common::{LoadError, check_case, load_case};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const RTOL: f64 = 1e-3;
const ATOL: f64 = 1e-7;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Pass,
    Unsupported(String),
    Fail(String),
    Panic(String),
}

fn run_case(dir: &Path) -> Outcome {
    let res = catch_unwind(AssertUnwindSafe(|| match load_case(dir) {
        Err(LoadError::Unsupported(m)) => Outcome::Unsupported(m),
        Err(LoadError::Failed(m)) => Outcome::Fail(m),
        Ok((graph, sets)) => match check_case(&graph, &sets, RTOL, ATOL, ir::interp::run) {
            Ok(()) => Outcome::Pass,
            Err(m) if m.contains("unsupported") || m.contains("not supported") => {
                Outcome::Unsupported(m)
            }
            Err(m) => Outcome::Fail(m),
        },
    }));
    res.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Outcome::Panic(msg)
    })
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
                    let outcome = std::thread::Builder::new()
                        .stack_size(64 << 20)
                        .spawn({
                            let dir = dir.clone();
                            move || run_case(&dir)
                        })
                        .unwrap()
                        .join()
                        .unwrap_or(Outcome::Panic("worker died".into()));
                    results.lock().unwrap().push((name.clone(), outcome));
                }
            });
        }
    });
    let _ = std::panic::take_hook();
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));

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
        for (n, o) in &results {
            println!("{n}: {o:?}");
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
