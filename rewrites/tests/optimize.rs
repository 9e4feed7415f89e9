//! End-to-end optimization: structure the rules find, extraction by cost, and outputs equal to
//! the input graph's through the interpreter.

use ir::{Graph, Op};
use rewrites::verify::{GraphBuilder, Rng, random_feeds, rel_err};
use rewrites::{Options, optimize};
use std::collections::HashMap;

/// Runs both graphs on the same random inputs; returns the largest relative error.
pub fn compare(a: &Graph, b: &Graph, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let feeds = random_feeds(&mut rng, a).expect("static inputs");
    let named: HashMap<String, ir::Tensor> = a
        .inputs
        .iter()
        .zip(feeds)
        .map(|(&i, t)| (a.value(i).name.clone(), t))
        .collect();
    let ra = ir::interp::run(a, &named).expect("original runs");
    let rb = ir::interp::run(b, &named).expect("optimized runs");
    assert_eq!(ra.len(), rb.len());
    ra.iter()
        .zip(&rb)
        .map(|((na, ta), (nb, tb))| {
            assert_eq!(na, nb, "output names are kept");
            rel_err(tb, ta)
        })
        .fold(0.0, f64::max)
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    g.nodes.iter().filter(|n| pred(&n.op)).count()
}

#[test]
fn matrix_chain_with_thin_vector_multiplies_right_to_left() {
    let mut b = GraphBuilder::new("chain");
    let a = b.input(&[256, 256]);
    let m = b.input(&[256, 256]);
    let v = b.input(&[256, 1]);
    let am = b.op(Op::MatMul, &[a, m]);
    let y = b.op(Op::MatMul, &[am, v]);
    let g = b.finish(&[y]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    assert!(report.flops_before / report.flops_after > 100.0, "{report:?}");
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 2);
    let err = compare(&g, &opt, 1);
    assert!(err < 1e-4, "relative error {err}");
}
