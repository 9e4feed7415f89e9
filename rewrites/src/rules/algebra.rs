//! Algebra: matrix-chain order, distributivity, scalar hoisting, transpose and reshape algebra,
//! identity and zero elimination, division by constants, folding of weight-only subgraphs.

use super::{Family, Rule, pattern};
use crate::verify::{GraphBuilder, Rng};
use ir::Op;

pub fn rules() -> Vec<Rule> {
    vec![
        // (A·B)·C = A·(B·C)
        Rule {
            name: "matmul-assoc-right",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: pattern(
                "matmul-assoc-right",
                "(MatMul (MatMul ?a ?b) ?c)",
                "(MatMul ?a (MatMul ?b ?c))",
            ),
            instance: chain_instance,
        },
        // A·(B·C) = (A·B)·C
        Rule {
            name: "matmul-assoc-left",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: pattern(
                "matmul-assoc-left",
                "(MatMul ?a (MatMul ?b ?c))",
                "(MatMul (MatMul ?a ?b) ?c)",
            ),
            instance: chain_instance_right,
        },
    ]
}

fn chain_dims(rng: &mut Rng) -> [usize; 4] {
    [
        rng.range(1, 9),
        rng.range(1, 9),
        rng.range(1, 9),
        rng.range(1, 9),
    ]
}

fn chain_instance(rng: &mut Rng) -> ir::Graph {
    let [m, k, n, p] = chain_dims(rng);
    let mut b = GraphBuilder::new("chain");
    let x = b.input(&[m, k]);
    let w1 = b.input(&[k, n]);
    let w2 = b.random_const(rng, &[n, p]);
    let ab = b.op(Op::MatMul, &[x, w1]);
    let y = b.op(Op::MatMul, &[ab, w2]);
    b.finish(&[y])
}

fn chain_instance_right(rng: &mut Rng) -> ir::Graph {
    let [m, k, n, p] = chain_dims(rng);
    let mut b = GraphBuilder::new("chain");
    let x = b.input(&[m, k]);
    let w1 = b.input(&[k, n]);
    let w2 = b.input(&[n, p]);
    let bc = b.op(Op::MatMul, &[w1, w2]);
    let y = b.op(Op::MatMul, &[x, bc]);
    b.finish(&[y])
}
