//! Monarch structure: a square weight W [n, n] that is a Monarch matrix (`layout` says which
//! layouts and why a block-rank test decides them), found exactly or, under `--approx`, as the
//! optimal projection, and applied as two batched products with block-diagonal factors.
//!
//! The application runs feature-major: x is transposed once to [n, N], both products take the
//! weight on the left (`Rᵀ · x`, `Lᵀ · u`), and every permutation between them is a swap of the
//! two outer axes, which moves whole contiguous rows of N values. The only element-wise
//! transposes are the two 2-D ones at the ends. (A batch-major form needs a transpose of the
//! innermost axis between the products, which ONNX runtimes run element by element.)

mod fit;
mod layout;

pub use fit::MIN_N;
pub use layout::{Layout, candidates, monarch_matrix};

use super::build::{matmul, ops, reshape_to, transpose};
use super::{Family, Rule, RuleOptions, Transform, transform};
use crate::analysis::{ApproxRecord, EG};
use crate::lang::Node;
use crate::rules::rank1::{Memo, norm2};
use crate::verify::{GraphBuilder, Rng};
use egg::Id;
use fit::{MonarchFactors, analyze};
use ir::shape::Dim;
use ir::{Op, Tensor};
use std::sync::Arc;

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
        // x·W ≈ monarch(x; R, L), each block of W truncated to its number of links
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

/// The batch dims of x, for the reshape back from [N, n], or `None` where x is not [..., n]
/// with a static n. A symbolic batch dim is kept only in a 2-D x: flattening [B, T] into N
/// would lose the symbol, and the result's type must equal the MatMul's.
fn batch_target(dims: &[Dim], n: usize) -> Option<Vec<i64>> {
    let (last, batch) = dims.split_last()?;
    if last.as_static() != Some(n) {
        return None;
    }
    match batch {
        [_] => Some(vec![-1]),
        _ => batch.iter().map(|d| Some(d.as_static()? as i64)).collect(),
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
            let (Some(t), Some(dims)) = (egraph[w].data.value(), egraph[x].data.dims()) else {
                continue;
            };
            if t.rank() != 2 || t.shape()[0] < MIN_N || batch_target(dims, t.shape()[0]).is_none() {
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
        let Some(t) = egraph[w].data.value().cloned() else {
            return vec![];
        };
        let Some(f) = self.factors(&t) else {
            return vec![];
        };
        let lay = f.layout;
        let (n, b, s, t_, g) = (lay.n(), lay.b, lay.s, lay.t, lay.g());
        let Some(batch) = egraph[x].data.dims().and_then(|d| batch_target(d, n)) else {
            return vec![];
        };
        let (Ok(tr), Ok(tl)) = (
            Tensor::from_f64(t.dtype(), vec![b, s, s], &f.rt),
            Tensor::from_f64(t.dtype(), vec![g, t_, t_], &f.lt),
        ) else {
            return vec![];
        };
        let cr = egraph.analysis.pool.intern(Arc::new(tr), "");
        let cl = egraph.analysis.pool.intern(Arc::new(tl), "");
        let rt = egraph.add(Node::Const(cr));
        let lt = egraph.add(Node::Const(cl));
        let [b, s, t_, g, n] = [b, s, t_, g, n].map(|d| d as i64);
        let x2 = if batch.len() == 1 {
            x
        } else {
            reshape_to(egraph, x, &[-1, n])
        };
        // xᵀ [n, N] viewed as (k, i, N); Rᵀ· → u (k, j, N).
        let xt = transpose(egraph, x2, vec![1, 0]);
        let x3 = reshape_to(egraph, xt, &[b, s, -1]);
        let u = matmul(egraph, rt, x3);
        // P: (j, k, N) is the intermediate in order m = j·b+k, viewed as (l, i', N).
        let ut = transpose(egraph, u, vec![1, 0, 2]);
        let u2 = reshape_to(egraph, ut, &[g, t_, -1]);
        // Lᵀ· → v (l, c, N); (c, l, N) is the output in order c·g+l; back to [N, n].
        let v = matmul(egraph, lt, u2);
        let vt = transpose(egraph, v, vec![1, 0, 2]);
        let v2 = reshape_to(egraph, vt, &[n, -1]);
        let y2 = transpose(egraph, v2, vec![1, 0]);
        let y = if batch.len() == 1 {
            y2
        } else {
            reshape_to(egraph, y2, &[batch, vec![n]].concat())
        };
        if egraph.find(y) == egraph.find(class) {
            return vec![];
        }
        if self.approx.is_some() {
            egraph.analysis.approx.push(ApproxRecord {
                rule: "monarch-project",
                introduced: vec![cr, cl],
                rel_error: f.rel_err,
                what: format!(
                    "{n}x{n} weight as Monarch: R {b} blocks of {s}, L {g} blocks of {t_}"
                ),
            });
        }
        vec![(class, y)]
    }
}

/// Random factors of `lay` and W = monarch(I; R, L).
pub fn random_monarch(rng: &mut Rng, lay: Layout) -> Vec<f64> {
    let r = rng.normals(lay.b * lay.s * lay.s);
    let l = rng.normals(lay.g() * lay.t * lay.t);
    monarch_matrix(&r, &l, lay)
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

/// A random layout of a weight with 16 <= n <= 64 (the square-grid form, t = b, half the
/// time).
fn detect_instance(rng: &mut Rng) -> ir::Graph {
    let lay = loop {
        let n = rng.range(MIN_N, 64);
        let cands = candidates(n, usize::MAX);
        if cands.is_empty() {
            continue;
        }
        let grid: Vec<Layout> = cands.iter().copied().filter(|l| l.t == l.b).collect();
        let pool = if !grid.is_empty() && rng.range(0, 1) == 0 {
            grid
        } else {
            cands
        };
        break pool[rng.range(0, pool.len() - 1)];
    };
    let w = random_monarch(rng, lay);
    graph(rng, &w, lay.n())
}

/// Monarch plus noise of relative size 1e-5: the exact rule does not fire.
fn project_instance(rng: &mut Rng) -> ir::Graph {
    let (b, s, t) = rng.pick(&[
        (4, 4, 4),
        (5, 5, 5),
        (7, 7, 7),
        (4, 8, 8),
        (4, 8, 4),
        (8, 4, 8),
    ]);
    let lay = Layout { b, s, t };
    let mut w = random_monarch(rng, lay);
    let rms = (norm2(&w) / w.len() as f64).sqrt();
    for v in w.iter_mut() {
        *v += 1e-5 * rms * rng.normal();
    }
    graph(rng, &w, lay.n())
}
