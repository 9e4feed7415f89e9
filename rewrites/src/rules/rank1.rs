//! Low-rank numerics shared by the structure rules (Kronecker, Monarch): rank-1 fits of a
//! matrix read one row at a time (the least-squares fit to a pivot row, exact for a rank-1
//! matrix; power iteration for the top singular pair), the Kronecker rearrangement R(W) and
//! its O(1) rank-1 probe, rank-`c` factorizations of small dense blocks (cross approximation
//! with complete pivoting; subspace iteration for the optimal truncation), and a memo of
//! per-constant analyses.
//!
//! Everything is computed in f64; residuals are squared Frobenius norms.

use crate::verify::Rng;
use ir::{DType, Tensor};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Relative Frobenius residual under which a structure is taken as exact.
pub const EXACT_RTOL: f64 = 1e-6;

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The squared Euclidean (Frobenius) norm.
pub fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum()
}

/// The positive divisors of `n` in increasing order.
pub fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|&d| n.is_multiple_of(d)).collect()
}

/// The f64 values of a 2-D f32/f64 constant (the dtypes structure rules factor).
pub fn float_matrix(t: &Tensor) -> Option<(usize, usize, Vec<f64>)> {
    if !matches!(t.dtype(), DType::F32 | DType::F64) || t.rank() != 2 {
        return None;
    }
    Some((t.shape()[0], t.shape()[1], t.to_f64_vec()))
}

/// Rounds values to what a constant of `dtype` stores.
pub fn round_to(dtype: DType, v: &mut [f64]) {
    if dtype == DType::F32 {
        for x in v {
            *x = *x as f32 as f64;
        }
    }
}

/// Scales `u` and `v` so that their norms are equal, keeping `u vᵀ`.
pub fn balance(u: &mut [f64], v: &mut [f64]) {
    let (nu, nv) = (norm2(u).sqrt(), norm2(v).sqrt());
    if nu > 0.0 && nv > 0.0 {
        let a = (nv / nu).sqrt();
        u.iter_mut().for_each(|x| *x *= a);
        v.iter_mut().for_each(|x| *x /= a);
    }
}

/// A matrix read one row at a time (a rearrangement of a weight, never materialized).
pub trait Rows {
    fn shape(&self) -> (usize, usize);
    fn row(&self, r: usize, out: &mut [f64]);
}

/// A rank-1 approximation `left · rightᵀ` and its squared residual.
#[derive(Clone, Debug)]
pub struct Rank1 {
    pub left: Vec<f64>,
    pub right: Vec<f64>,
    pub resid2: f64,
}

/// Fits every row as a multiple of row `pivot` (least squares): exact when the matrix has rank
/// one and the pivot row is not zero. Gives up once the squared residual passes `budget2`, so
/// a matrix far from rank one costs a few rows.
pub fn fit_to_row(m: &impl Rows, pivot: usize, budget2: f64) -> Option<Rank1> {
    let (rows, cols) = m.shape();
    if pivot >= rows {
        return None;
    }
    let mut p = vec![0.0; cols];
    m.row(pivot, &mut p);
    let pp = norm2(&p);
    if pp == 0.0 {
        return None;
    }
    let mut left = vec![0.0; rows];
    let mut buf = vec![0.0; cols];
    let mut resid2 = 0.0;
    for (r, l) in left.iter_mut().enumerate() {
        m.row(r, &mut buf);
        let c = dot(&buf, &p) / pp;
        *l = c;
        resid2 += buf
            .iter()
            .zip(&p)
            .map(|(x, y)| (x - c * y) * (x - c * y))
            .sum::<f64>();
        if resid2 > budget2 {
            return None;
        }
    }
    Some(Rank1 {
        left,
        right: p,
        resid2,
    })
}

/// The top singular pair by power iteration on `RᵀR` started from row `start`: the
/// approximation `(R v) vᵀ` with `v` the last iterate (unit norm), whose squared residual is
/// `total2 - |R v|²` exactly. One pass over the rows per iteration.
///
/// Stops when converged, or when the fit cannot reach `tol2`: were the best residual within
/// it, σ₂²/σ₁² <= ρ = r/(1-r) with r = tol2/total2, and the captured energy would converge
/// geometrically at least that fast, so what is left to gain is at most `change·ρ/(1-ρ)`.
pub fn top_pair(
    m: &impl Rows,
    start: usize,
    total2: f64,
    tol2: f64,
    iters: usize,
) -> Option<Rank1> {
    let (rows, cols) = m.shape();
    if start >= rows {
        return None;
    }
    let mut v = vec![0.0; cols];
    m.row(start, &mut v);
    let nv = norm2(&v).sqrt();
    if nv == 0.0 {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= nv);
    let mut buf = vec![0.0; cols];
    let mut u = vec![0.0; rows];
    let mut prev = 0.0f64;
    for it in 0..iters.max(1) {
        let mut w = vec![0.0; cols];
        for (r, ur) in u.iter_mut().enumerate() {
            m.row(r, &mut buf);
            let c = dot(&buf, &v);
            *ur = c;
            w.iter_mut().zip(&buf).for_each(|(a, b)| *a += c * b);
        }
        let energy = norm2(&u);
        let change = (energy - prev).abs();
        prev = energy;
        let resid2 = (total2 - energy).max(0.0);
        let converged = change <= 1e-13 * total2;
        let r = tol2 / total2;
        let hopeless = it >= 2 && resid2 > tol2 && r < 0.5 && {
            let rho = r / (1.0 - r);
            resid2 - tol2 > 10.0 * change * rho / (1.0 - rho)
        };
        let nw = norm2(&w).sqrt();
        if converged || hopeless || it + 1 == iters.max(1) || nw == 0.0 {
            break;
        }
        v = w.into_iter().map(|x| x / nw).collect();
    }
    Some(Rank1 {
        resid2: (total2 - norm2(&u)).max(0.0),
        left: u,
        right: v,
    })
}

/// A rank-`c` factorization `Σ_t us[t] · vs[t]ᵀ` of a dense block and its squared residual.
#[derive(Clone, Debug)]
pub struct Factors {
    pub us: Vec<Vec<f64>>,
    pub vs: Vec<Vec<f64>>,
    pub resid2: f64,
}

impl Factors {
    /// `rank` pairs: the ones found, then zero pairs; `resid` is the block minus their sum.
    fn padded(
        mut us: Vec<Vec<f64>>,
        mut vs: Vec<Vec<f64>>,
        (rows, cols, rank): (usize, usize, usize),
        resid: &[f64],
    ) -> Factors {
        us.resize(rank.max(us.len()), vec![0.0; rows]);
        vs.resize(rank.max(vs.len()), vec![0.0; cols]);
        Factors {
            us,
            vs,
            resid2: norm2(resid),
        }
    }
}

/// Rank-`rank` factorization of a row-major `rows × cols` block by cross approximation with
/// complete pivoting: exact (to rounding) when the block has rank at most `rank`. Factors
/// past the block's rank are zero; each pair is balanced.
pub fn cross(a: &[f64], rows: usize, cols: usize, rank: usize) -> Factors {
    let mut e = a.to_vec();
    let mut us = Vec::with_capacity(rank);
    let mut vs = Vec::with_capacity(rank);
    for _ in 0..rank {
        let mut pi = 0;
        let mut pv = 0.0f64;
        for (k, x) in e.iter().enumerate() {
            if x.abs() > pv {
                pv = x.abs();
                pi = k;
            }
        }
        if pv == 0.0 || !pv.is_finite() {
            break;
        }
        let (i, j) = (pi / cols, pi % cols);
        let p = e[pi];
        let mut u: Vec<f64> = (0..rows).map(|r| e[r * cols + j]).collect();
        let mut v: Vec<f64> = (0..cols).map(|c| e[i * cols + c] / p).collect();
        for (r, &ur) in u.iter().enumerate() {
            if ur != 0.0 {
                let row = &mut e[r * cols..(r + 1) * cols];
                row.iter_mut().zip(&v).for_each(|(x, y)| *x -= ur * y);
            }
        }
        balance(&mut u, &mut v);
        us.push(u);
        vs.push(v);
    }
    Factors::padded(us, vs, (rows, cols, rank), &e)
}

/// Whether a block certainly has rank above `rank`: complete-pivoting elimination on the
/// (rank+1)-minor on evenly spread rows and columns leaves a pivot above `rtol` times the
/// block's largest entry. A cheap necessary test for rank <= `rank` (O(rank³) against the
/// O(rank·rows·cols) of a factorization): every minor of a rank-`rank` block is singular.
pub fn minor_exceeds_rank(a: &[f64], rows: usize, cols: usize, rank: usize, rtol: f64) -> bool {
    let k = rank + 1;
    if k > rows || k > cols {
        return false;
    }
    let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut m: Vec<f64> = Vec::with_capacity(k * k);
    for t in 0..k {
        let r = t * rows / k;
        m.extend((0..k).map(|u| a[r * cols + u * cols / k]));
    }
    let (mut live_r, mut live_c): (Vec<usize>, Vec<usize>) = ((0..k).collect(), (0..k).collect());
    for _ in 0..rank {
        let (mut bi, mut bj, mut bv) = (0, 0, 0.0f64);
        for (ri, &r) in live_r.iter().enumerate() {
            for (ci, &c) in live_c.iter().enumerate() {
                if m[r * k + c].abs() > bv {
                    (bi, bj, bv) = (ri, ci, m[r * k + c].abs());
                }
            }
        }
        if bv <= rtol * scale {
            return false;
        }
        let (pr, pc) = (live_r.swap_remove(bi), live_c.swap_remove(bj));
        let p = m[pr * k + pc];
        for &r in &live_r {
            let f = m[r * k + pc] / p;
            if f != 0.0 {
                for &c in &live_c {
                    m[r * k + c] -= f * m[pr * k + c];
                }
            }
        }
    }
    let last = live_r
        .iter()
        .flat_map(|&r| live_c.iter().map(move |&c| (r, c)))
        .fold(0.0f64, |acc, (r, c)| acc.max(m[r * k + c].abs()));
    last > rtol * scale
}

/// Orthonormalizes vectors (modified Gram–Schmidt, twice), dropping dependent ones.
fn orthonormalize(vecs: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(vecs.len());
    for mut v in vecs {
        let n0 = norm2(&v).sqrt();
        if n0 == 0.0 || !n0.is_finite() {
            continue;
        }
        for _ in 0..2 {
            for b in &q {
                let c = dot(&v, b);
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let n = norm2(&v).sqrt();
        if n > 1e-10 * n0 {
            v.iter_mut().for_each(|x| *x /= n);
            q.push(v);
        }
    }
    q
}

/// `Aᵀ q` for a row-major `rows × cols` block.
fn at_times(a: &[f64], cols: usize, q: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; cols];
    for (r, &qr) in q.iter().enumerate() {
        if qr != 0.0 {
            let row = &a[r * cols..(r + 1) * cols];
            y.iter_mut().zip(row).for_each(|(acc, x)| *acc += qr * x);
        }
    }
    y
}

/// `A y` for a row-major `rows × cols` block.
fn a_times(a: &[f64], rows: usize, cols: usize, y: &[f64]) -> Vec<f64> {
    (0..rows)
        .map(|r| dot(&a[r * cols..(r + 1) * cols], y))
        .collect()
}

/// The best rank-`rank` approximation of a block (Eckart–Young, to the iteration's accuracy)
/// by subspace iteration started from `start`'s left factors: `Q Qᵀ A` with `Q` an orthonormal
/// basis of the dominant left singular subspace. Never worse than `start`.
pub fn truncate(
    a: &[f64],
    rows: usize,
    cols: usize,
    rank: usize,
    start: &Factors,
    iters: usize,
) -> Factors {
    let total = norm2(a);
    let mut q = orthonormalize(start.us.clone());
    if q.is_empty() || total == 0.0 {
        return start.clone();
    }
    let mut prev = -1.0f64;
    for _ in 0..iters {
        let y: Vec<Vec<f64>> = q.iter().map(|qt| at_times(a, cols, qt)).collect();
        let energy: f64 = y.iter().map(|v| norm2(v)).sum();
        if (energy - prev).abs() <= 1e-14 * total {
            break;
        }
        prev = energy;
        let z: Vec<Vec<f64>> = y.iter().map(|yt| a_times(a, rows, cols, yt)).collect();
        let next = orthonormalize(z);
        if next.is_empty() {
            break;
        }
        q = next;
    }
    let mut us = Vec::with_capacity(rank);
    let mut vs = Vec::with_capacity(rank);
    let mut e = a.to_vec();
    for qt in q {
        let y = at_times(a, cols, &qt);
        for (r, &qr) in qt.iter().enumerate() {
            let row = &mut e[r * cols..(r + 1) * cols];
            row.iter_mut().zip(&y).for_each(|(x, yv)| *x -= qr * yv);
        }
        let (mut u, mut v) = (qt, y);
        balance(&mut u, &mut v);
        us.push(u);
        vs.push(v);
    }
    let refined = Factors::padded(us, vs, (rows, cols, rank), &e);
    if refined.resid2 > start.resid2 {
        return start.clone();
    }
    refined
}

/// The Van Loan–Pitsianis rearrangement R(W) of W [m1·m2, n1·n2] for one factorization
/// `[m1, n1, m2, n2]` (W = A ⊗ B exactly when R(W) = vec(A)·vec(B)ᵀ), read row by row: the
/// rows (i1, j1) for i1 in `i1s`, the columns (i2, j2) for i2 in `i2s` (all of them for R(W)
/// itself; a subset selects the rearrangement of a row subset of W, a submatrix of R(W)).
pub struct Rearranged<'a> {
    w: &'a [f64],
    d_out: usize,
    m2: usize,
    n1: usize,
    n2: usize,
    i1s: Vec<usize>,
    i2s: Vec<usize>,
}

impl<'a> Rearranged<'a> {
    pub fn new(w: &'a [f64], d_out: usize, [m1, n1, m2, n2]: [usize; 4]) -> Rearranged<'a> {
        Rearranged {
            w,
            d_out,
            m2,
            n1,
            n2,
            i1s: (0..m1).collect(),
            i2s: (0..m2).collect(),
        }
    }

    /// About `target` entries of W: every s1-th i1 and s2-th i2, keeping W's row `keep`.
    pub fn thinned(&self, keep: usize, target: usize) -> Rearranged<'a> {
        let (m1, m2) = (self.i1s.len(), self.i2s.len());
        let elems = m1 * m2 * self.d_out;
        let ratio = elems.div_ceil(target.max(1)).max(1);
        let s1 = m1.min((ratio as f64).sqrt().ceil() as usize).max(1);
        let s2 = m2.min(ratio.div_ceil(s1)).max(1);
        let (k1, k2) = (keep / self.m2, keep % self.m2);
        Rearranged {
            i1s: self
                .i1s
                .iter()
                .copied()
                .filter(|i| i % s1 == k1 % s1)
                .collect(),
            i2s: self
                .i2s
                .iter()
                .copied()
                .filter(|i| i % s2 == k2 % s2)
                .collect(),
            ..*self
        }
    }

    /// The row holding W's entry (r, c) (its row r must be selected).
    pub fn row_of(&self, r: usize, c: usize) -> usize {
        let i1 = r / self.m2;
        let pos = self.i1s.iter().position(|&i| i == i1).unwrap_or(0);
        pos * self.n1 + c / self.n2
    }

    /// The squared norm of the selected rows of W.
    pub fn norm2(&self) -> f64 {
        let mut t = 0.0;
        for &i1 in &self.i1s {
            for &i2 in &self.i2s {
                let r = (i1 * self.m2 + i2) * self.d_out;
                t += norm2(&self.w[r..r + self.d_out]);
            }
        }
        t
    }
}

impl Rows for Rearranged<'_> {
    fn shape(&self) -> (usize, usize) {
        (self.i1s.len() * self.n1, self.i2s.len() * self.n2)
    }

    fn row(&self, r: usize, out: &mut [f64]) {
        let (i1, j1) = (self.i1s[r / self.n1], r % self.n1);
        for (t, &i2) in self.i2s.iter().enumerate() {
            let src = (i1 * self.m2 + i2) * self.d_out + j1 * self.n2;
            out[t * self.n2..(t + 1) * self.n2].copy_from_slice(&self.w[src..src + self.n2]);
        }
    }
}

/// Entries probed per factorization before the exact rank-1 fit.
const PROBES: usize = 8;
/// Slack of a probed 2×2 minor, relative to the largest entry squared.
const PROBE_RTOL: f64 = 1e-4;

/// A necessary test for R(W) (W read through `w`) to have rank one, on a few entries: every 2×2 minor through the
/// pivot (W's largest entry P, at `at`) vanishes, `R[r,c]·P = R[r,c_P]·R[r_P,c]`, within a
/// slack far above rounding. Rules most factorizations out in O(1).
pub fn probe_rank1(
    w: impl Fn(usize) -> f64,
    d_out: usize,
    [m1, n1, m2, n2]: [usize; 4],
    at: (usize, usize),
) -> bool {
    let (i1p, i2p, j1p, j2p) = (at.0 / m2, at.0 % m2, at.1 / n2, at.1 % n2);
    let get = |i1: usize, i2: usize, j1: usize, j2: usize| w((i1 * m2 + i2) * d_out + j1 * n2 + j2);
    let p = get(i1p, i2p, j1p, j2p);
    let mut rng = Rng::new(0x6b72_6f6e);
    (0..PROBES).all(|_| {
        let (i1, j1) = (rng.range(0, m1 - 1), rng.range(0, n1 - 1));
        let (i2, j2) = (rng.range(0, m2 - 1), rng.range(0, n2 - 1));
        let minor = get(i1, i2, j1, j2) * p - get(i1, i2p, j1, j2p) * get(i1p, i2, j1p, j2);
        minor.abs() <= PROBE_RTOL * p * p
    })
}

/// The position of the largest |entry| (the first one).
pub fn argmax_abs(n: usize, get: impl Fn(usize) -> f64) -> usize {
    let (mut big, mut at) = (0.0f64, 0);
    for k in 0..n {
        let v = get(k).abs();
        if v > big {
            big = v;
            at = k;
        }
    }
    at
}

/// Results of an analysis per constant tensor (by identity: the e-graph's constants are shared
/// `Arc`s), kept for the rule's lifetime. The key holds a reference, so no address is reused.
pub struct Memo<T> {
    map: Mutex<HashMap<usize, (Arc<Tensor>, T)>>,
}

impl<T: Clone> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Memo<T> {
    /// The memoized result for `t`, computing it with `f` the first time.
    pub fn get(&self, t: &Arc<Tensor>, f: impl FnOnce(&Tensor) -> T) -> T {
        let key = Arc::as_ptr(t) as usize;
        {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((k, v)) = map.get(&key)
                && Arc::ptr_eq(k, t)
            {
                return v.clone();
            }
        }
        let v = f(t);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(key, (t.clone(), v.clone()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng_vals(n: usize, seed: u64) -> Vec<f64> {
        let mut r = crate::verify::Rng::new(seed);
        r.normals(n)
    }

    /// A row-major `rows × cols` block `U·Vᵀ` of rank `rank`, from seeds `seed` and `seed + 1`.
    fn random_low_rank(rows: usize, cols: usize, rank: usize, seed: u64) -> Vec<f64> {
        let u = rng_vals(rows * rank, seed);
        let v = rng_vals(cols * rank, seed + 1);
        let mut a = vec![0.0; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                a[r * cols + c] = (0..rank).map(|t| u[r * rank + t] * v[c * rank + t]).sum();
            }
        }
        a
    }

    #[test]
    fn cross_is_exact_on_low_rank_blocks() {
        let (rows, cols, rank) = (9, 7, 3);
        let a = random_low_rank(rows, cols, rank, 1);
        let f = cross(&a, rows, cols, rank);
        assert!(f.resid2 <= 1e-20 * norm2(&a), "{}", f.resid2);
        let f2 = cross(&a, rows, cols, 2);
        let t = truncate(&a, rows, cols, 2, &f2, 100);
        assert!(t.resid2 <= f2.resid2);
    }

    #[test]
    fn minor_test_tells_low_rank_from_full() {
        let (rows, cols, rank) = (12, 10, 3);
        let a = random_low_rank(rows, cols, rank, 3);
        assert!(!minor_exceeds_rank(&a, rows, cols, rank, 1e-4));
        assert!(minor_exceeds_rank(&a, rows, cols, rank - 1, 1e-4));
        let full = rng_vals(rows * cols, 5);
        assert!(minor_exceeds_rank(&full, rows, cols, rank, 1e-4));
    }

    #[test]
    fn truncation_is_optimal_for_rank_one() {
        // diag(3, 2, 1): best rank-1 residual is 2² + 1² = 5.
        let a = [3.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0];
        let start = Factors {
            us: vec![vec![1.0, 1.0, 1.0]],
            vs: vec![vec![0.0; 3]],
            resid2: f64::INFINITY,
        };
        let t = truncate(&a, 3, 3, 1, &start, 200);
        assert!((t.resid2 - 5.0).abs() < 1e-9, "{}", t.resid2);
    }
}
