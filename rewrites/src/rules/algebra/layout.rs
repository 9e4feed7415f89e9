//! Layout algebra: transposes composed, normalised and cancelled; reshape-like ops
//! (Reshape, Squeeze, Unsqueeze, Flatten) merged and cancelled.
//!
//! A reshape-like op keeps the row-major order of the elements, so any chain of them is one
//! Reshape to the final shape, and a chain that ends on its input's own type is its input.

use super::{
    is_identity_perm, random_perm, random_shape, resolve_perm, rust_rule, same_ty, union_with_first,
};
use crate::analysis::EG;
use crate::rules::build::{add_op, ops, reshape};
use crate::rules::{Family, Rule};
use crate::verify::{GraphBuilder, Rng};
use egg::Id;
use ir::Op;

pub(super) fn rules() -> Vec<Rule> {
    vec![
        // Transpose(x) = Transpose(x, reverse(0..rank))
        Rule {
            name: "transpose-explicit-perm",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("transpose-explicit-perm", explicit_search, explicit_apply),
            instance: explicit_instance,
        },
        // Transpose(Transpose(x, p), q) = Transpose(x, r), r[i] = p[q[i]]
        Rule {
            name: "transpose-compose",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("transpose-compose", compose_search, compose_apply),
            instance: compose_instance,
        },
        // Transpose(x, identity) = x
        Rule {
            name: "transpose-identity",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("transpose-identity", identity_search, union_with_first),
            instance: identity_instance,
        },
        // View(View(x)) = Reshape(x, shape)   (View: Reshape, Squeeze, Unsqueeze, Flatten)
        Rule {
            name: "reshape-merge",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("reshape-merge", merge_search, merge_apply),
            instance: merge_instance,
        },
        // Reshape(x, s) = x   (when x has the result's type)
        Rule {
            name: "reshape-noop",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("reshape-noop", reshape_noop_search, union_with_first),
            instance: reshape_noop_instance,
        },
        // Squeeze(x) = Unsqueeze(x, []) = Flatten(x) = x   (when x has the result's type)
        Rule {
            name: "view-noop",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("view-noop", view_noop_search, union_with_first),
            instance: view_noop_instance,
        },
        // Squeeze(Unsqueeze(x, a), a) = x   (any view of a view back to x's type)
        Rule {
            name: "view-pair-cancel",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("view-pair-cancel", pair_cancel_search, union_with_first),
            instance: pair_cancel_instance,
        },
    ]
}

// ---- transposes ----

/// The resolved permutations of the Transpose nodes of `class` over `x` (every one when `x`
/// is `None`), with their child.
fn transposes(egraph: &EG, class: Id, x: Option<Id>) -> Vec<(Vec<usize>, Id)> {
    let mut out = Vec::new();
    for (op, ch) in ops(egraph, class) {
        let (Op::Transpose { perm }, [c]) = (op, ch) else {
            continue;
        };
        let c = egraph.find(*c);
        if x.is_some_and(|x| x != c) {
            continue;
        }
        let Some(r) = egraph[c].data.rank() else {
            continue;
        };
        if let Some(p) = resolve_perm(perm.as_deref(), r) {
            out.push((p, c));
        }
    }
    out
}

fn explicit_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    ops(egraph, class)
        .filter(|(op, ch)| {
            matches!(op, Op::Transpose { perm: None })
                && ch.len() == 1
                && egraph[ch[0]].data.rank().is_some()
        })
        .map(|(_, ch)| ch.to_vec())
        .collect()
}

fn explicit_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [x] = ids[..] else { return vec![] };
    let Some(r) = egraph[x].data.rank() else {
        return vec![];
    };
    let y = add_op(
        egraph,
        Op::Transpose {
            perm: Some((0..r).rev().collect()),
        },
        vec![x],
    );
    vec![(class, y)]
}

/// Matches `[t, x]` for `Transpose(t)` with `t = Transpose(x)`.
fn compose_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let mut out = Vec::new();
    for (_, t) in transposes(egraph, class, None) {
        for (_, x) in transposes(egraph, t, None) {
            let m = vec![t, x];
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

fn compose_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [t, x] = ids[..] else { return vec![] };
    let mut perms = Vec::new();
    for (q, _) in transposes(egraph, class, Some(t)) {
        for (p, _) in transposes(egraph, t, Some(x)) {
            if p.len() == q.len() {
                // Output axis i of the outer transpose is its input's axis q[i], which is
                // x's axis p[q[i]].
                let r: Vec<usize> = q.iter().map(|&i| p[i]).collect();
                if !perms.contains(&r) {
                    perms.push(r);
                }
            }
        }
    }
    perms
        .into_iter()
        .map(|r| {
            let y = if is_identity_perm(&r) {
                x
            } else {
                add_op(egraph, Op::Transpose { perm: Some(r) }, vec![x])
            };
            (class, y)
        })
        .collect()
}

fn identity_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    transposes(egraph, class, None)
        .into_iter()
        .filter(|(p, _)| is_identity_perm(p))
        .map(|(_, x)| vec![x])
        .collect()
}

fn explicit_instance(rng: &mut Rng) -> ir::Graph {
    let shape = random_shape(rng, 2, 4, 1, 5);
    let mut b = GraphBuilder::new("transpose");
    let x = b.input(&shape);
    let y = b.op(Op::Transpose { perm: None }, &[x]);
    b.finish(&[y])
}

fn compose_instance(rng: &mut Rng) -> ir::Graph {
    let r = rng.range(2, 4);
    // Equal dims half the time: then a wrongly composed perm still types, and only the values
    // tell it apart.
    let shape = match rng.range(0, 1) {
        0 => vec![rng.range(2, 4); r],
        _ => random_shape(rng, r, r, 1, 5),
    };
    let perm = |rng: &mut Rng| match rng.range(0, 3) {
        0 => None,
        _ => Some(random_perm(rng, r)),
    };
    let (p, q) = (perm(rng), perm(rng));
    let mut b = GraphBuilder::new("transpose2");
    let x = b.input(&shape);
    let t = b.op(Op::Transpose { perm: p }, &[x]);
    let y = b.op(Op::Transpose { perm: q }, &[t]);
    b.finish(&[y])
}

fn identity_instance(rng: &mut Rng) -> ir::Graph {
    let r = rng.range(1, 4);
    let shape = random_shape(rng, r, r, 1, 5);
    let perm = match (r, rng.range(0, 1)) {
        (1, 0) => None,
        _ => Some((0..r).collect()),
    };
    let mut b = GraphBuilder::new("transpose_id");
    let x = b.input(&shape);
    let y = b.op(Op::Transpose { perm }, &[x]);
    b.finish(&[y])
}

// ---- reshapes ----

fn is_view(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. } | Op::Squeeze | Op::Unsqueeze | Op::Flatten { .. }
    )
}

/// The data inputs of the view nodes of a class.
fn view_inputs(egraph: &EG, class: Id) -> Vec<Id> {
    let mut out: Vec<Id> = ops(egraph, class)
        .filter(|(op, ch)| is_view(op) && !ch.is_empty())
        .map(|(_, ch)| egraph.find(ch[0]))
        .filter(|&x| x != class)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Matches `[x]` for a view of a view of `x` to a static shape other than x's.
fn merge_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let Some(shape) = egraph[class].data.shape() else {
        return vec![];
    };
    if shape.contains(&0) {
        // Reshape reads a 0 entry as "copy the input's dim" (allowzero off): no static spelling.
        return vec![];
    }
    let mut out = Vec::new();
    for t in view_inputs(egraph, class) {
        for x in view_inputs(egraph, t) {
            if x != class && !same_ty(egraph, x, class) && !out.contains(&vec![x]) {
                out.push(vec![x]);
            }
        }
    }
    out
}

fn merge_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [x] = ids[..] else { return vec![] };
    let Some(shape) = egraph[class].data.shape() else {
        return vec![];
    };
    let y = reshape(egraph, x, &shape);
    vec![(class, y)]
}

fn reshape_noop_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    ops(egraph, class)
        .filter(|(op, ch)| matches!(op, Op::Reshape { .. }) && !ch.is_empty())
        .map(|(_, ch)| egraph.find(ch[0]))
        .filter(|&x| x != class && same_ty(egraph, x, class))
        .map(|x| vec![x])
        .collect()
}

fn view_noop_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    ops(egraph, class)
        .filter(|(op, ch)| {
            matches!(op, Op::Squeeze | Op::Unsqueeze | Op::Flatten { .. }) && !ch.is_empty()
        })
        .map(|(_, ch)| egraph.find(ch[0]))
        .filter(|&x| x != class && same_ty(egraph, x, class))
        .map(|x| vec![x])
        .collect()
}

fn pair_cancel_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let mut out = Vec::new();
    for t in view_inputs(egraph, class) {
        for x in view_inputs(egraph, t) {
            if x != class && same_ty(egraph, x, class) && !out.contains(&vec![x]) {
                out.push(vec![x]);
            }
        }
    }
    out
}

/// A reshape target for `shape`: its dims, some replaced by 0 (copy) or one by -1 (infer).
fn spelled(rng: &mut Rng, shape: &[usize], src_rank: usize) -> Vec<i64> {
    let mut s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let mut inferred = false;
    for (i, e) in s.iter_mut().enumerate() {
        match rng.range(0, 3) {
            0 if !inferred => {
                *e = -1;
                inferred = true;
            }
            1 if i < src_rank => *e = 0,
            _ => {}
        }
    }
    s
}

/// `View(Reshape(x, s1))` ending on a shape of another rank than x's.
fn merge_instance(rng: &mut Rng) -> ir::Graph {
    let dims = random_shape(rng, 3, 3, 2, 4);
    let [a, bb, c] = [dims[0], dims[1], dims[2]];
    let mut b = GraphBuilder::new("reshape2");
    let x = b.input(&dims);
    let s1 = b.i64s(&[(a * bb) as i64, c as i64]);
    let t = b.op(Op::Reshape { allowzero: false }, &[x, s1]);
    let y = match rng.range(0, 3) {
        0 => {
            let s2 = b.i64s(&[(a * bb * c) as i64]);
            b.op(Op::Reshape { allowzero: false }, &[t, s2])
        }
        1 => {
            let s = spelled(rng, &[a * bb, c, 1], 2);
            let s2 = b.i64s(&s);
            b.op(Op::Reshape { allowzero: false }, &[t, s2])
        }
        2 => {
            let axes = b.i64s(&[rng.pick(&[0, 1, 2, -1])]);
            b.op(Op::Unsqueeze, &[t, axes])
        }
        _ => {
            let t3 = {
                let s = b.i64s(&[1, (a * bb) as i64, c as i64]);
                b.op(Op::Reshape { allowzero: false }, &[t, s])
            };
            b.op(Op::Flatten { axis: 0 }, &[t3])
        }
    };
    b.finish(&[y])
}

fn reshape_noop_instance(rng: &mut Rng) -> ir::Graph {
    let r = rng.range(1, 4);
    let shape = random_shape(rng, r, r, 1, 5);
    let mut b = GraphBuilder::new("reshape_id");
    let x = b.input(&shape);
    let s = spelled(rng, &shape, r);
    let s = b.i64s(&s);
    let y = b.op(Op::Reshape { allowzero: false }, &[x, s]);
    b.finish(&[y])
}

fn view_noop_instance(rng: &mut Rng) -> ir::Graph {
    let mut b = GraphBuilder::new("view_id");
    let y = match rng.range(0, 2) {
        0 => {
            let shape = random_shape(rng, 1, 3, 2, 5);
            let x = b.input(&shape);
            b.op(Op::Squeeze, &[x])
        }
        1 => {
            let shape = random_shape(rng, 1, 3, 1, 5);
            let x = b.input(&shape);
            let axes = b.i64s(&[]);
            b.op(Op::Unsqueeze, &[x, axes])
        }
        _ => {
            let shape = random_shape(rng, 2, 2, 1, 5);
            let x = b.input(&shape);
            b.op(Op::Flatten { axis: 1 }, &[x])
        }
    };
    b.finish(&[y])
}

/// `Squeeze(Unsqueeze(x, axes), axes)`, axes given positive or negative.
fn pair_cancel_instance(rng: &mut Rng) -> ir::Graph {
    let r = rng.range(1, 3);
    let shape = random_shape(rng, r, r, 1, 5);
    let k = rng.range(1, 2);
    let out_rank = (r + k) as i64;
    let mut axes: Vec<i64> = random_perm(rng, r + k)[..k]
        .iter()
        .map(|&a| a as i64)
        .collect();
    axes.sort();
    let spelled: Vec<i64> = axes
        .iter()
        .map(|&a| {
            if rng.range(0, 1) == 0 {
                a
            } else {
                a - out_rank
            }
        })
        .collect();
    let mut b = GraphBuilder::new("unsqueeze_squeeze");
    let x = b.input(&shape);
    let ua = b.i64s(&spelled);
    let u = b.op(Op::Unsqueeze, &[x, ua]);
    let sa = b.i64s(&axes);
    let y = b.op(Op::Squeeze, &[u, sa]);
    b.finish(&[y])
}
