//! End-to-end low-rank structure: `rewrites::optimize` factors a constant weight that is exactly
//! low-rank (and, under `--approx`, one that is nearly so), the report's FLOPs drop by the
//! expected ratio, and the optimized graph equals the original through the interpreter.

use ir::{DType, Graph, Op, Source, Tensor, TensorType};
use rewrites::cost::FlopCount;
use rewrites::linalg;
use rewrites::rules::RuleOptions;
use rewrites::verify::{GraphBuilder, Rng, verify_rule};
use rewrites::{Options, full_catalog, optimize, optimize_with};
use std::time::Instant;

/// Runs both graphs on the same random inputs; returns the largest relative error.
fn compare(a: &Graph, b: &Graph, seed: u64) -> f64 {
    rewrites::verify::compare_graphs(a, b, seed).expect("both graphs run alike")
}

/// `U·V` for random normal `U` [m×r], `V` [r×n].
fn product(rng: &mut Rng, m: usize, r: usize, n: usize) -> Vec<f64> {
    let u = rng.normals(m * r);
    let v = rng.normals(r * n);
    linalg::matmul(&u, &v, m, r, n)
}

/// `y = x·W` with `x` [batch, m] and the constant `W` [m, n].
fn dense(w: &[f64], batch: usize, m: usize, n: usize) -> Graph {
    let mut b = GraphBuilder::new("dense");
    let x = b.input(&[batch, m]);
    let w = b.constant(Tensor::from_f64(DType::F32, vec![m, n], w).expect("fits"));
    let y = b.op(Op::MatMul, &[x, w]);
    b.finish(&[y])
}

/// `y = W·x` with the constant `W` [m, n] and `x` [n, batch].
fn dense_left(w: &[f64], m: usize, n: usize, batch: usize) -> Graph {
    let mut b = GraphBuilder::new("dense_left");
    let x = b.input(&[n, batch]);
    let w = b.constant(Tensor::from_f64(DType::F32, vec![m, n], w).expect("fits"));
    let y = b.op(Op::MatMul, &[w, x]);
    b.finish(&[y])
}

fn shape(g: &Graph, v: ir::ValueId) -> Vec<usize> {
    let ty: &TensorType = g.value(v).ty.as_ref().expect("typed");
    ir::shape::concrete(ty.shape.as_deref().expect("ranked")).expect("static")
}

fn producer(g: &Graph, v: ir::ValueId) -> Option<&ir::Node> {
    match g.value(v).source {
        Source::Node { node, .. } => Some(g.node(node)),
        Source::Input | Source::Constant(_) => None,
    }
}

fn is_const(g: &Graph, v: ir::ValueId) -> bool {
    matches!(g.value(v).source, Source::Constant(_))
}

/// The shapes of `U` and `V` when the graph computes `(x·U)·V` with `x` its input.
fn right_factors(g: &Graph) -> Option<(Vec<usize>, Vec<usize>)> {
    factors(g, false)
}

/// The shapes of `U` and `V` when the graph computes `U·(V·x)` with `x` its input.
fn left_factors(g: &Graph) -> Option<(Vec<usize>, Vec<usize>)> {
    factors(g, true)
}

/// Two constant factors around the graph input in two MatMuls: `U·(V·x)` when `left`, else
/// `(x·U)·V`; their shapes, U first.
fn factors(g: &Graph, left: bool) -> Option<(Vec<usize>, Vec<usize>)> {
    g.nodes.iter().find_map(|outer| {
        let [Some(a), Some(b)] = outer.inputs[..] else {
            return None;
        };
        let (far, near) = if left { (a, b) } else { (b, a) };
        let inner = producer(g, near)?;
        let [Some(c), Some(d)] = inner.inputs[..] else {
            return None;
        };
        let (x, close) = if left { (d, c) } else { (c, d) };
        let ok = matches!(outer.op, Op::MatMul)
            && matches!(inner.op, Op::MatMul)
            && g.inputs.contains(&x)
            && is_const(g, far)
            && is_const(g, close);
        let (u, v) = if left { (far, close) } else { (close, far) };
        ok.then(|| (shape(g, u), shape(g, v)))
    })
}

fn matmuls(g: &Graph) -> usize {
    g.nodes
        .iter()
        .filter(|n| matches!(n.op, Op::MatMul))
        .count()
}

#[test]
fn exact_rank_16_weight_is_factored() {
    let mut rng = Rng::new(1);
    let (batch, m, n, r) = (64, 2048, 512, 16);
    let g = dense(&product(&mut rng, m, r, n), batch, m, n);
    let t = Instant::now();
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    let took = t.elapsed();
    let ratio = report.flops_before / report.flops_after;
    println!(
        "x[{batch},{m}]·W[{m},{n}] rank {r}: optimize {took:?}, flops {:.3e} -> {:.3e} \
         (ratio {ratio:.1}), rules {:?}",
        report.flops_before, report.flops_after, report.rules_fired
    );
    assert!(ratio >= 10.0, "{report:?}");
    assert_eq!(right_factors(&opt), Some((vec![m, r], vec![r, n])));
    assert!(report.approximations.is_empty());
    let err = compare(&g, &opt, 2);
    println!("relative error {err:.2e}");
    assert!(err < 1e-4, "relative error {err}");
    assert!(took.as_secs_f64() < 1.0, "optimize took {took:?}");
}

#[test]
fn exact_low_rank_weight_on_the_left_is_factored() {
    let mut rng = Rng::new(3);
    let (m, n, r, batch) = (512, 2048, 8, 32);
    let g = dense_left(&product(&mut rng, m, r, n), m, n, batch);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    let ratio = report.flops_before / report.flops_after;
    println!("W[{m},{n}]·x[{n},{batch}] rank {r}: flops ratio {ratio:.1}");
    assert!(ratio >= 10.0, "{report:?}");
    assert_eq!(left_factors(&opt), Some((vec![m, r], vec![r, n])));
    let err = compare(&g, &opt, 4);
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn full_rank_weight_is_left_alone() {
    let mut rng = Rng::new(5);
    let (batch, m, n) = (64, 2048, 512);
    let g = dense(&rng.normals(m * n), batch, m, n);
    let t = Instant::now();
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    println!("full-rank W[{m},{n}]: optimize {:?}", t.elapsed());
    assert_eq!(report.flops_after, report.flops_before, "{report:?}");
    assert!(!report.rules_fired.keys().any(|k| k.starts_with("lowrank")));
    assert_eq!(matmuls(&opt), 1);
    assert!(compare(&g, &opt, 6) < 1e-6);
}

/// Rank 16 plus Gaussian noise of relative Frobenius size `noise`.
fn noisy_rank_16(rng: &mut Rng, m: usize, n: usize, noise: f64) -> Vec<f64> {
    let mut w = product(rng, m, 16, n);
    let e = rng.normals(m * n);
    let scale = noise * linalg::sq_norm(&w).sqrt() / linalg::sq_norm(&e).sqrt();
    for (x, d) in w.iter_mut().zip(&e) {
        *x += scale * d;
    }
    w
}

#[test]
fn approx_truncates_a_nearly_low_rank_weight() {
    let mut rng = Rng::new(7);
    let (batch, m, n) = (64, 2048, 512);
    let g = dense(&noisy_rank_16(&mut rng, m, n, 1e-3), batch, m, n);

    let exact = optimize(&g, &Options::default()).expect("optimizes").1;
    assert_eq!(
        exact.flops_after, exact.flops_before,
        "dense without --approx"
    );
    assert!(exact.approximations.is_empty());

    let opts = Options {
        rules: RuleOptions { approx: Some(1e-2) },
        ..Options::default()
    };
    let t = Instant::now();
    let (opt, report) = optimize(&g, &opts).expect("optimizes");
    let took = t.elapsed();
    let ratio = report.flops_before / report.flops_after;
    println!(
        "--approx 1e-2, rank 16 + 1e-3 noise: optimize {took:?}, flops ratio {ratio:.1}, {:?}",
        report.approximations
    );
    assert!(ratio >= 10.0, "{report:?}");
    assert_eq!(right_factors(&opt), Some((vec![m, 16], vec![16, n])));
    assert_eq!(report.approximations.len(), 1, "{report:?}");
    let a = &report.approximations[0];
    assert_eq!(a.rule, "lowrank-truncate");
    assert!(
        a.rel_error <= 1e-2 && (5e-4..2e-3).contains(&a.rel_error),
        "{a:?}"
    );
    assert!(a.what.ends_with("[2048x512] -> rank 16"), "{a:?}");
    let err = compare(&g, &opt, 8);
    println!("relative output error {err:.2e}");
    assert!(err < 1e-2, "relative error {err}");
}

/// The low-rank rules verify on more seeds than the catalog test uses.
#[test]
fn lowrank_rules_verify_on_many_seeds() {
    for rule in full_catalog()
        .iter()
        .filter(|r| r.name.starts_with("lowrank"))
    {
        for seed in 100..110 {
            let check = verify_rule(rule, seed, 12);
            assert!(check.passed(), "{} seed {seed}: {check:?}", rule.name);
        }
    }
}

/// `u·vᵀ` with `u = (1..=m)` and `v` of norm 4 with entries ±1, 2: the factors are exact in
/// binary (V = v/4, U = 4u), so the printed constants are short.
fn rank_one(m: usize, n: usize) -> Vec<f64> {
    let v: Vec<f64> = (0..n)
        .map(|j| [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 2.0, 2.0][j % 10])
        .collect();
    (1..=m)
        .flat_map(|i| v.iter().map(move |&x| i as f64 * x))
        .collect()
}

#[test]
fn snapshot_rank_one_right() {
    let g = dense(&rank_one(12, 10), 2, 12, 10);
    let (opt, _) = optimize_with(&g, &Options::default(), &FlopCount).expect("optimizes");
    assert!(right_factors(&opt).is_some());
    assert!(compare(&g, &opt, 9) < 1e-6);
    insta::assert_snapshot!("rank1_right_x2x12_w12x10", ir::text::print(&opt));
}

#[test]
fn snapshot_rank_one_left() {
    let w = linalg::transpose(&rank_one(12, 10), 12, 10);
    let g = dense_left(&w, 10, 12, 2);
    let (opt, _) = optimize_with(&g, &Options::default(), &FlopCount).expect("optimizes");
    assert!(left_factors(&opt).is_some());
    assert!(compare(&g, &opt, 10) < 1e-6);
    insta::assert_snapshot!("rank1_left_w10x12_x12x2", ir::text::print(&opt));
}

/// Ops with their operand shapes (constants' values left out: the SVD's are not short).
fn summary(g: &Graph) -> String {
    let mut out = String::new();
    for node in &g.nodes {
        let ins: Vec<String> = node
            .inputs
            .iter()
            .flatten()
            .map(|&v| {
                let kind = if is_const(g, v) { "const" } else { "" };
                format!("{kind}{:?}", shape(g, v))
            })
            .collect();
        let outs: Vec<String> = node
            .outputs
            .iter()
            .map(|&v| format!("{:?}", shape(g, v)))
            .collect();
        out.push_str(&format!(
            "{}({}) -> {}\n",
            ir::text::op_text(&node.op),
            ins.join(", "),
            outs.join(", ")
        ));
    }
    out
}

#[test]
fn snapshot_truncated() {
    let mut rng = Rng::new(11);
    let (m, n) = (48, 40);
    let g = dense(&noisy_rank_16(&mut rng, m, n, 1e-3), 2, m, n);
    let opts = Options {
        rules: RuleOptions { approx: Some(1e-2) },
        ..Options::default()
    };
    let (opt, report) = optimize_with(&g, &opts, &FlopCount).expect("optimizes");
    assert_eq!(report.approximations.len(), 1, "{report:?}");
    assert!(compare(&g, &opt, 12) < 1e-2);
    let a = &report.approximations[0];
    let text = format!(
        "{}{} ({}, error < 2e-3: {})\n",
        summary(&opt),
        a.what,
        a.rule,
        a.rel_error < 2e-3
    );
    insta::assert_snapshot!("truncated_rank16_x2x48_w48x40", text);
}
