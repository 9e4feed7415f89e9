//! The truncated SVD through the eigen-decomposition of the smaller Gram matrix.

use super::*;

/// The singular values of a matrix, with what it takes to form its best approximation of any
/// rank: the Gram matrix of its smaller side.
#[derive(Clone, Debug)]
pub struct Svd {
    pub m: usize,
    pub n: usize,
    /// Singular values, largest first (`min(m, n)` of them).
    pub s: Vec<f64>,
    /// `‖A‖_F²`.
    pub total: f64,
    /// `AᵀA` when `n <= m`, else `AAᵀ` (row-major, `min(m, n)` square).
    gram: Vec<f64>,
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
    /// and `V` [r×n], row-major: `A` projected on its top `r` singular vectors of the smaller
    /// side (eigenvectors of the Gram matrix, see [`Svd::top_vectors`]), plus `O(m·n·r)`.
    pub fn factors(&self, a: &[f64], r: usize) -> (Vec<f64>, Vec<f64>) {
        let (m, n) = (self.m, self.n);
        let r = r.min(self.s.len());
        let vectors = self.top_vectors(r);
        if n <= m {
            // A ≈ (A·V_r)·V_rᵀ.
            let mut u = vec![0.0; m * r];
            for i in 0..m {
                let row = &a[i * n..(i + 1) * n];
                for k in 0..r {
                    u[i * r + k] = dot(row, &vectors[k * n..(k + 1) * n]);
                }
            }
            (u, vectors)
        } else {
            // A ≈ U_r·(U_rᵀ·A).
            let mut u = vec![0.0; m * r];
            let mut v = vec![0.0; r * n];
            for k in 0..r {
                let uk = &vectors[k * m..(k + 1) * m];
                let vk = &mut v[k * n..(k + 1) * n];
                for i in 0..m {
                    u[i * r + k] = uk[i];
                    axpy(uk[i], &a[i * n..(i + 1) * n], vk);
                }
            }
            (u, v)
        }
    }

    /// The top `r` eigenvectors of the Gram matrix, as rows. While `r` is small next to its
    /// size: subspace iteration with Rayleigh–Ritz on `r + r/2 + 8` vectors, `O(k²·r)` per step,
    /// until the energy the top `r` capture is within `1e-3` of the tail the known eigenvalues
    /// leave (so the approximation's squared error is within 0.1% of the optimum), at most 64
    /// steps; otherwise, or failing that, the full eigen-decomposition, `O(k³)`.
    pub fn top_vectors(&self, r: usize) -> Vec<f64> {
        let k = self.s.len();
        let b = (r + r / 2 + 8).min(k);
        if 4 * b <= k {
            let target: f64 = self.s[..r].iter().map(|x| x * x).sum();
            let tail: f64 = self.s[r..].iter().map(|x| x * x).sum();
            let slack = 1e-3 * tail + 1e-10 * self.total;
            let mut state = 0x70B5_u64 ^ k as u64;
            let mut z: Vec<f64> = (0..b * k)
                .map(|_| (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
                .collect();
            orthonormalize_rows(&mut z, b, k);
            for _ in 0..64 {
                let y = matmul(&z, &self.gram, b, k, k); // rows G·zᵢ (G is symmetric)
                let mut t = vec![0.0; b * b];
                for i in 0..b {
                    for j in i..b {
                        let v = dot(&z[i * k..(i + 1) * k], &y[j * k..(j + 1) * k]);
                        t[i * b + j] = v;
                        t[j * b + i] = v;
                    }
                }
                let (theta, w) = sym_eigen(t, b);
                if theta[..r].iter().sum::<f64>() >= target - slack {
                    return matmul(&w[..r * b], &z, r, b, k);
                }
                z = matmul(&w, &y, b, b, k);
                orthonormalize_rows(&mut z, b, k);
            }
        }
        let (_, vectors) = sym_eigen(self.gram.clone(), k);
        vectors[..r * k].to_vec()
    }
}

/// Four dot products at once, `(x0·y0, x0·y1, x1·y0, x1·y1)`: each load feeds two products.
fn dot2x2(x0: &[f64], x1: &[f64], y0: &[f64], y1: &[f64]) -> [f64; 4] {
    let n = x0.len();
    let mut acc = [[0.0f64; 4]; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let r = c * 4..c * 4 + 4;
        let (a, b, p, q) = (&x0[r.clone()], &x1[r.clone()], &y0[r.clone()], &y1[r]);
        for l in 0..4 {
            acc[0][l] += a[l] * p[l];
            acc[1][l] += a[l] * q[l];
            acc[2][l] += b[l] * p[l];
            acc[3][l] += b[l] * q[l];
        }
    }
    let mut out = [0.0; 4];
    for (o, a) in out.iter_mut().zip(&acc) {
        *o = (a[0] + a[2]) + (a[1] + a[3]);
    }
    for k in chunks * 4..n {
        out[0] += x0[k] * y0[k];
        out[1] += x0[k] * y1[k];
        out[2] += x1[k] * y0[k];
        out[3] += x1[k] * y1[k];
    }
    out
}

/// The Gram matrix `B·Bᵀ` of `rows` contiguous rows of length `len` (symmetric, row-major).
fn gram(b: &[f64], rows: usize, len: usize) -> Vec<f64> {
    let mut g = vec![0.0; rows * rows];
    let row = |p: usize| &b[p * len..(p + 1) * len];
    let mut set = |p: usize, q: usize, v: f64| {
        g[p * rows + q] = v;
        g[q * rows + p] = v;
    };
    // Tiles of 64 rows keep the rows one tile reads in cache.
    const T: usize = 64;
    for p0 in (0..rows).step_by(T) {
        for q0 in (p0..rows).step_by(T) {
            for p in (p0..(p0 + T).min(rows)).step_by(2) {
                let q_start = if q0 == p0 { p } else { q0 };
                let q_end = (q0 + T).min(rows);
                let mut q = q_start;
                while q < q_end {
                    if p + 1 < rows && q + 1 < q_end {
                        let v = dot2x2(row(p), row(p + 1), row(q), row(q + 1));
                        set(p, q, v[0]);
                        set(p, q + 1, v[1]);
                        set(p + 1, q, v[2]);
                        set(p + 1, q + 1, v[3]);
                        q += 2;
                    } else {
                        set(p, q, dot(row(p), row(q)));
                        if p + 1 < rows {
                            set(p + 1, q, dot(row(p + 1), row(q)));
                        }
                        q += 1;
                    }
                }
            }
        }
    }
    g
}

/// The singular values of `A` [m×n] (row-major), from which [`Svd::error`] gives the error of
/// the best rank-`r` approximation for any `r` and [`Svd::factors`] the approximation itself.
/// `O(m·n·min(m,n) + min(m,n)³)`; see the module's note on accuracy.
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
    let vals = sym_eigenvalues(g.clone(), k);
    let s = vals.iter().map(|&l| l.max(0.0).sqrt()).collect();
    Some(Svd {
        m,
        n,
        s,
        total,
        gram: g,
    })
}
