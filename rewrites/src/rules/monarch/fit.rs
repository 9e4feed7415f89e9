//! Finding Monarch factors of a dense weight: the exact factorization of the cheapest layout
//! that fits, or under `--approx` the optimal projection (each block truncated to its rank).

use super::layout::{Layout, candidates, monarch_matrix};
use crate::rules::rank1::{
    EXACT_RTOL, Factors, cross, minor_exceeds_rank, norm2, round_to, truncate,
};
use ir::{DType, Tensor};

/// Weights smaller than this are left alone.
pub const MIN_N: usize = 16;
/// Weights larger than this (n·n elements) are not analysed.
const MAX_ELEMS: usize = 1 << 24;
/// Subspace iterations per block for the optimal projection.
const TRUNCATE_ITERS: usize = 40;
/// A layout whose factorization would cost more than this (n·s·t multiply-adds) is not tried.
const MAX_FIT_WORK: usize = 1 << 28;
/// The projection is not tried where a block's number of links exceeds this.
const MAX_PROJECT_RANK: usize = 32;
/// Pivots under this fraction of a block's largest entry count as zero (exact rank test).
const MINOR_RTOL: f64 = 1e-4;

/// Monarch factors of a weight, transposed per block for the feature-major application:
/// `rt[k, j, i] = R[k, i, j]` and `lt[l, c, i'] = L[l, i', c]`.
#[derive(Debug)]
pub struct MonarchFactors {
    pub layout: Layout,
    pub rt: Vec<f64>,
    pub lt: Vec<f64>,
    pub rel_err: f64,
}

/// Whether block (0, 0) of W may fit `lay`, a necessary test: exactly (`budget2: None`),
/// zero where no index links the blocks and of rank at most their number otherwise; or with
/// its best truncation within `budget2`.
fn first_block_fits(w: impl Fn(usize) -> f64, lay: Layout, budget2: Option<f64>) -> bool {
    let (s, t) = (lay.s, lay.t);
    let mut block = vec![0.0; s * t];
    lay.gather(w, (0, 0), &mut block);
    match (lay.links(0, 0).count(), budget2) {
        (0, None) => block.iter().all(|&x| x == 0.0),
        (0, Some(b2)) => norm2(&block) <= b2,
        (c, None) => !minor_exceeds_rank(&block, s, t, c, MINOR_RTOL),
        (c, Some(b2)) => {
            let f = cross(&block, s, t, c);
            f.resid2 <= b2 || truncate(&block, s, t, c, &f, TRUNCATE_ITERS).resid2 <= b2
        }
    }
}

/// Factors W block by block for one layout: R [b, s, s] and L [g, t, t]; `None` once the
/// squared residual passes `budget2`. `optimal` refines each block to its best truncation.
fn fit(w: &[f64], lay: Layout, budget2: f64, optimal: bool) -> Option<(Vec<f64>, Vec<f64>)> {
    let Layout { b, s, t } = lay;
    let g = lay.g();
    let mut r = vec![0.0; b * s * s];
    let mut l = vec![0.0; g * t * t];
    let mut block = vec![0.0; s * t];
    let mut resid2 = 0.0;
    for k in 0..b {
        for lb in 0..g {
            lay.gather(|q| w[q], (k, lb), &mut block);
            let ms: Vec<(usize, usize)> = lay.links(k, lb).collect();
            if ms.is_empty() {
                resid2 += norm2(&block);
            } else if !optimal && minor_exceeds_rank(&block, s, t, ms.len(), MINOR_RTOL) {
                return None;
            } else {
                let mut f: Factors = cross(&block, s, t, ms.len());
                if optimal && f.resid2 > 0.0 {
                    f = truncate(&block, s, t, ms.len(), &f, TRUNCATE_ITERS);
                }
                resid2 += f.resid2;
                for (q, &(j, ip)) in ms.iter().enumerate() {
                    for i in 0..s {
                        r[(k * s + i) * s + j] = f.us[q][i];
                    }
                    l[(lb * t + ip) * t..(lb * t + ip + 1) * t].copy_from_slice(&f.vs[q]);
                }
            }
            if resid2 > budget2 {
                return None;
            }
        }
    }
    Some((r, l))
}

/// `m` with each of its `d`×`d` blocks transposed.
fn transpose_blocks(m: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; m.len()];
    for (src, dst) in m.chunks(d * d).zip(out.chunks_mut(d * d)) {
        for i in 0..d {
            for j in 0..d {
                dst[j * d + i] = src[i * d + j];
            }
        }
    }
    out
}

/// The cheapest Monarch factorization of W within `tol` (relative Frobenius), checked by
/// reconstruction from the factors as stored (rounded to W's dtype). Under `approx`, `None`
/// where W is exactly Monarch (the exact rule handles it). An f32 weight is read in place
/// until some layout passes the first-block test: most weights never get copied.
pub fn analyze(t: &Tensor, approx: Option<f64>) -> Option<MonarchFactors> {
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
        let cands: Vec<Layout> = candidates(n, MAX_FIT_WORK)
            .into_iter()
            .filter(|l| tol.is_none() || l.t.div_ceil(l.b) <= MAX_PROJECT_RANK)
            .filter(|&l| first_block_fits(get, l, tol.map(|_| budget2)))
            .collect();
        if cands.is_empty() {
            return None;
        }
        let w: &[f64] = w.get_or_insert_with(|| t.to_f64_vec());
        cands.into_iter().find_map(|lay| {
            let (mut r, mut l) = fit(w, lay, budget2, tol.is_some())?;
            round_to(t.dtype(), &mut r);
            round_to(t.dtype(), &mut l);
            let err2: f64 = monarch_matrix(&r, &l, lay)
                .iter()
                .zip(w)
                .map(|(p, q)| (p - q) * (p - q))
                .sum();
            if err2 > budget2 {
                return None;
            }
            Some(MonarchFactors {
                layout: lay,
                rt: transpose_blocks(&r, lay.s),
                lt: transpose_blocks(&l, lay.t),
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
