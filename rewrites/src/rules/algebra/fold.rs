//! Folding of large weight-only results into constants, so that rules reading constant values
//! (low-rank, Kronecker, Monarch structure) see them.
//!
//! The analysis folds results of at most 65536 elements itself, and extraction folds every
//! weight-only node when it emits the graph; these rules cover what lies between: the
//! transpose of a large weight, and the product of two weights when it is no larger than the
//! factors by more than 4x (a low-rank product `U·V` stays factored: densifying it would hide
//! the structure and cost more).

use super::{random_shape, rust_rule};
use crate::analysis::{EG, TensorAnalysis};
use crate::rules::build::{children_of, ops};
use crate::rules::{Family, Rule};
use crate::verify::{GraphBuilder, Rng};
use egg::Id;
use ir::{Op, Tensor};

/// Transposes are folded up to this many elements.
const MAX_TRANSPOSE: usize = 1 << 24;
/// A folded product may be this many times the size of its two factors together.
const MAX_PRODUCT_GROWTH: usize = 4;
/// Products are folded up to this many multiply-adds (a fraction of a second).
const MAX_PRODUCT_MACS: usize = 1 << 28;

pub(super) fn rules() -> Vec<Rule> {
    vec![
        // Transpose(W) = Wᵀ   (W a constant of at most 16M elements)
        Rule {
            name: "fold-transpose",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("fold-transpose", transpose_search, fold_apply),
            instance: transpose_instance,
        },
        // MatMul(U, V) = UV   (U, V constants, |UV| <= 4 (|U| + |V|))
        Rule {
            name: "fold-matmul",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("fold-matmul", matmul_search, fold_apply),
            instance: matmul_instance,
        },
    ]
}

/// True when a tensor class's value is not known yet.
fn unknown(egraph: &EG, class: Id) -> bool {
    egraph[class].data.value().is_none() && !egraph[class].data.tuple
}

fn transpose_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    if !unknown(egraph, class) {
        return vec![];
    }
    children_of(egraph, class, |o| matches!(o, Op::Transpose { .. }))
        .into_iter()
        .filter(|ch| {
            ch.len() == 1
                && egraph[ch[0]]
                    .data
                    .value()
                    .is_some_and(|t| t.len() <= MAX_TRANSPOSE)
        })
        .take(1)
        .collect()
}

fn matmul_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    if !unknown(egraph, class) {
        return vec![];
    }
    let Some(out) = egraph[class].data.shape() else {
        return vec![];
    };
    let out_elems: usize = out.iter().product();
    children_of(egraph, class, |o| matches!(o, Op::MatMul))
        .into_iter()
        .filter(|ch| {
            let [u, v] = ch[..] else { return false };
            let (Some(tu), Some(tv)) = (egraph[u].data.value(), egraph[v].data.value()) else {
                return false;
            };
            let k = tu.shape().last().copied().unwrap_or(1);
            tu.dtype().is_float()
                && out_elems <= MAX_PRODUCT_GROWTH * (tu.len() + tv.len())
                && out_elems.saturating_mul(k) <= MAX_PRODUCT_MACS
        })
        .take(1)
        .collect()
}

/// Evaluates the class's matched node on its constant children and unions the result.
fn fold_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    if !unknown(egraph, class) {
        return vec![];
    }
    let Some(op) = ops(egraph, class)
        .find(|(op, ch)| {
            matches!(op, Op::Transpose { .. } | Op::MatMul)
                && ch.iter().map(|&c| egraph.find(c)).eq(ids.iter().copied())
        })
        .map(|(op, _)| op.clone())
    else {
        return vec![];
    };
    let vals: Option<Vec<&Tensor>> = ids
        .iter()
        .map(|&c| egraph[c].data.value().map(|v| &**v))
        .collect();
    let Some(vals) = vals else { return vec![] };
    let ins: Vec<Option<&Tensor>> = vals.into_iter().map(Some).collect();
    let Ok(mut out) = ir::interp::eval(&op, &ins, 1) else {
        return vec![];
    };
    let Some(t) = out.pop() else { return vec![] };
    let c = TensorAnalysis::add_const(egraph, t);
    vec![(class, c)]
}

/// `x·Transpose(W)` with W past the analysis' own folding size.
fn transpose_instance(rng: &mut Rng) -> ir::Graph {
    let (r, c) = (rng.range(257, 300), rng.range(257, 300));
    let mut b = GraphBuilder::new("fold_transpose");
    let w = b.random_const(rng, &[r, c]);
    let wt = b.op(Op::Transpose { perm: None }, &[w]);
    let x = b.input(&[rng.range(1, 3), c]);
    let y = b.op(Op::MatMul, &[x, wt]);
    b.finish(&[y])
}

/// `x·(U·V)` with UV past the analysis' own folding size and at most 4x its factors.
fn matmul_instance(rng: &mut Rng) -> ir::Graph {
    let (m, n) = (rng.range(257, 300), rng.range(257, 300));
    let k = rng.range(40, 64);
    let mut b = GraphBuilder::new("fold_matmul");
    let u = b.random_const(rng, &[m, k]);
    let v = b.random_const(rng, &[k, n]);
    let uv = b.op(Op::MatMul, &[u, v]);
    let x = b.input(
        &random_shape(rng, 1, 1, 1, 3)
            .into_iter()
            .chain([m])
            .collect::<Vec<_>>(),
    );
    let y = b.op(Op::MatMul, &[x, uv]);
    b.finish(&[y])
}
