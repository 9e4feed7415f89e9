//! Gemm written as MatMul, Transpose, Mul and Add, so that the product rules (chain order,
//! distribution, folding of weight products) see through the Gemm nodes exporters write for
//! `nn.Linear`. Extraction keeps the Gemm where the one fused kernel is cheaper.

use super::{dims3, rust_rule, scalar_const};
use crate::analysis::EG;
use crate::lang::Node;
use crate::rules::build::{binary, children_of, matmul, ops, transpose};
use crate::rules::{Family, Rule};
use crate::verify::{GraphBuilder, Rng};
use egg::Id;
use ir::op::{BinaryOp, GemmAttrs};
use ir::{DType, Op};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        // Gemm(A, B, C; α, β, tA, tB) = α·(op(A)·op(B)) + β·C
        Rule {
            name: "gemm-to-matmul",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("gemm-to-matmul", gemm_search, gemm_apply),
            instance: gemm_instance,
        },
    ]
}

fn gemm_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    if !egraph[class]
        .data
        .ty()
        .is_some_and(|t| matches!(t.dtype, DType::F32 | DType::F64))
    {
        return vec![];
    }
    children_of(egraph, class, |op| matches!(op, Op::Gemm(_)))
}

fn gemm_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let attrs: Vec<GemmAttrs> = ops(egraph, class)
        .filter(|(_, ch)| ch.iter().map(|&c| egraph.find(c)).eq(ids.iter().copied()))
        .filter_map(|(op, _)| if let Op::Gemm(a) = op { Some(*a) } else { None })
        .collect();
    let Some(dtype) = egraph[class].data.ty().map(|t| t.dtype) else {
        return vec![];
    };
    let (a, b) = match ids {
        [a, b, ..] => (*a, *b),
        _ => return vec![],
    };
    let c = ids
        .get(2)
        .copied()
        .filter(|&c| !egraph[c].nodes.iter().any(|n| matches!(n, Node::Absent)));
    let mut out = Vec::new();
    for at in attrs {
        let pa = if at.trans_a {
            transpose(egraph, a, vec![1, 0])
        } else {
            a
        };
        let pb = if at.trans_b {
            transpose(egraph, b, vec![1, 0])
        } else {
            b
        };
        let mut y = matmul(egraph, pa, pb);
        if at.alpha != 1.0 {
            let Some(s) = scalar_const(egraph, dtype, at.alpha as f64) else {
                continue;
            };
            y = binary(egraph, BinaryOp::Mul, s, y);
        }
        // The interpreter (and ONNX Runtime) ignore C when beta is 0.
        if let Some(c) = c.filter(|_| at.beta != 0.0) {
            let cc = if at.beta == 1.0 {
                c
            } else {
                let Some(s) = scalar_const(egraph, dtype, at.beta as f64) else {
                    continue;
                };
                binary(egraph, BinaryOp::Mul, s, c)
            };
            y = binary(egraph, BinaryOp::Add, y, cc);
        }
        out.push((class, y));
    }
    out
}

/// A Gemm with random transposes, scales and C (absent, a row, a column, a matrix, a scalar),
/// B a constant weight.
fn gemm_instance(rng: &mut Rng) -> ir::Graph {
    let [m, k, n] = dims3(rng, 8);
    let attrs = GemmAttrs {
        alpha: rng.pick(&[1.0, 0.5, -1.25]),
        beta: rng.pick(&[1.0, 2.0, 0.0]),
        trans_a: rng.range(0, 1) == 1,
        trans_b: rng.range(0, 1) == 1,
    };
    let mut b = GraphBuilder::new("gemm");
    let a = b.input(&if attrs.trans_a { [k, m] } else { [m, k] });
    let w = b.random_const(rng, &if attrs.trans_b { [n, k] } else { [k, n] });
    let c_shape: Option<Vec<usize>> = rng
        .pick(&[
            None,
            Some(&[n][..]),
            Some(&[m, 1]),
            Some(&[m, n]),
            Some(&[]),
        ])
        .map(|s| s.to_vec());
    let mut inputs = vec![Some(a), Some(w)];
    if let Some(cs) = c_shape {
        let t = crate::verify::random_tensor(rng, &cs);
        inputs.push(Some(b.constant(t)));
    }
    let node =
        b.g.add_node("gemm", Op::Gemm(attrs), inputs, vec![String::new()]);
    let y = b.g.node(node).outputs[0];
    b.finish(&[y])
}
