//! Dense linear algebra for finding structure in weights: exact low-rank factorization by
//! column-pivoted QR (modified Gram–Schmidt with early stop) and the truncated SVD through the
//! eigen-decomposition of the smaller Gram matrix. f64, row-major, no dependencies.
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
        let (p, &best) = norms
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))?;
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

/// The singular values of a matrix and the singular vectors of its smaller side.
#[derive(Clone, Debug)]
pub struct Svd {
    pub m: usize,
    pub n: usize,
    /// Singular values, largest first (`min(m, n)` of them).
    pub s: Vec<f64>,
    /// `‖A‖_F²`.
    pub total: f64,
    /// Row `i` is the `i`-th singular vector of the smaller side: right (length `n`) when
    /// `n <= m`, left (length `m`) otherwise.
    vectors: Vec<f64>,
}

impl Svd {
    /// Relative Frobenius error of the best rank-`r` approximation: `sqrt(Σ_{i>r} σᵢ²)/‖A‖_F`.
    pub fn error(&self, r: usize) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        let tail: f64 = self.s.iter().skip(r).map(|x| x * x).sum();
        (tail / self.total).sqrt().min(1.0)
    }

    /// The smallest rank whose best approximation is within `rel_tol`.
    pub fn rank_for(&self, rel_tol: f64) -> usize {
        // Tail sums from the smallest up, so each error costs O(1).
        let k = self.s.len();
        let mut tails = vec![0.0; k + 1];
        for i in (0..k).rev() {
            tails[i] = tails[i + 1] + self.s[i] * self.s[i];
        }
        let thresh = rel_tol * rel_tol * self.total;
        (0..=k).find(|&r| tails[r] <= thresh).unwrap_or(k)
    }

    /// The best rank-`r` approximation of `a` (the matrix this was computed from) as `U` [m×r]
    /// and `V` [r×n], row-major.
    pub fn factors(&self, a: &[f64], r: usize) -> (Vec<f64>, Vec<f64>) {
        let (m, n) = (self.m, self.n);
        let r = r.min(self.s.len());
        if n <= m {
            // A ≈ (A·V_r)·V_rᵀ.
            let v = self.vectors[..r * n].to_vec();
            let mut u = vec![0.0; m * r];
            for i in 0..m {
                let row = &a[i * n..(i + 1) * n];
                for k in 0..r {
                    u[i * r + k] = dot(row, &v[k * n..(k + 1) * n]);
                }
            }
            (u, v)
        } else {
            // A ≈ U_r·(U_rᵀ·A).
            let mut u = vec![0.0; m * r];
            let mut v = vec![0.0; r * n];
            for k in 0..r {
                let uk = &self.vectors[k * m..(k + 1) * m];
                let vk = &mut v[k * n..(k + 1) * n];
                for i in 0..m {
                    u[i * r + k] = uk[i];
                    axpy(uk[i], &a[i * n..(i + 1) * n], vk);
                }
            }
            (u, v)
        }
    }
}

/// The Gram matrix `B·Bᵀ` of `rows` contiguous rows of length `len` (symmetric, row-major).
fn gram(b: &[f64], rows: usize, len: usize) -> Vec<f64> {
    let mut g = vec![0.0; rows * rows];
    for p in 0..rows {
        let bp = &b[p * len..(p + 1) * len];
        for q in p..rows {
            let v = dot(bp, &b[q * len..(q + 1) * len]);
            g[p * rows + q] = v;
            g[q * rows + p] = v;
        }
    }
    g
}

/// The singular values of `A` [m×n] (row-major) and the singular vectors of its smaller side,
/// from which [`Svd::factors`] gives the best rank-`r` approximation and [`Svd::error`] its
/// error for any `r`. `O(m·n·min(m,n) + min(m,n)³)`; see the module's note on accuracy.
pub fn truncated_svd(a: &[f64], m: usize, n: usize) -> Option<Svd> {
    if a.len() != m * n || m == 0 || n == 0 || a.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let total = sq_norm(a);
    let (g, k) = if n <= m {
        (gram(&transpose(a, m, n), n, m), n)
    } else {
        (gram(a, m, n), m)
    };
    let (vals, vectors) = sym_eigen(g, k);
    let s = vals.iter().map(|&l| l.max(0.0).sqrt()).collect();
    Some(Svd {
        m,
        n,
        s,
        total,
        vectors,
    })
}

/// Eigen-decomposition of a symmetric `n×n` matrix: eigenvalues in decreasing order and the
/// eigenvectors as rows of the second result. Householder tridiagonalization and the implicit
/// QL algorithm (EISPACK `tred2`/`tql2`, after JAMA), on the transposed storage so that the
/// inner loops run over contiguous memory.
pub fn sym_eigen(a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    // w[c*n + r] holds JAMA's V[r][c]; `a` is symmetric, so it starts as its own transpose.
    let mut w = a;
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    if n == 0 {
        return (d, w);
    }
    tred2(&mut w, &mut d, &mut e, n);
    tql2(&mut w, &mut d, &mut e, n);
    // Sort decreasing; eigenvector j is column j of V, i.e. row j of w.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| d[y].total_cmp(&d[x]));
    let vals = order.iter().map(|&j| d[j]).collect();
    let mut vecs = vec![0.0; n * n];
    for (k, &j) in order.iter().enumerate() {
        vecs[k * n..(k + 1) * n].copy_from_slice(&w[j * n..(j + 1) * n]);
    }
    (vals, vecs)
}

fn tred2(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let at = |r: usize, c: usize| c * n + r;
    for j in 0..n {
        d[j] = w[at(n - 1, j)];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = w[at(i - 1, j)];
                w[at(i, j)] = 0.0;
                w[at(j, i)] = 0.0;
            }
        } else {
            for x in d[..i].iter_mut() {
                *x /= scale;
                h += *x * *x;
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].iter_mut().for_each(|x| *x = 0.0);
            for j in 0..i {
                f = d[j];
                w[at(j, i)] = f;
                g = e[j] + w[at(j, j)] * f;
                let col = &w[j * n..j * n + i];
                for k in j + 1..i {
                    g += col[k] * d[k];
                    e[k] += col[k] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                let col = &mut w[j * n..j * n + i];
                for k in j..i {
                    col[k] -= f * e[k] + g * d[k];
                }
                d[j] = w[at(i - 1, j)];
                w[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        w[at(n - 1, i)] = w[at(i, i)];
        w[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = w[at(k, i + 1)] / h;
            }
            for j in 0..=i {
                let (left, right) = w.split_at_mut((i + 1) * n);
                let next = &right[..=i];
                let col = &mut left[j * n..j * n + i + 1];
                let g = dot(next, col);
                for k in 0..=i {
                    col[k] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            w[at(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = w[at(n - 1, j)];
        w[at(n - 1, j)] = 0.0;
    }
    w[at(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

fn tql2(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n {
            if e[m].abs() <= eps * tst1 {
                break;
            }
            m += 1;
        }
        let m = m.min(n - 1);
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in d[l + 2..n].iter_mut() {
                    *x -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (lo, hi) = w.split_at_mut((i + 1) * n);
                    let vi = &mut lo[i * n..];
                    let vi1 = &mut hi[..n];
                    for k in 0..n {
                        let h = vi1[k];
                        vi1[k] = s * vi[k] + c * h;
                        vi[k] = c * vi[k] - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 || iter >= 60 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Rng;

    /// A matrix with orthonormal columns [rows×cols] (MGS of a random matrix), row-major.
    fn orthonormal(rng: &mut Rng, rows: usize, cols: usize) -> Vec<f64> {
        let mut t = rng.normals(rows * cols); // column-major while building
        for c in 0..cols {
            for _ in 0..2 {
                for p in 0..c {
                    let (done, cur) = t.split_at_mut(c * rows);
                    let b = &done[p * rows..(p + 1) * rows];
                    let x = dot(cur, b);
                    axpy(-x, b, &mut cur[..rows]);
                }
            }
            let col = &mut t[c * rows..(c + 1) * rows];
            let nrm = sq_norm(col).sqrt();
            col.iter_mut().for_each(|x| *x /= nrm);
        }
        transpose(&t, cols, rows)
    }

    /// `Q1·diag(s)·Q2ᵀ` [m×n] with the given singular values.
    fn with_singular_values(rng: &mut Rng, m: usize, n: usize, s: &[f64]) -> Vec<f64> {
        let k = s.len();
        let q1 = orthonormal(rng, m, k);
        let q2 = orthonormal(rng, n, k);
        let mut us = q1.clone();
        for i in 0..m {
            for j in 0..k {
                us[i * k + j] *= s[j];
            }
        }
        matmul(&us, &transpose(&q2, n, k), m, k, n)
    }

    #[test]
    fn low_rank_finds_the_exact_rank() {
        let mut rng = Rng::new(1);
        for &(m, n, r) in &[(40, 30, 3), (30, 50, 7), (64, 64, 1), (20, 20, 19)] {
            let u = rng.normals(m * r);
            let v = rng.normals(r * n);
            let a = matmul(&u, &v, m, r, n);
            let (k, fu, fv) = low_rank(&a, m, n, 1e-9, m.min(n)).expect("finds it");
            assert_eq!(k, r, "{m}x{n} rank {r}");
            assert!(rel_residual(&a, m, n, &fu, &fv, k) <= 1e-9);
            assert!(low_rank(&a, m, n, 1e-9, r - 1).is_none());
        }
    }

    #[test]
    fn low_rank_of_full_rank_and_zero() {
        let mut rng = Rng::new(2);
        let a = rng.normals(30 * 20);
        assert!(low_rank(&a, 30, 20, 1e-6, 19).is_none());
        let (k, u, v) = low_rank(&a, 30, 20, 1e-6, 20).expect("full rank always fits");
        assert_eq!(k, 20);
        assert!(rel_residual(&a, 30, 20, &u, &v, k) <= 1e-6);
        let z = vec![0.0; 12];
        assert_eq!(low_rank(&z, 3, 4, 1e-6, 2).map(|x| x.0), Some(0));
    }

    #[test]
    fn low_rank_tolerance_is_relative_frobenius() {
        let mut rng = Rng::new(3);
        let s = [10.0, 5.0, 1e-3, 1e-4];
        let a = with_singular_values(&mut rng, 25, 18, &s);
        let norm = s.iter().map(|x| x * x).sum::<f64>().sqrt();
        // The best rank-2 error is ‖(1e-3, 1e-4)‖ / ‖A‖ ≈ 8.96e-5.
        let r2 = ((1e-6 + 1e-8) as f64).sqrt() / norm;
        let (k, _, _) = low_rank(&a, 25, 18, 2.0 * r2, 18).unwrap();
        assert_eq!(k, 2);
        let (k, _, _) = low_rank(&a, 25, 18, 1e-9, 18).unwrap();
        assert_eq!(k, 4);
    }

    #[test]
    fn svd_recovers_known_singular_values() {
        let mut rng = Rng::new(4);
        for &(m, n) in &[(40, 25), (25, 40), (16, 16)] {
            let s: Vec<f64> = (0..12).map(|i| 2f64.powi(-i)).collect();
            let a = with_singular_values(&mut rng, m, n, &s);
            let svd = truncated_svd(&a, m, n).unwrap();
            assert_eq!(svd.s.len(), m.min(n));
            for (got, want) in svd.s.iter().zip(&s) {
                assert!((got - want).abs() <= 1e-9, "{m}x{n}: {got} vs {want}");
            }
            for x in &svd.s[12..] {
                assert!(x.abs() < 1e-7);
            }
            let norm: f64 = s.iter().map(|x| x * x).sum::<f64>().sqrt();
            for r in [0, 1, 3, 6, 12] {
                let tail: f64 = s[r..].iter().map(|x| x * x).sum::<f64>().sqrt() / norm;
                assert!((svd.error(r) - tail).abs() < 1e-7, "error({r})");
                let (u, v) = svd.factors(&a, r);
                let got = rel_residual(&a, m, n, &u, &v, r);
                assert!((got - tail).abs() < 1e-7, "{m}x{n} rank {r}: {got} vs {tail}");
            }
            assert_eq!(svd.rank_for(0.6), 1);
            let e3 = svd.error(3);
            assert_eq!(svd.rank_for(e3 * 1.0001), 3);
        }
    }

    #[test]
    fn eigen_of_a_small_symmetric_matrix() {
        // [[2,1],[1,2]]: eigenvalues 3 and 1, vectors (1,1)/√2 and (1,-1)/√2.
        let (vals, vecs) = sym_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
        assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12);
        assert!((vecs[0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
        assert!((vecs[0] - vecs[1]).abs() < 1e-12);
        assert!((vecs[2] + vecs[3]).abs() < 1e-12);
        let (vals, _) = sym_eigen(vec![5.0], 1);
        assert_eq!(vals, vec![5.0]);
    }

    /// Timing of the two entry points on a 2048×512 weight (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn timing_2048x512() {
        let mut rng = Rng::new(5);
        let (m, n, r) = (2048, 512, 16);
        let u = rng.normals(m * r);
        let v = rng.normals(r * n);
        let a = matmul(&u, &v, m, r, n);
        let t = std::time::Instant::now();
        let (k, _, _) = low_rank(&a, m, n, 1e-6, 409).unwrap();
        println!("low_rank rank {k}: {:?}", t.elapsed());
        let full = rng.normals(m * n);
        let t = std::time::Instant::now();
        assert!(low_rank(&full, m, n, 1e-6, 409).is_none());
        println!("low_rank full rank rejected: {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let svd = truncated_svd(&full, m, n).unwrap();
        println!("truncated_svd: {:?} (s1 {:.3})", t.elapsed(), svd.s[0]);
        let t = std::time::Instant::now();
        let _ = svd.factors(&full, 64);
        println!("factors rank 64: {:?}", t.elapsed());
    }
}
