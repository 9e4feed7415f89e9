//! Algebra: matrix-chain order, distributivity, scalar hoisting, transpose and reshape algebra,
//! identity and zero elimination, division by constants, folding of weight-only subgraphs, and
//! Gemm seen as MatMul.
//!
//! All rules here are exact. The files split the family by subject: [`matmul`] (products:
//! association, distribution, scalars, transposes of products), [`gemm`] (Gemm as MatMul),
//! [`layout`] (transpose and reshape algebra), [`scalar`] (neutral and absorbing elements,
//! division), [`fold`] (large weight-only results made constants).

mod fold;
mod gemm;
mod layout;
mod matmul;
mod scalar;

use super::{Rule, Transform, cond_pattern, transform};
use crate::analysis::{EG, TensorAnalysis};
use crate::lang::Node;
use crate::verify::Rng;
use egg::{Id, Rewrite, Subst, Var};
use ir::{DType, Tensor};

/// Every algebra rule.
pub fn rules() -> Vec<Rule> {
    let mut rules = matmul::rules();
    rules.extend(gemm::rules());
    rules.extend(layout::rules());
    rules.extend(scalar::rules());
    rules.extend(fold::rules());
    rules
}

/// The class a pattern variable is bound to.
fn bound(subst: &Subst, name: &str) -> Id {
    let v: Var = name.parse().expect("a pattern variable");
    subst[v]
}

/// Finds the matches of a Rust rule in one class.
type SearchFn = fn(&EG, Id) -> Vec<Vec<Id>>;
/// Adds a match's replacement: (class, new class) pairs to union.
type ApplyFn = fn(&mut EG, Id, &[Id]) -> Vec<(Id, Id)>;

/// A [`Transform`] from two functions.
struct FnTransform {
    search: SearchFn,
    apply: ApplyFn,
}

impl Transform for FnTransform {
    fn search(&self, egraph: &EG, class: Id) -> Vec<Vec<Id>> {
        (self.search)(egraph, class)
    }
    fn apply(&self, egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
        (self.apply)(egraph, class, ids)
    }
}

/// A Rust rule from a search and an apply function.
fn rust_rule(
    name: &'static str,
    search: SearchFn,
    apply: ApplyFn,
) -> Rewrite<Node, TensorAnalysis> {
    transform(name, FnTransform { search, apply })
}

/// The apply of rules that find the class equal to an existing one: `ids[0]`.
fn union_with_first(_: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    ids.first().map(|&x| vec![(class, x)]).unwrap_or_default()
}

/// True when a tensor class is f32 or f64. The rules that reorder arithmetic (association,
/// distribution, moving a scale) keep to these: there a reordering changes a result in its last
/// bits only, while in f16 or bf16 it changes results visibly.
fn wide_float(egraph: &EG, c: Id) -> bool {
    egraph[c]
        .data
        .ty()
        .is_some_and(|t| matches!(t.dtype, DType::F32 | DType::F64))
}

/// True when a class is a one-element f32/f64 tensor (a scalar of any rank).
fn is_scalar(egraph: &EG, c: Id) -> bool {
    wide_float(egraph, c)
        && egraph[c]
            .data
            .shape()
            .is_some_and(|s| s.iter().product::<usize>() == 1)
}

/// True when two classes have the same known type.
fn same_ty(egraph: &EG, a: Id, b: Id) -> bool {
    matches!((egraph[a].data.ty(), egraph[b].data.ty()), (Some(x), Some(y)) if x == y)
}

/// True when every element of a class's known value equals `v` (numeric dtypes only; scans at
/// most `MAX_SCAN` elements and stops at the first mismatch).
fn const_all(egraph: &EG, c: Id, v: f64) -> bool {
    const MAX_SCAN: usize = 1 << 22;
    let Some(t) = egraph[c].data.value() else {
        return false;
    };
    if t.dtype() == DType::Bool || t.is_empty() || t.len() > MAX_SCAN {
        return false;
    }
    match t.as_f32() {
        Some(xs) => xs.iter().all(|&x| x as f64 == v),
        None => t.to_f64_vec().iter().all(|&x| x == v),
    }
}

/// A scalar constant of `dtype` (f32/f64 only).
fn scalar_const(egraph: &mut EG, dtype: DType, v: f64) -> Option<Id> {
    if !matches!(dtype, DType::F32 | DType::F64) {
        return None;
    }
    let t = Tensor::from_f64(dtype, vec![], &[v]).ok()?;
    Some(TensorAnalysis::add_const(egraph, t))
}

/// A transpose's permutation for a rank, `None` resolved to reversing the axes; `None` when
/// the permutation is not one of `rank` axes.
fn resolve_perm(perm: Option<&[usize]>, rank: usize) -> Option<Vec<usize>> {
    let p: Vec<usize> = match perm {
        Some(p) => p.to_vec(),
        None => (0..rank).rev().collect(),
    };
    let mut seen = vec![false; rank];
    if p.len() != rank {
        return None;
    }
    for &a in &p {
        if a >= rank || std::mem::replace(&mut seen[a], true) {
            return None;
        }
    }
    Some(p)
}

fn is_identity_perm(p: &[usize]) -> bool {
    p.iter().enumerate().all(|(i, &a)| i == a)
}

/// The permutation that swaps the last two of `rank >= 2` axes.
fn swap_last_two(rank: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..rank).collect();
    p.swap(rank - 2, rank - 1);
    p
}

/// A random permutation of `n` axes.
fn random_perm(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.range(0, i);
        p.swap(i, j);
    }
    p
}

/// A random shape of `rmin..=rmax` dims, each in `lo..=hi`.
fn random_shape(rng: &mut Rng, rmin: usize, rmax: usize, lo: usize, hi: usize) -> Vec<usize> {
    let rank = rng.range(rmin, rmax);
    (0..rank).map(|_| rng.range(lo, hi)).collect()
}

/// `[m, k, n]` in `1..=hi`, all equal half the time (then a wrong rule still types, and only
/// the values tell it apart).
fn dims3(rng: &mut Rng, hi: usize) -> [usize; 3] {
    match rng.range(0, 1) {
        0 => [rng.range(2, hi); 3],
        _ => [rng.range(1, hi), rng.range(1, hi), rng.range(1, hi)],
    }
}
