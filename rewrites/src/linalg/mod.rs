//! Dense linear algebra for finding structure in weights: exact low-rank factorization by
//! pivoted QR (modified Gram–Schmidt with early stop, [`low_rank`]), behind a sampled screen
//! that rejects full-rank matrices cheaply ([`find_low_rank`]), and the truncated SVD through
//! the eigen-decomposition of the smaller Gram matrix ([`truncated_svd`]). f64, row-major, no
//! dependencies.
//!
//! Accuracy of [`truncated_svd`]: the squared singular values are eigenvalues of `AᵀA` (or
//! `AAᵀ`), computed by Householder tridiagonalization and the implicit QL algorithm, which are
//! backward stable: each eigenvalue is within about `n·ε·σ₁²` of the truth. The error
//! [`Svd::error`] reports for a rank `r` is `sqrt(Σ_{i>r} σᵢ²) / ‖A‖_F`, so it is exact to about
//! `sqrt(n·ε)·σ₁/‖A‖_F ≈ 1e-7` (absolute, relative to ‖A‖_F); singular values below
//! `sqrt(n·ε)·σ₁` are not resolved, which only matters for tolerances under ~1e-6. The
//! factors of [`Svd::factors`] are `A` projected on the top singular subspace, the
//! Eckart–Young best rank-`r` approximation up to that accuracy; callers that need a certified
//! error measure it with [`rel_residual`].

/// Dot product with independent partial sums (vectorizes; no reassociation needed).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = 0.0;
    for k in chunks * 8..n {
        s += a[k] * b[k];
    }
    s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// `y += alpha · x`.
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Squared Frobenius norm.
pub fn sq_norm(a: &[f64]) -> f64 {
    dot(a, a)
}

/// The transpose of a row-major `m×n` matrix (row-major `n×m`).
pub fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut t = vec![0.0; m * n];
    const B: usize = 32;
    for i0 in (0..m).step_by(B) {
        for j0 in (0..n).step_by(B) {
            for i in i0..(i0 + B).min(m) {
                for j in j0..(j0 + B).min(n) {
                    t[j * m + i] = a[i * n + j];
                }
            }
        }
    }
    t
}

/// `U·V` for row-major `U` [m×r] and `V` [r×n].
pub fn matmul(u: &[f64], v: &[f64], m: usize, r: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        let row = &mut out[i * n..(i + 1) * n];
        for k in 0..r {
            axpy(u[i * r + k], &v[k * n..(k + 1) * n], row);
        }
    }
    out
}

/// Orthonormalizes the `r` rows (length `n`) of `a` in place by modified Gram–Schmidt, twice
/// (rows that are dependent become zero).
pub fn orthonormalize_rows(a: &mut [f64], r: usize, n: usize) {
    for k in 0..r {
        let (done, rest) = a.split_at_mut(k * n);
        let row = &mut rest[..n];
        for _ in 0..2 {
            for p in 0..k {
                let b = &done[p * n..(p + 1) * n];
                let c = dot(row, b);
                axpy(-c, b, row);
            }
        }
        let nrm = sq_norm(row).sqrt();
        let inv = if nrm > 0.0 { 1.0 / nrm } else { 0.0 };
        row.iter_mut().for_each(|x| *x *= inv);
    }
}

/// `‖A − U·V‖_F / ‖A‖_F` (0 for a zero `A` that `U·V` reproduces).
pub fn rel_residual(a: &[f64], m: usize, n: usize, u: &[f64], v: &[f64], r: usize) -> f64 {
    let mut num = 0.0;
    let mut row = vec![0.0; n];
    for i in 0..m {
        row.copy_from_slice(&a[i * n..(i + 1) * n]);
        for k in 0..r {
            axpy(-u[i * r + k], &v[k * n..(k + 1) * n], &mut row);
        }
        num += sq_norm(&row);
    }
    let den = sq_norm(a);
    if den == 0.0 {
        return if num == 0.0 { 0.0 } else { f64::INFINITY };
    }
    (num / den).sqrt()
}

/// The smallest `r <= max_rank` with `‖A − U·V‖_F <= rel_tol·‖A‖_F`, with `U` [m×r] and `V`
/// [r×n] (row-major), or `None` when there is none.
///
/// Row-pivoted modified Gram–Schmidt: each step takes the residual row of largest norm as the
/// next basis vector of the row space (re-orthogonalized against the previous ones), removes
/// it from every row and stops as soon as the residual is within tolerance: `O(m·n·r)`. The
/// residual it tracks is `A − U·V` itself (each row's coefficients are recorded as they are
/// removed), recomputed exactly every step, so the tolerance holds whatever the orthogonality
/// of the basis. `V`'s rows are orthonormal.
pub fn low_rank(
    a: &[f64],
    m: usize,
    n: usize,
    rel_tol: f64,
    max_rank: usize,
) -> Option<(usize, Vec<f64>, Vec<f64>)> {
    if a.len() != m * n || a.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let total = sq_norm(a);
    let thresh = rel_tol * rel_tol * total;
    let mut res = a.to_vec();
    let mut norms: Vec<f64> = (0..m).map(|i| sq_norm(&res[i * n..(i + 1) * n])).collect();
    let mut resid = total;
    let mut basis: Vec<f64> = Vec::new();
    let mut coef: Vec<f64> = Vec::new(); // step-major: coef[k*m + i]
    let mut q = vec![0.0; n];
    let mut k = 0;
    loop {
        if resid <= thresh {
            let mut u = vec![0.0; m * k];
            for s in 0..k {
                for i in 0..m {
                    u[i * k + s] = coef[s * m + i];
                }
            }
            return Some((k, u, basis));
        }
        if k >= max_rank || k >= m.min(n) {
            return None;
        }
        let (p, &best) = norms.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1))?;
        if best <= 0.0 {
            return None;
        }
        q.copy_from_slice(&res[p * n..(p + 1) * n]);
        // Twice is enough: re-orthogonalize against the basis, then normalize.
        for _ in 0..2 {
            for s in 0..k {
                let b = &basis[s * n..(s + 1) * n];
                let c = dot(&q, b);
                axpy(-c, b, &mut q);
            }
        }
        let qn = sq_norm(&q).sqrt();
        if qn == 0.0 || !qn.is_finite() {
            return None;
        }
        q.iter_mut().for_each(|x| *x /= qn);
        resid = 0.0;
        for i in 0..m {
            let row = &mut res[i * n..(i + 1) * n];
            let c = dot(row, &q);
            axpy(-c, &q, row);
            norms[i] = sq_norm(row);
            resid += norms[i];
            coef.push(c);
        }
        basis.extend_from_slice(&q);
        k += 1;
    }
}

/// Largest rank the sampled screen of [`find_low_rank`] can rule out, hence the largest rank
/// it finds on large matrices: `cbrt(m·n/2)` within `[16, 128]` (66 for 768×768, 80 for
/// 2048×512, 128 from 4096×1024 up). The screen costs `~6·s³` flops, about `3·m·n`.
pub fn screen_side(m: usize, n: usize) -> usize {
    ((m as f64 * n as f64 / 2.0).cbrt() as usize).clamp(16, 128)
}

/// Matrices this small skip the screen: [`low_rank`] on them is cheap whatever the answer.
const SCREEN_MIN_ELEMS: usize = 1 << 14;

/// How much looser than `rel_tol` (relative to the block) the sampled block may be and still
/// pass the screen: covers pivoted QR's residual exceeding the optimum's and noise that falls
/// unevenly on the block.
const SCREEN_MARGIN: f64 = 10.0;

/// [`low_rank`] behind a cheap screen, for deciding whether weights are exactly low-rank when
/// most are not: rejecting a full-rank 2048×512 matrix by [`low_rank`] alone costs `m·n·max_rank`
/// (~0.5 s), the screen ~10 ms.
///
/// The screen runs [`low_rank`] on a pseudo-random block of `t+1` columns (rows, for a wide
/// matrix) by up to `2(t+1)` rows (columns), `t = min(max_rank, screen_side(m, n))`, at
/// `SCREEN_MARGIN·rel_tol` relative to the block. A matrix within `rel_tol` of rank `r` has
/// blocks of rank `r` up to noise of about the same relative size, so an exactly low-rank
/// matrix passes and then gets the full search. A block that fails shows (heuristically) that
/// the rank exceeds `t`; when `t < max_rank`, ranks in `(t, max_rank]` are therefore not
/// searched for on matrices that large (see [`screen_side`]). The screen only ever rejects: what is returned is always [`low_rank`]'s verified
/// factorization of the whole matrix.
pub fn find_low_rank(
    a: &[f64],
    m: usize,
    n: usize,
    rel_tol: f64,
    max_rank: usize,
) -> Option<(usize, Vec<f64>, Vec<f64>)> {
    if !screen(m, n, rel_tol, max_rank, |i, j| a[i * n + j]) {
        return None;
    }
    low_rank(a, m, n, rel_tol, max_rank)
}

/// The screen of [`find_low_rank`] on an `m×n` matrix read through `at(i, j)`: false when a
/// sampled block shows a rank above `min(max_rank, screen_side(m, n))`; true for matrices
/// under 2¹⁴ elements, on which [`low_rank`] is cheap whatever the answer.
pub fn screen(
    m: usize,
    n: usize,
    rel_tol: f64,
    max_rank: usize,
    at: impl Fn(usize, usize) -> f64,
) -> bool {
    let t = max_rank.min(screen_side(m, n));
    if m * n < SCREEN_MIN_ELEMS || t + 1 > m.min(n) {
        return true;
    }
    let (long, short) = ((2 * (t + 1)).min(m.max(n)), t + 1);
    let (p, q) = if m >= n { (long, short) } else { (short, long) };
    let rows = sample(m, p, 0x5EED ^ ((m as u64) << 20) ^ n as u64);
    let cols = sample(n, q, 0xC015 ^ ((n as u64) << 20) ^ m as u64);
    let mut block = Vec::with_capacity(p * q);
    for &i in &rows {
        block.extend(cols.iter().map(|&j| at(i, j)));
    }
    let bnorm = sq_norm(&block).sqrt();
    if bnorm == 0.0 || !bnorm.is_finite() {
        return true;
    }
    let tol = (SCREEN_MARGIN * rel_tol).min(1.0);
    low_rank(&block, p, q, tol, t).is_some()
}

/// SplitMix64: deterministic pseudo-random bits.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `count` distinct indices below `total`, pseudo-random from `seed`, sorted.
fn sample(total: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..total).collect();
    let mut state = seed;
    for k in 0..count.min(total) {
        let j = k + (splitmix(&mut state) % (total - k) as u64) as usize;
        idx.swap(k, j);
    }
    idx.truncate(count.min(total));
    idx.sort_unstable();
    idx
}

mod eigen;
mod svd;
#[cfg(test)]
mod tests;

pub use eigen::{sym_eigen, sym_eigenvalues};
pub use svd::{Svd, truncated_svd};
