//! Monarch structure end to end: a dense weight that is exactly Monarch is found and applied
//! as two batched block-diagonal products (n/(s+t) times fewer FLOPs: 12.8× for the
//! square-grid form with 16 blocks of 64, 8× for 16 blocks of 64 in both factors), the outputs
//! equal the original's through the interpreter, and a dense random weight is left alone.

use ir::shape::Dim;
use ir::{DType, Graph, Op, Tensor};
use rewrites::cost::FlopCount;
use rewrites::rules::monarch::{Layout, random_monarch};
use rewrites::verify::{GraphBuilder, Rng};
use rewrites::{Options, Report, optimize, optimize_with};
use std::time::Instant;

/// Runs both graphs on the same random inputs; returns the largest relative error.
fn compare(a: &Graph, b: &Graph, seed: u64) -> f64 {
    rewrites::verify::compare_graphs(a, b, seed).expect("both graphs run alike")
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    rewrites::verify::count_ops(g, pred)
}

/// `x [rows, n] · W` with W = monarch(I; R, L) of the given layout + relative noise.
fn monarch_graph(lay: Layout, rows: usize, noise: f64, seed: u64) -> Graph {
    let mut rng = Rng::new(seed);
    let n = lay.n();
    let mut w = random_monarch(&mut rng, lay);
    if noise > 0.0 {
        let rms = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
        for v in w.iter_mut() {
            *v += noise * rms * rng.normal();
        }
    }
    let mut g = GraphBuilder::new("monarch");
    let x = g.input(&[rows, n]);
    let wc = g.constant(Tensor::from_f64(DType::F32, vec![n, n], &w).expect("fits"));
    let y = g.op(Op::MatMul, &[x, wc]);
    g.finish(&[y])
}

fn timed(g: &Graph, opts: &Options, what: &str) -> (Graph, Report, f64) {
    let t = Instant::now();
    let (opt, report) = optimize(g, opts).expect("optimizes");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{what}: flops {:.3e} -> {:.3e} (ratio {:.2}), optimize {:.1} ms, fired {:?}",
        report.flops_before,
        report.flops_after,
        report.flops_before / report.flops_after,
        secs * 1e3,
        report.rules_fired
    );
    (opt, report, secs)
}

/// The layout is found and applied: FLOPs drop by n/(s+t), outputs agree.
fn check_exact(b: usize, s: usize, t: usize, ratio: f64) {
    let lay = Layout { b, s, t };
    let g = monarch_graph(lay, 64, 0.0, 17);
    let what = format!("monarch b={b} s={s} t={t}");
    let (opt, report, secs) = timed(&g, &Options::default(), &what);
    let n = lay.n() as f64;
    assert_eq!(report.flops_before, 2.0 * 64.0 * n * n);
    assert_eq!(
        report.flops_after,
        2.0 * 64.0 * n * (s + t) as f64,
        "{report:?}"
    );
    assert_eq!(report.flops_before / report.flops_after, ratio);
    assert!(
        report.rules_fired.contains_key("monarch-detect"),
        "{report:?}"
    );
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 2);
    let err = compare(&g, &opt, 5);
    assert!(err < 1e-4, "relative error {err}");
    if cfg!(not(debug_assertions)) {
        assert!(secs < 1.0, "optimize took {secs} s");
    }
}

/// The square-grid form: R 16 blocks of 64, L 64 blocks of 16.
#[test]
fn monarch_16_blocks_of_64_is_found() {
    check_exact(16, 64, 16, 12.8);
}

#[test]
fn monarch_32_blocks_of_32_is_found() {
    check_exact(32, 32, 32, 16.0);
}

/// 16 blocks of 64 in both factors (a Monarch layer's layout): b/2 = 8 times fewer FLOPs.
#[test]
fn monarch_layer_layout_is_found() {
    check_exact(16, 64, 64, 8.0);
}

/// A symbolic batch: x [batch, n] stays symbolic through the application; the optimized graph
/// runs on batches of any size.
#[test]
fn symbolic_batch_is_kept() {
    let lay = Layout {
        b: 16,
        s: 32,
        t: 16,
    };
    let mut rng = Rng::new(31);
    let w = random_monarch(&mut rng, lay);
    let n = lay.n();
    let mut g = GraphBuilder::new("monarch-sym");
    let x = g.input_shape(vec![Dim::Symbolic("batch".into()), Dim::Static(n)]);
    let wc = g.constant(Tensor::from_f64(DType::F32, vec![n, n], &w).expect("fits"));
    let y = g.op(Op::MatMul, &[x, wc]);
    let g = g.finish(&[y]);
    let (opt, report, _) = timed(&g, &Options::default(), "monarch symbolic batch");
    assert!(
        report.rules_fired.contains_key("monarch-detect"),
        "{report:?}"
    );
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 2);
    let err = rewrites::verify::compare_symbolic(&g, &opt, "batch", &[vec![1, n], vec![4, n]], 5)
        .expect("the batch stays symbolic and both graphs run");
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn dense_random_weight_is_left_alone() {
    let g = rewrites::verify::random_dense_matmul(64, 1024, 1024, 3);
    let (opt, report, _) = timed(&g, &Options::default(), "dense 1024");
    assert!(
        !report.rules_fired.contains_key("monarch-detect"),
        "{report:?}"
    );
    assert_eq!(report.flops_after, report.flops_before);
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 1);
}

#[test]
fn near_monarch_weight_under_approx() {
    let g = monarch_graph(
        Layout {
            b: 16,
            s: 64,
            t: 16,
        },
        64,
        1e-3,
        23,
    );
    let (_, exact, _) = timed(&g, &Options::default(), "near-monarch exact");
    assert_eq!(exact.flops_after, exact.flops_before);
    let mut opts = Options::default();
    opts.rules.approx = Some(1e-2);
    let (opt, report, _) = timed(&g, &opts, "near-monarch approx 1e-2");
    assert_eq!(report.flops_before / report.flops_after, 12.8, "{report:?}");
    assert_eq!(report.approximations.len(), 1, "{report:?}");
    let e = report.approximations[0].rel_error;
    assert!(e > 5e-4 && e < 2e-3, "{e}");
    let err = compare(&g, &opt, 5);
    assert!(err < 1e-2, "relative error {err}");
}

/// The text IR with float constants shown by type only.
fn summary(g: &Graph) -> String {
    ir::text::print(g)
        .lines()
        .map(|l| match l.strip_prefix("  const ") {
            Some(c) if !c.contains(": i64") => {
                format!("  const {}", c.split(" = ").next().unwrap_or(c))
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn small(b: usize, s: usize, t: usize) -> String {
    let g = monarch_graph(Layout { b, s, t }, 2, 0.0, 29);
    let (opt, _) = optimize_with(&g, &Options::default(), &FlopCount).expect("optimizes");
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 2);
    assert!(compare(&g, &opt, 1) < 1e-4);
    summary(&opt)
}

/// b = s = t: the permutation between the products is a swap of the outer axes alone.
#[test]
fn snapshot_monarch_4_by_4() {
    insta::assert_snapshot!(small(4, 4, 4));
}

/// The square-grid form with b != s: R 4 blocks of 8, L 8 blocks of 4.
#[test]
fn snapshot_monarch_4_by_8_grid() {
    insta::assert_snapshot!(small(4, 8, 4));
}

/// b blocks in both factors: the swap is followed by a regrouping Reshape.
#[test]
fn snapshot_monarch_4_by_8_layer() {
    insta::assert_snapshot!(small(4, 8, 8));
}
