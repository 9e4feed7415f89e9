//! Monarch structure: a square weight W [n, n] that is a Monarch matrix for n = b·s, applied
//! as two batched products with block-diagonal factors and permutations between them.
//!
//! Definition (row-major, R and L [b, s, s], x [B, n]):
//! ```text
//! u[B,k,j]  = Σ_i x[B, k·s+i] · R[k,i,j]          block-diagonal R
//! u2[B,l,i'] = u[B,k,j]  where l·s+i' = j·b+k       permutation P
//! v[B,l,j'] = Σ_i' u2[B,l,i'] · L[l,i',j']         block-diagonal L
//! y[B, j'·b+l] = v[B,l,j']                          output permutation
//! ```
//! so `W[k·s+i, j'·b+l] = Σ_m R[k,i,j_m] · L[l,i'_m,j']` over the intermediate indices
//! `m = j_m·b+k = l·s+i'_m`. Each m belongs to exactly one block (k, l) of W (rows k·s+i,
//! columns j'·b+l), and a block's m own their own columns of R and rows of L: W is Monarch
//! exactly when every block (k, l) has rank at most c(k, l) = #{m} (for b = s, c = 1: the
//! rank-1 slices). Factoring each block independently recovers R and L.
//!
//! The application costs 4·N·n·s FLOPs against 2·N·n² dense: b/2 times fewer. Permutations
//! are Transposes and Reshapes (indexing, no arithmetic).

use super::build::{matmul, ops, reshape, transpose};
use super::rank1::{
    EXACT_RTOL, Factors, Memo, cross, divisors, minor_exceeds_rank, norm2, round_to, truncate,
};
use super::{Family, Rule, RuleOptions, Transform, transform};
use crate::analysis::{ApproxRecord, EG};
use crate::lang::Node;
use crate::verify::{GraphBuilder, Rng};
use egg::Id;
use ir::{DType, Op, Tensor};
use std::sync::Arc;

/// Weights smaller than this are left alone.
pub const MIN_N: usize = 16;
/// Weights larger than this (n·n elements) are not analysed.
const MAX_ELEMS: usize = 1 << 24;
/// Subspace iterations per block for the optimal projection.
const TRUNCATE_ITERS: usize = 40;
/// A (b, s) whose factorization would cost more than this (n·s² multiply-adds) is not tried.
const MAX_FIT_WORK: usize = 1 << 28;
/// The projection is not tried where a block's rank c(k, l) exceeds this.
const MAX_PROJECT_RANK: usize = 32;
/// Pivots under this fraction of a block's largest entry count as zero (exact rank test).
const MINOR_RTOL: f64 = 1e-4;

pub fn rules(opts: &RuleOptions) -> Vec<Rule> {
    let mut rules = vec![
        // x·W = monarch(x; R, L) when W = monarch(I; R, L)
        Rule {
            name: "monarch-detect",
            family: Family::Monarch,
            explosive: false,
            approx: false,
            rewrite: transform("monarch-detect", MonarchFind::new(None)),
            instance: detect_instance,
        },
    ];
    if let Some(tol) = opts.approx {
        // x·W ≈ monarch(x; R, L), each block of W truncated to its best rank c(k, l)
        rules.push(Rule {
            name: "monarch-project",
            family: Family::Monarch,
            explosive: false,
            approx: true,
            rewrite: transform("monarch-project", MonarchFind::new(Some(tol))),
            instance: project_instance,
        });
    }
    rules
}

/// The intermediate indices of block (k, l) as (j, i') pairs: m = j·b+k = l·s+i'.
fn links(b: usize, s: usize, k: usize, l: usize) -> impl Iterator<Item = (usize, usize)> {
    let lo = l * s;
    let first = lo + (k + b - lo % b) % b;
    (first..lo + s).step_by(b).map(move |m| (m / b, m % s))
}

/// `W = monarch(I; R, L)`, row-major [n, n] with n = b·s.
pub fn monarch_matrix(r: &[f64], l: &[f64], b: usize, s: usize) -> Vec<f64> {
    let n = b * s;
    let mut w = vec![0.0; n * n];
    for k in 0..b {
        for i in 0..s {
            let row = &mut w[(k * s + i) * n..(k * s + i + 1) * n];
            for j in 0..s {
                let rv = r[(k * s + i) * s + j];
                let m = j * b + k;
                let (lb, ip) = (m / s, m % s);
                for jp in 0..s {
                    row[jp * b + lb] += rv * l[(lb * s + ip) * s + jp];
                }
            }
        }
    }
    w
}

/// Monarch factors of a weight: R [b, s, s] and Lᵀ (per block, `lt[l, j', i'] = L[l, i', j']`).
#[derive(Debug)]
struct MonarchFactors {
    b: usize,
    s: usize,
    r: Vec<f64>,
    lt: Vec<f64>,
    rel_err: f64,
}

/// Every (b, s) with b·s = n whose application is cheaper than dense (b > 2, s >= 2) and
/// whose factorization is affordable, cheapest (smallest s) first.
fn candidates(n: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = divisors(n)
        .into_iter()
        .map(|b| (b, n / b))
        .filter(|&(b, s)| b > 2 && s >= 2 && n * s * s <= MAX_FIT_WORK)
        .collect();
    out.sort_by_key(|&(_, s)| s);
    out
}

/// Block (k, l) of W: rows k·s+i, columns j'·b+l, as a row-major s×s block.
fn gather(w: impl Fn(usize) -> f64, b: usize, s: usize, (k, l): (usize, usize), out: &mut [f64]) {
    let n = b * s;
    for i in 0..s {
        for jp in 0..s {
            out[i * s + jp] = w((k * s + i) * n + jp * b + l);
        }
    }
}

/// Whether block (0, 0) of W may fit (b, s), a necessary test: exactly (`budget2: None`),
/// zero where no index links the blocks and of rank at most their number otherwise; or with
/// its best truncation within `budget2`.
fn first_block_fits(w: impl Fn(usize) -> f64, b: usize, s: usize, budget2: Option<f64>) -> bool {
    let mut block = vec![0.0; s * s];
    gather(w, b, s, (0, 0), &mut block);
    match (links(b, s, 0, 0).count(), budget2) {
        (0, None) => block.iter().all(|&x| x == 0.0),
        (0, Some(b2)) => norm2(&block) <= b2,
        (c, None) => !minor_exceeds_rank(&block, s, s, c, MINOR_RTOL),
        (c, Some(b2)) => {
            let f = cross(&block, s, s, c);
            f.resid2 <= b2 || truncate(&block, s, s, c, &f, TRUNCATE_ITERS).resid2 <= b2
        }
    }
}

/// Factors W block by block for one (b, s): R and L, and the squared residual; `None` once the
/// residual passes `budget2`. `optimal` refines each block to its best truncation.
fn fit(w: &[f64], b: usize, s: usize, budget2: f64, optimal: bool) -> Option<(Vec<f64>, Vec<f64>)> {
    let mut r = vec![0.0; b * s * s];
    let mut l = vec![0.0; b * s * s];
    let mut block = vec![0.0; s * s];
    let mut resid2 = 0.0;
    for k in 0..b {
        for lb in 0..b {
            gather(|q| w[q], b, s, (k, lb), &mut block);
            let ms: Vec<(usize, usize)> = links(b, s, k, lb).collect();
            if ms.is_empty() {
                resid2 += norm2(&block);
            } else if !optimal && minor_exceeds_rank(&block, s, s, ms.len(), MINOR_RTOL) {
                return None;
            } else {
                let mut f: Factors = cross(&block, s, s, ms.len());
                if optimal && f.resid2 > 0.0 {
                    f = truncate(&block, s, s, ms.len(), &f, TRUNCATE_ITERS);
                }
                resid2 += f.resid2;
                for (t, &(j, ip)) in ms.iter().enumerate() {
                    for i in 0..s {
                        r[(k * s + i) * s + j] = f.us[t][i];
                    }
                    l[(lb * s + ip) * s..(lb * s + ip + 1) * s].copy_from_slice(&f.vs[t]);
                }
            }
            if resid2 > budget2 {
                return None;
            }
        }
    }
    Some((r, l))
}

/// The cheapest Monarch factorization of W within `tol` (relative Frobenius), checked by
/// reconstruction from the factors as stored (rounded to W's dtype). Under `approx`, `None`
/// where W is exactly Monarch (the exact rule handles it). An f32 weight is read in place
/// until some (b, s) passes the first-block test: most weights never get copied.
fn analyze(t: &Tensor, approx: Option<f64>) -> Option<MonarchFactors> {
    let &[n, n2] = t.shape() else { return None };
    if n != n2 || n < MIN_N || n * n > MAX_ELEMS || !matches!(t.dtype(), DType::F32 | DType::F64) {
        return None;
    }
    let f32s = t.as_f32();
    let f64s = if f32s.is_none() {
        t.to_f64_vec()
    } else {
        vec![]
    };
    let get = |q: usize| f32s.map_or_else(|| f64s[q], |v| v[q] as f64);
    let total2: f64 = (0..n * n).map(|q| get(q) * get(q)).sum();
    if total2 == 0.0 || !total2.is_finite() {
        return None;
    }
    let mut w: Option<Vec<f64>> = None;
    let mut search = |tol: Option<f64>| {
        let budget2 = tol.unwrap_or(EXACT_RTOL).powi(2) * total2;
        let cands: Vec<(usize, usize)> = candidates(n)
            .into_iter()
            .filter(|&(b, s)| tol.is_none() || s.div_ceil(b) <= MAX_PROJECT_RANK)
            .filter(|&(b, s)| first_block_fits(get, b, s, tol.map(|_| budget2)))
            .collect();
        if cands.is_empty() {
            return None;
        }
        let w: &[f64] = w.get_or_insert_with(|| t.to_f64_vec());
        cands.into_iter().find_map(|(b, s)| {
            let (mut r, mut l) = fit(w, b, s, budget2, tol.is_some())?;
            round_to(t.dtype(), &mut r);
            round_to(t.dtype(), &mut l);
            let err2: f64 = monarch_matrix(&r, &l, b, s)
                .iter()
                .zip(w)
                .map(|(p, q)| (p - q) * (p - q))
                .sum();
            if err2 > budget2 {
                return None;
            }
            let mut lt = vec![0.0; b * s * s];
            for lb in 0..b {
                for ip in 0..s {
                    for jp in 0..s {
                        lt[(lb * s + jp) * s + ip] = l[(lb * s + ip) * s + jp];
                    }
                }
            }
            Some(MonarchFactors {
                b,
                s,
                r,
                lt,
                rel_err: (err2 / total2).sqrt(),
            })
        })
    };
    let exact = search(None);
    match approx {
        None => exact,
        Some(_) if exact.is_some() => None,
        Some(tol) => search(Some(tol)),
    }
}

/// `MatMul(x, W)` with W Monarch ⇒ the two-product application, exactly (`approx: None`) or
/// with the optimal projection under `--approx`.
struct MonarchFind {
    approx: Option<f64>,
    memo: Memo<Option<Arc<MonarchFactors>>>,
}

impl MonarchFind {
    fn new(approx: Option<f64>) -> MonarchFind {
        MonarchFind {
            approx,
            memo: Memo::default(),
        }
    }

    fn factors(&self, t: &Arc<Tensor>) -> Option<Arc<MonarchFactors>> {
        self.memo.get(t, |t| analyze(t, self.approx).map(Arc::new))
    }
}

impl Transform for MonarchFind {
    fn search(&self, egraph: &EG, class: Id) -> Vec<Vec<Id>> {
        let mut out: Vec<Vec<Id>> = Vec::new();
        for (op, ch) in ops(egraph, class) {
            if !matches!(op, Op::MatMul) || ch.len() != 2 {
                continue;
            }
            let (x, w) = (egraph.find(ch[0]), egraph.find(ch[1]));
            let Some(t) = egraph[w].data.value() else {
                continue;
            };
            let Some(xs) = egraph[x].data.shape() else {
                continue;
            };
            if t.rank() != 2 || t.shape()[0] < MIN_N || xs.last() != Some(&t.shape()[0]) {
                continue;
            }
            let m = vec![x, w];
            if !out.contains(&m) && self.factors(t).is_some() {
                out.push(m);
            }
        }
        out
    }

    fn apply(&self, egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
        let &[x, w] = ids else { return vec![] };
        let (Some(t), Some(xs)) = (egraph[w].data.value().cloned(), egraph[x].data.shape()) else {
            return vec![];
        };
        let Some(f) = self.factors(&t) else {
            return vec![];
        };
        let (b, s) = (f.b, f.s);
        let (Ok(tr), Ok(tl)) = (
            Tensor::from_f64(t.dtype(), vec![b, s, s], &f.r),
            Tensor::from_f64(t.dtype(), vec![b, s, s], &f.lt),
        ) else {
            return vec![];
        };
        let batch = &xs[..xs.len() - 1];
        let rows: usize = batch.iter().product();
        let cr = egraph.analysis.pool.intern(Arc::new(tr), "");
        let cl = egraph.analysis.pool.intern(Arc::new(tl), "");
        let r = egraph.add(Node::Const(cr));
        let lt = egraph.add(Node::Const(cl));
        // [N, b, s] → [b, N, s] · R → u [b, N, s] (k, B, j)
        let x3 = reshape(egraph, x, &[rows, b, s]);
        let xt = transpose(egraph, x3, vec![1, 0, 2]);
        let u = matmul(egraph, xt, r);
        // P: (k, B, j) → [s, b, N] (j, k, B) → [b, s, N] (l, i', B)
        let ut = transpose(egraph, u, vec![2, 0, 1]);
        let up = reshape(egraph, ut, &[b, s, rows]);
        // Lᵀ · u2 → v [b, s, N] (l, j', B) → [N, s, b] → [..., n] (index j'·b + l)
        let v = matmul(egraph, lt, up);
        let vt = transpose(egraph, v, vec![2, 1, 0]);
        let y = reshape(egraph, vt, &[batch, &[b * s]].concat());
        if egraph.find(y) == egraph.find(class) {
            return vec![];
        }
        if self.approx.is_some() {
            egraph.analysis.approx.push(ApproxRecord {
                rule: "monarch-project",
                introduced: vec![cr, cl],
                rel_error: f.rel_err,
                what: format!("{0}x{0} weight as Monarch with b={b}, s={s}", b * s),
            });
        }
        vec![(class, y)]
    }
}

/// Random Monarch factors and W = monarch(I; R, L).
fn random_monarch(rng: &mut Rng, b: usize, s: usize) -> Vec<f64> {
    let r = rng.normals(b * s * s);
    let l = rng.normals(b * s * s);
    monarch_matrix(&r, &l, b, s)
}

fn graph(rng: &mut Rng, w: &[f64], n: usize) -> ir::Graph {
    let mut g = GraphBuilder::new("monarch");
    let t = Tensor::from_f64(ir::DType::F32, vec![n, n], w).expect("data fits its shape");
    let wc = g.constant(t);
    let xs = match rng.range(0, 2) {
        0 => vec![n],
        1 => vec![rng.range(1, 6), n],
        _ => vec![rng.range(1, 3), rng.range(1, 3), n],
    };
    let x = g.input(&xs);
    let y = g.op(Op::MatMul, &[x, wc]);
    g.finish(&[y])
}

fn detect_instance(rng: &mut Rng) -> ir::Graph {
    let (b, s) = loop {
        let (b, s) = (rng.range(3, 8), rng.range(2, 8));
        if (MIN_N..=64).contains(&(b * s)) {
            break (b, s);
        }
    };
    let w = random_monarch(rng, b, s);
    graph(rng, &w, b * s)
}

/// Monarch plus noise of relative size 1e-5: the exact rule does not fire.
fn project_instance(rng: &mut Rng) -> ir::Graph {
    let (b, s) = rng.pick(&[(4, 4), (5, 5), (7, 7), (4, 8), (3, 9)]);
    let mut w = random_monarch(rng, b, s);
    let rms = (norm2(&w) / w.len() as f64).sqrt();
    for v in w.iter_mut() {
        *v += 1e-5 * rms * rng.normal();
    }
    graph(rng, &w, b * s)
}
