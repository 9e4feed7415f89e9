//! Products: matrix-chain association, distribution over sums, scalars moved through products,
//! the transpose of a product.

use super::{
    bound, cond_pattern, dims3, is_scalar, random_shape, resolve_perm, rust_rule, same_ty,
    swap_last_two, wide_float,
};
use crate::analysis::EG;
use crate::rules::build::{binary, children_of, matmul, ops, transpose};
use crate::rules::{Family, Rule};
use crate::verify::{GraphBuilder, Rng};
use egg::{Id, Subst};
use ir::Op;
use ir::op::BinaryOp;

pub(super) fn rules() -> Vec<Rule> {
    vec![
        // (A·B)·C = A·(B·C)
        Rule {
            name: "matmul-assoc-right",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: cond_pattern(
                "matmul-assoc-right",
                "(MatMul (MatMul ?a ?b) ?c)",
                "(MatMul ?a (MatMul ?b ?c))",
                wide_operands,
            ),
            instance: chain_instance,
        },
        // A·(B·C) = (A·B)·C
        Rule {
            name: "matmul-assoc-left",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: cond_pattern(
                "matmul-assoc-left",
                "(MatMul ?a (MatMul ?b ?c))",
                "(MatMul (MatMul ?a ?b) ?c)",
                wide_operands,
            ),
            instance: chain_instance_right,
        },
        // X·A + X·B = X·(A+B)   (A, B of one type)
        Rule {
            name: "matmul-factor-right",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: cond_pattern(
                "matmul-factor-right",
                "(Add (MatMul ?x ?a) (MatMul ?x ?b))",
                "(MatMul ?x (Add ?a ?b))",
                terms_alike,
            ),
            instance: |rng| distrib_instance(rng, Side::Right, Form::Factored),
        },
        // A·X + B·X = (A+B)·X   (A, B of one type)
        Rule {
            name: "matmul-factor-left",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: cond_pattern(
                "matmul-factor-left",
                "(Add (MatMul ?a ?x) (MatMul ?b ?x))",
                "(MatMul (Add ?a ?b) ?x)",
                terms_alike,
            ),
            instance: |rng| distrib_instance(rng, Side::Left, Form::Factored),
        },
        // X·(A+B) = X·A + X·B   (A, B of one type)
        Rule {
            name: "matmul-expand-right",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: cond_pattern(
                "matmul-expand-right",
                "(MatMul ?x (Add ?a ?b))",
                "(Add (MatMul ?x ?a) (MatMul ?x ?b))",
                terms_alike,
            ),
            instance: |rng| distrib_instance(rng, Side::Right, Form::Expanded),
        },
        // (A+B)·X = A·X + B·X   (A, B of one type)
        Rule {
            name: "matmul-expand-left",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: cond_pattern(
                "matmul-expand-left",
                "(MatMul (Add ?a ?b) ?x)",
                "(Add (MatMul ?a ?x) (MatMul ?b ?x))",
                terms_alike,
            ),
            instance: |rng| distrib_instance(rng, Side::Left, Form::Expanded),
        },
        // (s·A)·B = s·(A·B)   (s one element; Mul(s, A) or Mul(A, s))
        Rule {
            name: "matmul-scalar-hoist-left",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: rust_rule("matmul-scalar-hoist-left", hoist_left_search, hoist_apply),
            instance: |rng| scalar_instance(rng, Side::Left, false),
        },
        // A·(s·B) = s·(A·B)   (s one element; Mul(s, B) or Mul(B, s))
        Rule {
            name: "matmul-scalar-hoist-right",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: rust_rule("matmul-scalar-hoist-right", hoist_right_search, hoist_apply),
            instance: |rng| scalar_instance(rng, Side::Right, false),
        },
        // s·(A·B) = (s·A)·B   (s one element; Mul(s, A·B) or Mul(A·B, s))
        Rule {
            name: "matmul-scalar-sink-left",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: rust_rule("matmul-scalar-sink-left", sink_search, sink_left_apply),
            instance: |rng| scalar_instance(rng, Side::Left, true),
        },
        // s·(A·B) = A·(s·B)   (s one element; Mul(s, A·B) or Mul(A·B, s))
        Rule {
            name: "matmul-scalar-sink-right",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: rust_rule("matmul-scalar-sink-right", sink_search, sink_right_apply),
            instance: |rng| scalar_instance(rng, Side::Right, true),
        },
        // (A·B)ᵀ = Bᵀ·Aᵀ   (ᵀ swaps the last two axes; A, B of rank >= 2)
        Rule {
            name: "matmul-transpose-distribute",
            family: Family::Algebra,
            explosive: true,
            approx: false,
            rewrite: rust_rule(
                "matmul-transpose-distribute",
                transpose_distribute_search,
                transpose_distribute_apply,
            ),
            instance: |rng| transpose_product_instance(rng, false),
        },
        // Bᵀ·Aᵀ = (A·B)ᵀ   (ᵀ swaps the last two axes; A, B of rank >= 2)
        Rule {
            name: "matmul-transpose-factor",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule(
                "matmul-transpose-factor",
                transpose_factor_search,
                transpose_factor_apply,
            ),
            instance: |rng| transpose_product_instance(rng, true),
        },
    ]
}

// ---- association ----

/// Reassociation is kept to f32/f64 (see [`wide_float`]).
fn wide_operands(egraph: &EG, s: &Subst) -> bool {
    wide_float(egraph, bound(s, "?a"))
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

// ---- distribution ----

/// Distribution is exact only when the two terms have one type: with broadcasting between A
/// and B (a row against a matrix, say) `X·(A+B)` and `X·A + X·B` differ.
fn terms_alike(egraph: &EG, s: &Subst) -> bool {
    let (a, b) = (bound(s, "?a"), bound(s, "?b"));
    wide_float(egraph, a) && same_ty(egraph, a, b)
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

#[derive(Clone, Copy, PartialEq)]
enum Form {
    Factored,
    Expanded,
}

/// `X·A + X·B` (or `X·(A+B)`, or the left-hand forms) with A, B constants or inputs, X of
/// rank 2 or 3.
fn distrib_instance(rng: &mut Rng, side: Side, form: Form) -> ir::Graph {
    let [m, k, n] = dims3(rng, 8);
    let batch: Vec<usize> = random_shape(rng, 0, 1, 1, 3);
    let mut b = GraphBuilder::new("distrib");
    let xs = match side {
        Side::Right => [batch.clone(), vec![m, k]].concat(),
        Side::Left => [batch.clone(), vec![k, n]].concat(),
    };
    let x = b.input(&xs);
    let ts = match side {
        Side::Right => vec![k, n],
        Side::Left => vec![m, k],
    };
    let term = |b: &mut GraphBuilder, rng: &mut Rng| match rng.range(0, 1) {
        0 => b.random_const(rng, &ts),
        _ => b.input(&ts),
    };
    let (ta, tb) = (term(&mut b, rng), term(&mut b, rng));
    let prod = |b: &mut GraphBuilder, t: ir::ValueId| match side {
        Side::Right => b.op(Op::MatMul, &[x, t]),
        Side::Left => b.op(Op::MatMul, &[t, x]),
    };
    let y = match form {
        Form::Factored => {
            let (p, q) = (prod(&mut b, ta), prod(&mut b, tb));
            b.op(Op::Binary(BinaryOp::Add), &[p, q])
        }
        Form::Expanded => {
            let s = b.op(Op::Binary(BinaryOp::Add), &[ta, tb]);
            prod(&mut b, s)
        }
    };
    b.finish(&[y])
}

// ---- scalars ----

/// `(s, other)` for each Mul node of `class` with a one-element operand.
fn scalar_muls(egraph: &EG, class: Id) -> Vec<(Id, Id)> {
    let mut out = Vec::new();
    for ch in children_of(egraph, class, |op| matches!(op, Op::Binary(BinaryOp::Mul))) {
        let [u, v] = ch[..] else { continue };
        if is_scalar(egraph, u) {
            out.push((u, v));
        }
        if is_scalar(egraph, v) {
            out.push((v, u));
        }
    }
    out
}

fn matmuls(egraph: &EG, class: Id) -> Vec<(Id, Id)> {
    children_of(egraph, class, |op| matches!(op, Op::MatMul))
        .into_iter()
        .filter_map(|ch| match ch[..] {
            [a, b] => Some((a, b)),
            _ => None,
        })
        .collect()
}

/// Matches `[s, a, b]` for `(s·a)·b`.
fn hoist_left_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    if !wide_float(egraph, class) {
        return vec![];
    }
    let mut out = Vec::new();
    for (p, b) in matmuls(egraph, class) {
        for (s, a) in scalar_muls(egraph, p) {
            out.push(vec![s, a, b]);
        }
    }
    out
}

/// Matches `[s, a, b]` for `a·(s·b)`.
fn hoist_right_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    if !wide_float(egraph, class) {
        return vec![];
    }
    let mut out = Vec::new();
    for (a, q) in matmuls(egraph, class) {
        for (s, b) in scalar_muls(egraph, q) {
            out.push(vec![s, a, b]);
        }
    }
    out
}

fn hoist_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [s, a, b] = ids[..] else { return vec![] };
    let ab = matmul(egraph, a, b);
    let y = binary(egraph, BinaryOp::Mul, s, ab);
    vec![(class, y)]
}

/// Matches `[s, a, b]` for `s·(a·b)`.
fn sink_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let mut out = Vec::new();
    for (s, p) in scalar_muls(egraph, class) {
        for (a, b) in matmuls(egraph, p) {
            out.push(vec![s, a, b]);
        }
    }
    out
}

fn sink_left_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [s, a, b] = ids[..] else { return vec![] };
    let sa = binary(egraph, BinaryOp::Mul, s, a);
    let y = matmul(egraph, sa, b);
    vec![(class, y)]
}

fn sink_right_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [s, a, b] = ids[..] else { return vec![] };
    let sb = binary(egraph, BinaryOp::Mul, s, b);
    let y = matmul(egraph, a, sb);
    vec![(class, y)]
}

/// `(s·A)·B` (or `A·(s·B)`) in either Mul order when `!sunk`, `s·(A·B)` when `sunk`; s is a
/// scalar constant or input of rank 0 or 1.
fn scalar_instance(rng: &mut Rng, side: Side, sunk: bool) -> ir::Graph {
    let [m, k, n] = dims3(rng, 8);
    let mut b = GraphBuilder::new("scalar");
    let a = b.input(&[m, k]);
    let w = b.random_const(rng, &[k, n]);
    let s_shape: Vec<usize> = vec![1; rng.range(0, 1)];
    let s = match rng.range(0, 1) {
        0 => b.random_const(rng, &s_shape),
        _ => b.input(&s_shape),
    };
    let swap = rng.range(0, 1) == 1;
    let scaled = |b: &mut GraphBuilder, t| match swap {
        false => b.op(Op::Binary(BinaryOp::Mul), &[s, t]),
        true => b.op(Op::Binary(BinaryOp::Mul), &[t, s]),
    };
    let y = match (sunk, side) {
        (true, _) => {
            let p = b.op(Op::MatMul, &[a, w]);
            scaled(&mut b, p)
        }
        (false, Side::Left) => {
            let sa = scaled(&mut b, a);
            b.op(Op::MatMul, &[sa, w])
        }
        (false, Side::Right) => {
            let sw = scaled(&mut b, w);
            b.op(Op::MatMul, &[a, sw])
        }
    };
    b.finish(&[y])
}

// ---- transposes of products ----

/// True when `op` is a Transpose that swaps the last two of `rank >= 2` axes.
fn swaps_last_two(op: &Op, rank: usize) -> bool {
    if let Op::Transpose { perm } = op
        && rank >= 2
    {
        return resolve_perm(perm.as_deref(), rank).is_some_and(|p| p == swap_last_two(rank));
    }
    false
}

fn rank(egraph: &EG, c: Id) -> Option<usize> {
    egraph[c].data.rank()
}

/// Both operands of a product have rank >= 2 (no 1-D promotion) and a float dtype.
fn matrix_operands(egraph: &EG, a: Id, b: Id) -> bool {
    wide_float(egraph, a)
        && rank(egraph, a).is_some_and(|r| r >= 2)
        && rank(egraph, b).is_some_and(|r| r >= 2)
}

/// The classes `x` of `Transpose(x)` nodes of `class` that swap the last two axes.
fn swapped(egraph: &EG, class: Id) -> Vec<Id> {
    let Some(r) = rank(egraph, class) else {
        return vec![];
    };
    ops(egraph, class)
        .filter(|(op, _)| swaps_last_two(op, r))
        .filter_map(|(_, ch)| ch.first().copied())
        .collect()
}

/// Matches `[a, b]` for `(a·b)ᵀ`.
fn transpose_distribute_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let mut out = Vec::new();
    for m in swapped(egraph, class) {
        for (a, b) in matmuls(egraph, m) {
            if matrix_operands(egraph, a, b) {
                out.push(vec![a, b]);
            }
        }
    }
    out
}

fn transpose_distribute_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [a, b] = ids[..] else { return vec![] };
    let (Some(ra), Some(rb)) = (rank(egraph, a), rank(egraph, b)) else {
        return vec![];
    };
    let at = transpose(egraph, a, swap_last_two(ra));
    let bt = transpose(egraph, b, swap_last_two(rb));
    let y = matmul(egraph, bt, at);
    vec![(class, y)]
}

/// Matches `[a, b]` for `bᵀ·aᵀ`.
fn transpose_factor_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    if rank(egraph, class).is_none_or(|r| r < 2) {
        return vec![];
    }
    let mut out = Vec::new();
    for (p, q) in matmuls(egraph, class) {
        for b in swapped(egraph, p) {
            for a in swapped(egraph, q) {
                if matrix_operands(egraph, a, b) {
                    out.push(vec![a, b]);
                }
            }
        }
    }
    out
}

fn transpose_factor_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [a, b] = ids[..] else { return vec![] };
    let Some(r) = rank(egraph, class) else {
        return vec![];
    };
    let ab = matmul(egraph, a, b);
    let y = transpose(egraph, ab, swap_last_two(r));
    vec![(class, y)]
}

/// `(A·B)ᵀ` or `Bᵀ·Aᵀ`, batched (broadcasting batch dims) or 2-D, perms explicit or `None`.
fn transpose_product_instance(rng: &mut Rng, factored: bool) -> ir::Graph {
    let [m, k, n] = dims3(rng, 7);
    let batch = random_shape(rng, 0, 2, 1, 3);
    let a_batch = if rng.range(0, 1) == 0 {
        batch.clone()
    } else {
        vec![]
    };
    let a_shape = [a_batch, vec![m, k]].concat();
    let b_shape = [batch.clone(), vec![k, n]].concat();
    let mut b = GraphBuilder::new("transpose_product");
    let swap = |b: &mut GraphBuilder, rng: &mut Rng, x, r: usize| {
        let perm = match (r, rng.range(0, 1)) {
            (2, 0) => None,
            _ => Some(swap_last_two(r)),
        };
        b.op(Op::Transpose { perm }, &[x])
    };
    let y = if factored {
        // bᵀ·aᵀ with a: [.., m, k], b: [.., k, n] given as inputs.
        let a = b.input(&a_shape);
        let bb = b.random_const(rng, &b_shape);
        let bt = swap(&mut b, rng, bb, b_shape.len());
        let at = swap(&mut b, rng, a, a_shape.len());
        b.op(Op::MatMul, &[bt, at])
    } else {
        let a = b.input(&a_shape);
        let bb = b.input(&b_shape);
        let p = b.op(Op::MatMul, &[a, bb]);
        swap(&mut b, rng, p, a_shape.len().max(b_shape.len()))
    };
    b.finish(&[y])
}
