//! The property test's machinery: preparing a generated graph (scale, well-conditioning),
//! running it compiled with one and two threads against the interpreter, the tolerance, and
//! failure reports that print the seed and the graph.

use crate::common::{PlanSummary, compile_graph, panic_message};
use crate::generator::{Fragile, Generated, generate};
use ir::{DType, Source, Tensor};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tenfold::OptLevel;

/// Graphs whose values grow past this (or are not finite) in the interpreter are regenerated.
pub(crate) const MAX_MAGNITUDE: f64 = 1e3;

/// Compiled f32 code may differ from the interpreter by a few ulps per op: it reorders sums
/// (vector lanes, tiles, GEMM blocking), contracts multiply-adds, keeps fused intermediates in
/// registers and evaluates exp/tanh/erf with its own polynomials. 1e-4 relative covers that for
/// results of ordinary size. Near zero, a sum or difference that cancels keeps an error of the
/// order of its terms rather than of its result, so the absolute 1e-5 is scaled by the largest
/// magnitude flowing through the graph (at least 1; at most `MAX_MAGNITUDE`). Real bugs (a
/// wrong index, broadcast or bound) give errors of the order of the values themselves.
pub(crate) const RTOL: f64 = 1e-4;
pub(crate) const ATOL: f64 = 1e-5;

pub(crate) fn close(got: f64, want: f64, scale: f64) -> bool {
    (got.is_nan() && want.is_nan())
        || got == want
        || (got - want).abs() <= ATOL * scale + RTOL * want.abs()
}

/// Compares outputs: names, dtypes and shapes exactly; values within the tolerance above.
pub(crate) fn compare_outputs(
    got: &[(String, Tensor)],
    want: &[(String, Tensor)],
    scale: f64,
) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} outputs, expected {}", got.len(), want.len()));
    }
    for ((gn, g), (wn, w)) in got.iter().zip(want) {
        if gn != wn || g.dtype() != w.dtype() || g.shape() != w.shape() {
            return Err(format!(
                "output '{gn}' {} {:?}, expected '{wn}' {} {:?}",
                g.dtype(),
                g.shape(),
                w.dtype(),
                w.shape()
            ));
        }
        let (gv, wv) = (g.to_f64_vec(), w.to_f64_vec());
        let bad: Vec<usize> = (0..gv.len())
            .filter(|&i| !close(gv[i], wv[i], scale))
            .collect();
        if let Some(&i) = bad.first() {
            return Err(format!(
                "output '{gn}' {:?}: {} of {} elements differ; first at {i}: got {}, expected {} (atol {:.1e})",
                g.shape(),
                bad.len(),
                gv.len(),
                gv[i],
                wv[i],
                ATOL * scale
            ));
        }
    }
    Ok(())
}

/// Bit-for-bit equality of two runs' outputs.
pub(crate) fn identical(a: &[(String, Tensor)], b: &[(String, Tensor)]) -> Result<(), String> {
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if x.shape() != y.shape() || x.data().to_le_bytes() != y.data().to_le_bytes() {
            let (xv, yv) = (x.to_f64_vec(), y.to_f64_vec());
            let i = (0..xv.len().min(yv.len()))
                .find(|&i| xv[i].to_bits() != yv[i].to_bits())
                .unwrap_or(0);
            return Err(format!(
                "output '{name}' differs between 1 and 2 threads; first at {i}: {} vs {}",
                xv.get(i).copied().unwrap_or(f64::NAN),
                yv.get(i).copied().unwrap_or(f64::NAN)
            ));
        }
    }
    Ok(())
}

/// A generated graph that is well-conditioned enough to compare at the tolerance above.
pub(crate) struct Case {
    pub(crate) seed: u64,
    pub(crate) generated: Generated,
    /// The largest magnitude of any input or intermediate value (at least 1).
    pub(crate) scale: f64,
}

/// Why a generated graph is not used.
pub(crate) enum Rejected {
    /// Values overflow, grow past `MAX_MAGNITUDE` or sit on a comparison or cast boundary.
    IllConditioned,
    /// The interpreter fails on a graph that shape inference accepted: reported as a failure.
    Interp(String),
}

/// Generates the graph of `seed` and runs it in the interpreter with every f32 intermediate as
/// an output, to measure its scale and check its fragile points.
pub(crate) fn prepare(seed: u64) -> Result<Case, Rejected> {
    let generated = generate(seed);
    let mut all = generated.graph.clone();
    all.outputs = (0..all.values.len() as u32)
        .map(ir::ValueId)
        .filter(|&v| {
            let val = all.value(v);
            matches!(val.source, Source::Node { .. })
                && val.ty.as_ref().is_some_and(|t| t.dtype == DType::F32)
        })
        .collect();
    let outs =
        ir::interp::run(&all, &generated.feeds).map_err(|e| Rejected::Interp(e.to_string()))?;
    let mut values: HashMap<ir::ValueId, &Tensor> = all
        .outputs
        .iter()
        .copied()
        .zip(outs.iter().map(|(_, t)| t))
        .collect();
    for &v in &all.inputs {
        if let Some(t) = generated.feeds.get(&all.value(v).name) {
            values.insert(v, t);
        }
    }
    let mut scale: f64 = 1.0;
    for t in values.values() {
        for x in t.to_f64_vec() {
            if !x.is_finite() || x.abs() > MAX_MAGNITUDE {
                return Err(Rejected::IllConditioned);
            }
            scale = scale.max(x.abs());
        }
    }
    // A value within this distance of a boundary could cross it through rounding alone.
    let margin = 1e-3 * scale;
    for f in &generated.fragile {
        let near = match f {
            Fragile::Compare { x, threshold } => values[x]
                .to_f64_vec()
                .iter()
                .any(|&v| (v - *threshold as f64).abs() < margin),
            Fragile::Cast { x } => values[x]
                .to_f64_vec()
                .iter()
                .any(|&v| (v - v.round()).abs() < margin),
        };
        if near {
            return Err(Rejected::IllConditioned);
        }
    }
    Ok(Case {
        seed,
        generated,
        scale,
    })
}

/// A graph's result: its case and report, or why no case could be made (every seed
/// ill-conditioned, or the interpreter failing on a graph inference accepted).
pub(crate) type Outcome = Result<(Case, Report), String>;

/// Whether a whole-graph fallback's reason is a bug rather than a limit: the backend rejecting
/// a kernel that lowering produced (`CodegenError::Jit`).
pub(crate) fn is_codegen_bug(reason: &str) -> bool {
    reason.contains("code generation failed")
}

/// What one case showed.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) failures: Vec<String>,
    pub(crate) plan: PlanSummary,
}

/// Runs a case at -O2 with one and two threads and compares with the interpreter.
pub(crate) fn check(case: &Case) -> Report {
    let mut report = Report::default();
    let graph = &case.generated.graph;
    let feeds = &case.generated.feeds;
    let want = match ir::interp::run(graph, feeds) {
        Ok(w) => w,
        Err(e) => {
            report.failures.push(format!("interpreter: {e}"));
            return report;
        }
    };
    let mut runs = Vec::new();
    for threads in [1, 2] {
        let res = catch_unwind(AssertUnwindSafe(|| -> Result<_, String> {
            let exe =
                compile_graph(graph, OptLevel::O2, threads).map_err(|e| format!("compile: {e}"))?;
            let plan = PlanSummary::of_run(&exe, feeds).map_err(|e| format!("plan: {e}"))?;
            let got = exe.run(feeds).map_err(|e| format!("run: {e}"))?;
            Ok((plan, got))
        }));
        match res {
            Err(p) => report.failures.push(format!(
                "{threads} thread(s): panicked: {}",
                panic_message(&*p)
            )),
            Ok(Err(m)) => report.failures.push(format!("{threads} thread(s): {m}")),
            Ok(Ok((plan, got))) => {
                if let Err(m) = compare_outputs(&got, &want, case.scale) {
                    report.failures.push(format!("{threads} thread(s): {m}"));
                }
                if let Some(why) = plan.fallback.as_deref().filter(|w| is_codegen_bug(w)) {
                    report.failures.push(format!(
                        "{threads} thread(s): fell back to the interpreter: {why}"
                    ));
                }
                report.plan = plan;
                runs.push(got);
            }
        }
    }
    if let [one, two] = &runs[..]
        && let Err(m) = identical(one, two)
    {
        report.failures.push(m);
    }
    report
}

pub(crate) fn describe_failure(case: &Case, report: &Report) -> String {
    format!(
        "seed {:#x} (scale {:.3}; plan: {}):\n  {}\n{}",
        case.seed,
        case.scale,
        report.plan.describe(),
        report.failures.join("\n  "),
        ir::text::print(&case.generated.graph)
    )
}
