//! Kronecker structure end to end: `x · kron(A, B)` as exporters write it (constant or input
//! factors) and as one dense constant is found, applied as two small products; FLOPs drop as
//! the analysis says and the outputs equal the original's through the interpreter.

use ir::shape::Dim;
use ir::{DType, Graph, Op, Tensor};
use rewrites::cost::FlopCount;
use rewrites::rules::kron::{exporter_kron, kron_matrix};
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

/// How A and B enter the graph.
#[derive(Clone, Copy, Debug)]
enum Form {
    /// The exporter form over constant factors.
    Constants,
    /// The exporter form over graph inputs.
    Inputs,
    /// One dense constant A ⊗ B.
    Dense,
}

/// `x [rows, m1·m2] · kron(A, B)` with A [m1, n1], B [m2, n2].
fn kron_graph(form: Form, rows: usize, [m1, n1, m2, n2]: [usize; 4], seed: u64) -> Graph {
    let mut rng = Rng::new(seed);
    let mut g = GraphBuilder::new("kron");
    let x = g.input(&[rows, m1 * m2]);
    let k = match form {
        Form::Constants => {
            let a = g.random_const(&mut rng, &[m1, n1]);
            let b = g.random_const(&mut rng, &[m2, n2]);
            exporter_kron(&mut g, a, b, [m1, n1, m2, n2], false)
        }
        Form::Inputs => {
            let a = g.input(&[m1, n1]);
            let b = g.input(&[m2, n2]);
            exporter_kron(&mut g, a, b, [m1, n1, m2, n2], true)
        }
        Form::Dense => {
            let a = rng.normals(m1 * n1);
            let b = rng.normals(m2 * n2);
            let w = kron_matrix(&a, m1, n1, &b, m2, n2);
            let t = Tensor::from_f64(DType::F32, vec![m1 * m2, n1 * n2], &w).expect("fits");
            g.constant(t)
        }
    };
    let y = g.op(Op::MatMul, &[x, k]);
    g.finish(&[y])
}

fn run(form: Form) -> (Graph, Graph, Report) {
    let g = kron_graph(form, 64, [16, 64, 16, 64], 11);
    let t = Instant::now();
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    let ratio = report.flops_before / report.flops_after;
    println!(
        "kron {form:?}: flops {:.3e} -> {:.3e} (ratio {ratio:.2}), optimize {:.1} ms, fired {:?}",
        report.flops_before,
        report.flops_after,
        t.elapsed().as_secs_f64() * 1e3,
        report.rules_fired
    );
    (g, opt, report)
}

fn check(form: Form) {
    let (g, opt, report) = run(form);
    // Dense: 2·N·m1m2·n1n2; applied: 2·N·(m1·m2·n2 + n1·m1·n2) = 2·64·(16·16·64 + 64·16·64).
    let applied = 2.0 * 64.0 * (16.0 * 16.0 * 64.0 + 64.0 * 16.0 * 64.0);
    assert_eq!(report.flops_after, applied, "{report:?}");
    assert!(
        report.flops_before / report.flops_after >= 10.0,
        "{report:?}"
    );
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 2);
    assert_eq!(count(&opt, |o| matches!(o, Op::Binary(_))), 0);
    let err = compare(&g, &opt, 5);
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn exporter_form_with_constant_factors() {
    check(Form::Constants);
}

#[test]
fn exporter_form_with_input_factors() {
    check(Form::Inputs);
}

#[test]
fn dense_kronecker_weight_is_found() {
    check(Form::Dense);
    let (_, _, report) = run(Form::Dense);
    assert!(report.rules_fired.contains_key("kron-detect"), "{report:?}");
}

/// A symbolic batch stays symbolic: the factors broadcast over it, and the optimized graph
/// runs on batches of any size.
#[test]
fn symbolic_batch_is_kept() {
    let (m1, n1, m2, n2) = (8, 16, 8, 16);
    let mut rng = Rng::new(21);
    let mut g = GraphBuilder::new("kron-sym");
    let shape = vec![
        Dim::Symbolic("batch".into()),
        Dim::Static(3),
        Dim::Static(m1 * m2),
    ];
    let x = g.input_shape(shape);
    let a = rng.normals(m1 * n1);
    let b = rng.normals(m2 * n2);
    let w = kron_matrix(&a, m1, n1, &b, m2, n2);
    let wc = g.constant(Tensor::from_f64(DType::F32, vec![m1 * m2, n1 * n2], &w).expect("fits"));
    let y = g.op(Op::MatMul, &[x, wc]);
    let g = g.finish(&[y]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    assert!(report.rules_fired.contains_key("kron-apply"), "{report:?}");
    assert!(
        report.flops_before / report.flops_after >= 4.0,
        "{report:?}"
    );
    let err = rewrites::verify::compare_symbolic(
        &g,
        &opt,
        "batch",
        &[vec![1, 3, m1 * m2], vec![5, 3, m1 * m2]],
        5,
    )
    .expect("the batch stays symbolic and both graphs run");
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn dense_random_weight_is_left_alone() {
    let g = rewrites::verify::random_dense_matmul(64, 256, 1024, 3);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    assert!(
        !report.rules_fired.contains_key("kron-detect"),
        "{report:?}"
    );
    assert_eq!(report.flops_after, report.flops_before);
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 1);
}

#[test]
fn near_kronecker_weight_under_approx() {
    let (m1, n1, m2, n2) = (16, 64, 16, 64);
    let mut rng = Rng::new(9);
    let a = rng.normals(m1 * n1);
    let b = rng.normals(m2 * n2);
    let mut w = kron_matrix(&a, m1, n1, &b, m2, n2);
    let rms = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
    for v in w.iter_mut() {
        *v += 1e-3 * rms * rng.normal();
    }
    let mut g = GraphBuilder::new("near-kron");
    let x = g.input(&[64, m1 * m2]);
    let wc = g.constant(Tensor::from_f64(DType::F32, vec![m1 * m2, n1 * n2], &w).expect("fits"));
    let y = g.op(Op::MatMul, &[x, wc]);
    let g = g.finish(&[y]);
    // Exact: nothing found.
    let (_, exact) = optimize(&g, &Options::default()).expect("optimizes");
    assert_eq!(exact.flops_after, exact.flops_before);
    // Approximate at 1e-2: the nearest Kronecker product, with its error reported.
    let mut opts = Options::default();
    opts.rules.approx = Some(1e-2);
    let (opt, report) = optimize(&g, &opts).expect("optimizes");
    assert!(
        report.flops_before / report.flops_after >= 10.0,
        "{report:?}"
    );
    assert_eq!(report.approximations.len(), 1, "{report:?}");
    let e = report.approximations[0].rel_error;
    assert!(e > 5e-4 && e < 2e-3, "{e}");
    let err = compare(&g, &opt, 5);
    assert!(err < 1e-2, "relative error {err}");
}

fn small(form: Form) -> String {
    let g = kron_graph(form, 2, [2, 3, 2, 2], 4);
    let (opt, _) = optimize_with(&g, &Options::default(), &FlopCount).expect("optimizes");
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 2);
    assert!(compare(&g, &opt, 1) < 1e-4);
    ir::text::print(&opt)
}

#[test]
fn snapshot_exporter_form_constants() {
    insta::assert_snapshot!(small(Form::Constants));
}

#[test]
fn snapshot_exporter_form_inputs() {
    insta::assert_snapshot!(small(Form::Inputs));
}

#[test]
fn snapshot_dense_weight() {
    insta::assert_snapshot!(small(Form::Dense));
}
