//! Kronecker structure: `x · (A ⊗ B)` computed as two small products on `x` viewed as a
//! matrix, and Kronecker factors found in dense weights (exactly, or the nearest product
//! under `--approx`).
//!
//! Row-major identity (numpy/ONNX): for A [m1, n1], B [m2, n2] and x of length m1·m2 viewed
//! as X [m1, m2], `x · (A ⊗ B) = flatten(Aᵀ · X · B)`. The Kronecker product is matched in the
//! form exporters write for `torch.kron`:
//! `Reshape(Mul(Reshape(A, [m1,1,n1,1]), Reshape(B, [1,m2,1,n2])), [m1·m2, n1·n2])`.
//! Detection unions a dense weight with that form over new constants, so `kron-apply` serves
//! both a model that wrote `torch.kron` and one that stored the product.
//!
//! Detection reads W through the rearrangement R(W) (one row per block (i1, j1), the m2×n2
//! block flattened): W = A ⊗ B exactly when R(W) = vec(A)·vec(B)ᵀ has rank one.

use super::build::{binary, matmul, ops, reshape, reshape_keep, transpose};
use super::rank1::{
    EXACT_RTOL, Memo, Rearranged, argmax_abs, balance, divisors, fit_to_row, float_matrix, norm2,
    probe_rank1, top_pair,
};
use super::{Family, Rule, RuleOptions, Transform, transform};
use crate::analysis::{ApproxRecord, EG};
use crate::lang::Node;
use crate::verify::{GraphBuilder, Rng};
use egg::Id;
use ir::op::BinaryOp;
use ir::{Op, Tensor};
use std::sync::Arc;

/// Weights larger than this are not analysed (exact detection).
const MAX_EXACT_ELEMS: usize = 1 << 24;
/// Weights larger than this are not approximated (power iteration per factorization).
const MAX_APPROX_ELEMS: usize = 1 << 22;
/// Power iterations per factorization for the nearest Kronecker product.
const POWER_ITERS: usize = 60;
/// Weights larger than this are first approximated on a part: about 16·tol² of the entries
/// (a wrong factorization leaves a residual of order one, which such a part still shows
/// above the tolerance), at least `THIN_MIN`.
const THIN_ABOVE: usize = 1 << 14;
const THIN_MIN: usize = 1 << 10;

pub fn rules(opts: &RuleOptions) -> Vec<Rule> {
    let mut rules = vec![
        // x·(A⊗B) = flatten(Aᵀ·X·B), X = x viewed as [m1, m2]
        Rule {
            name: "kron-apply",
            family: Family::Kronecker,
            explosive: false,
            approx: false,
            rewrite: transform("kron-apply", KronApply),
            instance: apply_instance,
        },
        // W = A⊗B when R(W) = vec(A)·vec(B)ᵀ has rank one
        Rule {
            name: "kron-detect",
            family: Family::Kronecker,
            explosive: false,
            approx: false,
            rewrite: transform("kron-detect", KronFind::new(None)),
            instance: detect_instance,
        },
    ];
    if let Some(tol) = opts.approx {
        // W ≈ A⊗B, (vec A, vec B) the top singular pair of R(W) (Van Loan–Pitsianis)
        rules.push(Rule {
            name: "kron-nearest",
            family: Family::Kronecker,
            explosive: false,
            approx: true,
            rewrite: transform("kron-nearest", KronFind::new(Some(tol))),
            instance: nearest_instance,
        });
    }
    rules
}

/// `A ⊗ B` of row-major A [m1, n1] and B [m2, n2], row-major [m1·m2, n1·n2].
pub fn kron_matrix(a: &[f64], m1: usize, n1: usize, b: &[f64], m2: usize, n2: usize) -> Vec<f64> {
    let cols = n1 * n2;
    let mut out = vec![0.0; m1 * m2 * cols];
    for i1 in 0..m1 {
        for i2 in 0..m2 {
            let row = &mut out[(i1 * m2 + i2) * cols..(i1 * m2 + i2 + 1) * cols];
            for j1 in 0..n1 {
                let s = a[i1 * n1 + j1];
                for j2 in 0..n2 {
                    row[j1 * n2 + j2] = s * b[i2 * n2 + j2];
                }
            }
        }
    }
    out
}

/// A Kronecker product in exporter form: the classes of A and B and the dims.
#[derive(Clone, Copy, Debug)]
struct KronForm {
    a: Id,
    b: Id,
    m1: usize,
    n1: usize,
    m2: usize,
    n2: usize,
}

/// The exporter-form Kronecker products class `k` holds (static shapes, float dtype).
fn kron_forms(egraph: &EG, k: Id) -> Vec<KronForm> {
    let info = &egraph[k].data;
    let (Some(ks), Some(ty)) = (info.shape(), info.ty()) else {
        return vec![];
    };
    if ks.len() != 2 || !ty.dtype.is_float() {
        return vec![];
    }
    let shape = |c: Id| egraph[c].data.shape();
    let source = |c: Id| {
        ops(egraph, c)
            .find(|(op, ch)| matches!(op, Op::Reshape { .. }) && ch.len() == 2)
            .map(|(_, ch)| ch[0])
    };
    let mut out = Vec::new();
    for (op, ch) in ops(egraph, k) {
        if !matches!(op, Op::Reshape { .. }) || ch.len() != 2 {
            continue;
        }
        let Some(ms) = shape(ch[0]) else { continue };
        let [m1, m2, n1, n2] = ms[..] else { continue };
        if m1 * m2 != ks[0] || n1 * n2 != ks[1] {
            continue;
        }
        for (mop, mch) in ops(egraph, ch[0]) {
            if !matches!(mop, Op::Binary(BinaryOp::Mul)) || mch.len() != 2 {
                continue;
            }
            for (pa, pb) in [(mch[0], mch[1]), (mch[1], mch[0])] {
                if shape(pa) != Some(vec![m1, 1, n1, 1]) || shape(pb) != Some(vec![1, m2, 1, n2]) {
                    continue;
                }
                let (Some(a), Some(b)) = (source(pa), source(pb)) else {
                    continue;
                };
                let numel = |c: Id| shape(c).map(|s| s.iter().product::<usize>());
                if numel(a) == Some(m1 * n1) && numel(b) == Some(m2 * n2) {
                    let (a, b) = (egraph.find(a), egraph.find(b));
                    out.push(KronForm {
                        a,
                        b,
                        m1,
                        n1,
                        m2,
                        n2,
                    });
                    break;
                }
            }
        }
    }
    out
}

/// FLOPs per row of x (halved) of applying A ⊗ B in the cheaper order.
fn apply_cost(m1: usize, n1: usize, m2: usize, n2: usize) -> usize {
    (m1 * m2 * n2 + n1 * m1 * n2).min(n1 * m1 * m2 + n1 * m2 * n2)
}

/// `MatMul(x, K)` with K in exporter form ⇒ `Reshape(Aᵀ · (X · B))` and `Reshape((Aᵀ · X) · B)`
/// with X = x viewed as [..., m1, m2] (extraction keeps the cheaper order). The batch dims of
/// x are kept as they are, symbolic ones included.
struct KronApply;

impl Transform for KronApply {
    fn search(&self, egraph: &EG, class: Id) -> Vec<Vec<Id>> {
        let mut out: Vec<Vec<Id>> = Vec::new();
        for (op, ch) in ops(egraph, class) {
            if !matches!(op, Op::MatMul) || ch.len() != 2 {
                continue;
            }
            let Some(last) = egraph[ch[0]]
                .data
                .dims()
                .and_then(|d| d.last()?.as_static())
            else {
                continue;
            };
            for f in kron_forms(egraph, ch[1]) {
                let m = vec![egraph.find(ch[0]), egraph.find(ch[1]), f.a, f.b];
                if last == f.m1 * f.m2 && !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    fn apply(&self, egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
        let &[x, k, a, b] = ids else { return vec![] };
        let Some(f) = kron_forms(egraph, k)
            .into_iter()
            .find(|f| f.a == a && f.b == b)
        else {
            return vec![];
        };
        let Some(rank) = egraph[x].data.rank() else {
            return vec![];
        };
        let KronForm { m1, n1, m2, n2, .. } = f;
        let keep = rank.saturating_sub(1);
        let a2 = if egraph[a].data.shape() == Some(vec![m1, n1]) {
            a
        } else {
            reshape(egraph, a, &[m1, n1])
        };
        let b2 = if egraph[b].data.shape() == Some(vec![m2, n2]) {
            b
        } else {
            reshape(egraph, b, &[m2, n2])
        };
        // Each product is one MatMul that broadcasts a factor over the batch: no transposes of
        // the activations, whose memory traffic outweighs the FLOPs saved (Aᵀ is a weight).
        let at = transpose(egraph, a2, vec![1, 0]);
        let xv = reshape_keep(egraph, x, keep, &[m1, m2]);
        // Both orders go into the e-graph: they differ in FLOPs and in the size of the
        // intermediate ([.., m1, n2] or [.., n1, m2]), which the target's cost weighs.
        let xb = matmul(egraph, xv, b2);
        let xb_first = matmul(egraph, at, xb);
        let ax = matmul(egraph, at, xv);
        let ax_first = matmul(egraph, ax, b2);
        let first = reshape_keep(egraph, xb_first, keep, &[n1 * n2]);
        let second = reshape_keep(egraph, ax_first, keep, &[n1 * n2]);
        vec![(class, first), (class, second)]
    }
}

/// Kronecker factors of a weight: A [m1, n1], B [m2, n2] and the relative error of A ⊗ B.
#[derive(Debug)]
struct KronFactors {
    m1: usize,
    n1: usize,
    m2: usize,
    n2: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    rel_err: f64,
}

/// Finds Kronecker factors of the weights used as right operands of MatMul and unions each
/// with the exporter form over them: exactly (`approx: None`) or, under `--approx`, the
/// nearest product where the exact one fails and the error is within the tolerance.
struct KronFind {
    approx: Option<f64>,
    memo: Memo<Option<Arc<KronFactors>>>,
}

impl KronFind {
    fn new(approx: Option<f64>) -> KronFind {
        KronFind {
            approx,
            memo: Memo::default(),
        }
    }

    fn factors(&self, t: &Arc<Tensor>) -> Option<Arc<KronFactors>> {
        self.memo.get(t, |t| analyze(t, self.approx).map(Arc::new))
    }
}

/// Every factorization d_in = m1·m2, d_out = n1·n2 with all factors >= 2, cheapest first.
fn factorizations(d_in: usize, d_out: usize) -> Vec<[usize; 4]> {
    let mut out = Vec::new();
    for m1 in divisors(d_in) {
        for n1 in divisors(d_out) {
            let (m2, n2) = (d_in / m1, d_out / n1);
            if m1 >= 2 && m2 >= 2 && n1 >= 2 && n2 >= 2 {
                out.push([m1, n1, m2, n2]);
            }
        }
    }
    out.sort_by_key(|&[m1, n1, m2, n2]| (apply_cost(m1, n1, m2, n2), m1, n1));
    out
}

fn analyze(t: &Tensor, approx: Option<f64>) -> Option<KronFactors> {
    // An f32 weight is probed in place first: most weights are ruled out without a copy.
    if let (None, Some(v), [d_in, d_out]) = (approx, t.as_f32(), t.shape()) {
        let at = argmax_abs(v.len(), |k| v[k] as f64);
        let pivot = (at / d_out, at % d_out);
        let get = |k: usize| v[k] as f64;
        if !factorizations(*d_in, *d_out)
            .into_iter()
            .any(|f| probe_rank1(get, *d_out, f, pivot))
        {
            return None;
        }
    }
    let limit = if approx.is_some() {
        MAX_APPROX_ELEMS
    } else {
        MAX_EXACT_ELEMS
    };
    if t.len() > limit || t.is_empty() {
        return None;
    }
    let (d_in, d_out, w) = float_matrix(t)?;
    let total2 = norm2(&w);
    if total2 == 0.0 || !total2.is_finite() {
        return None;
    }
    // The row of R(W) holding W's largest entry: the largest row when R(W) has rank one.
    let at = argmax_abs(w.len(), |k| w[k]);
    let (pr, pc) = (at / d_out, at % d_out);
    let cands = factorizations(d_in, d_out);
    let exact = cands.iter().find_map(|&f| {
        if !probe_rank1(|k| w[k], d_out, f, (pr, pc)) {
            return None;
        }
        let view = Rearranged::new(&w, d_out, f);
        let budget2 = EXACT_RTOL * EXACT_RTOL * total2;
        fit_to_row(&view, view.row_of(pr, pc), budget2).map(|r| (f, r))
    });
    let (f, fit) = match (approx, exact) {
        (None, exact) => exact?,
        (Some(_), Some(_)) => return None,
        (Some(tol), None) => {
            let tol2 = tol * tol * total2;
            let target = THIN_MIN.max((w.len() as f64 * 16.0 * tol * tol) as usize);
            cands.iter().find_map(|&f| {
                let view = Rearranged::new(&w, d_out, f);
                // A submatrix's best fit is no worse than the whole's: rule out on a part.
                if w.len() > THIN_ABOVE && target < w.len() / 2 {
                    let part = view.thinned(pr, target);
                    let fit =
                        top_pair(&part, part.row_of(pr, pc), part.norm2(), tol2, POWER_ITERS)?;
                    if fit.resid2 > tol2 {
                        return None;
                    }
                }
                top_pair(&view, view.row_of(pr, pc), total2, tol2, POWER_ITERS)
                    .filter(|r| r.resid2 <= tol2)
                    .map(|r| (f, r))
            })?
        }
    };
    let [m1, n1, m2, n2] = f;
    let (mut a, mut b) = (fit.left, fit.right);
    balance(&mut a, &mut b);
    Some(KronFactors {
        m1,
        n1,
        m2,
        n2,
        a,
        b,
        rel_err: (fit.resid2 / total2).sqrt(),
    })
}

impl Transform for KronFind {
    fn search(&self, egraph: &EG, class: Id) -> Vec<Vec<Id>> {
        let mut out: Vec<Vec<Id>> = Vec::new();
        for (op, ch) in ops(egraph, class) {
            if !matches!(op, Op::MatMul) || ch.len() != 2 {
                continue;
            }
            let w = egraph.find(ch[1]);
            let Some(t) = egraph[w].data.value() else {
                continue;
            };
            if out.contains(&vec![w]) || !kron_forms(egraph, w).is_empty() {
                continue;
            }
            if self.factors(t).is_some() {
                out.push(vec![w]);
            }
        }
        out
    }

    fn apply(&self, egraph: &mut EG, _class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
        let &[w] = ids else { return vec![] };
        let Some(t) = egraph[w].data.value().cloned() else {
            return vec![];
        };
        let Some(f) = self.factors(&t) else {
            return vec![];
        };
        let dtype = t.dtype();
        let (Ok(ta), Ok(tb)) = (
            Tensor::from_f64(dtype, vec![f.m1, f.n1], &f.a),
            Tensor::from_f64(dtype, vec![f.m2, f.n2], &f.b),
        ) else {
            return vec![];
        };
        let ca = egraph.analysis.pool.intern(Arc::new(ta), "");
        let cb = egraph.analysis.pool.intern(Arc::new(tb), "");
        let a = egraph.add(Node::Const(ca));
        let b = egraph.add(Node::Const(cb));
        let ra = reshape(egraph, a, &[f.m1, 1, f.n1, 1]);
        let rb = reshape(egraph, b, &[1, f.m2, 1, f.n2]);
        let prod = binary(egraph, BinaryOp::Mul, ra, rb);
        let k = reshape(egraph, prod, &[f.m1 * f.m2, f.n1 * f.n2]);
        if egraph.find(k) == egraph.find(w) {
            return vec![];
        }
        if self.approx.is_some() {
            egraph.analysis.approx.push(ApproxRecord {
                rule: "kron-nearest",
                introduced: vec![ca, cb],
                rel_error: f.rel_err,
                what: format!(
                    "{}x{} weight as the Kronecker product of {}x{} and {}x{}",
                    f.m1 * f.m2,
                    f.n1 * f.n2,
                    f.m1,
                    f.n1,
                    f.m2,
                    f.n2
                ),
            });
        }
        vec![(w, k)]
    }
}

/// The exporter form of `torch.kron(a, b)` in a builder, operands of the Mul in either order.
pub fn exporter_kron(
    g: &mut GraphBuilder,
    a: ir::ValueId,
    b: ir::ValueId,
    [m1, n1, m2, n2]: [usize; 4],
    swap: bool,
) -> ir::ValueId {
    let i = |v: &[usize]| v.iter().map(|&d| d as i64).collect::<Vec<_>>();
    let sa = g.i64s(&i(&[m1, 1, n1, 1]));
    let sb = g.i64s(&i(&[1, m2, 1, n2]));
    let ra = g.op(Op::Reshape { allowzero: false }, &[a, sa]);
    let rb = g.op(Op::Reshape { allowzero: false }, &[b, sb]);
    let mul = Op::Binary(BinaryOp::Mul);
    let prod = if swap {
        g.op(mul, &[rb, ra])
    } else {
        g.op(mul, &[ra, rb])
    };
    let sk = g.i64s(&i(&[m1 * m2, n1 * n2]));
    g.op(Op::Reshape { allowzero: false }, &[prod, sk])
}

/// A random batch shape for x: none, [N] or [N1, N2].
fn batch(rng: &mut Rng) -> Vec<usize> {
    match rng.range(0, 2) {
        0 => vec![],
        1 => vec![rng.range(1, 6)],
        _ => vec![rng.range(1, 3), rng.range(1, 4)],
    }
}

fn f32_const(g: &mut GraphBuilder, shape: &[usize], v: &[f64]) -> ir::ValueId {
    let t = Tensor::from_f64(ir::DType::F32, shape.to_vec(), v).expect("data fits its shape");
    g.constant(t)
}

fn apply_instance(rng: &mut Rng) -> ir::Graph {
    let dims = [
        rng.range(2, 5),
        rng.range(2, 5),
        rng.range(2, 5),
        rng.range(2, 5),
    ];
    let [m1, n1, m2, n2] = dims;
    let mut g = GraphBuilder::new("kron");
    let consts = rng.range(0, 1) == 0;
    let (a, b) = if consts {
        (
            g.random_const(rng, &[m1, n1]),
            g.random_const(rng, &[m2, n2]),
        )
    } else {
        (g.input(&[m1, n1]), g.input(&[m2, n2]))
    };
    let swap = rng.range(0, 1) == 1;
    let k = exporter_kron(&mut g, a, b, dims, swap);
    let x = g.input(&[batch(rng), vec![m1 * m2]].concat());
    let y = g.op(Op::MatMul, &[x, k]);
    g.finish(&[y])
}

/// A random Kronecker product A ⊗ B of the given dims.
fn random_kron(rng: &mut Rng, [m1, n1, m2, n2]: [usize; 4]) -> Vec<f64> {
    let a = rng.normals(m1 * n1);
    let b = rng.normals(m2 * n2);
    kron_matrix(&a, m1, n1, &b, m2, n2)
}

fn detect_instance(rng: &mut Rng) -> ir::Graph {
    let dims = [
        rng.range(2, 6),
        rng.range(2, 6),
        rng.range(2, 6),
        rng.range(2, 6),
    ];
    let w = random_kron(rng, dims);
    let [m1, n1, m2, n2] = dims;
    let mut g = GraphBuilder::new("kron-weight");
    let wc = f32_const(&mut g, &[m1 * m2, n1 * n2], &w);
    let x = g.input(&[batch(rng), vec![m1 * m2]].concat());
    let y = g.op(Op::MatMul, &[x, wc]);
    g.finish(&[y])
}

/// A Kronecker product plus noise of relative size 1e-5: the exact rule does not fire. The
/// factor dims are squares of primes, so the factorization is unique.
fn nearest_instance(rng: &mut Rng) -> ir::Graph {
    let p = rng.pick(&[2, 3, 5, 7]);
    let q = rng.pick(&[2, 3, 5, 7]);
    let dims = [p, q, p, q];
    let mut w = random_kron(rng, dims);
    let rms = (norm2(&w) / w.len() as f64).sqrt();
    for v in w.iter_mut() {
        *v += 1e-5 * rms * rng.normal();
    }
    let mut g = GraphBuilder::new("kron-noisy");
    let wc = f32_const(&mut g, &[p * p, q * q], &w);
    let x = g.input(&[rng.range(1, 6), p * p]);
    let y = g.op(Op::MatMul, &[x, wc]);
    g.finish(&[y])
}
