//! Symmetric eigen-decomposition: Householder tridiagonalization and implicit QL.

use super::dot;

/// Eigen-decomposition of a symmetric `n×n` matrix: eigenvalues in decreasing order and the
/// eigenvectors as rows of the second result. Householder tridiagonalization and the implicit
/// QL algorithm (EISPACK `tred2`/`tql2`, after JAMA), on the transposed storage so that the
/// inner loops run over contiguous memory.
pub fn sym_eigen(a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    eigen(a, n, true)
}

/// The eigenvalues of a symmetric `n×n` matrix in decreasing order (a third of the work of
/// [`sym_eigen`]).
pub fn sym_eigenvalues(a: Vec<f64>, n: usize) -> Vec<f64> {
    eigen(a, n, false).0
}

fn eigen(a: Vec<f64>, n: usize, vectors: bool) -> (Vec<f64>, Vec<f64>) {
    // w[c*n + r] holds JAMA's V[r][c]; `a` is symmetric, so it starts as its own transpose.
    let mut w = a;
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    if n == 0 {
        return (d, w);
    }
    tred2(&mut w, &mut d, &mut e, n, vectors);
    tql2(&mut w, &mut d, &mut e, n, vectors);
    // Sort decreasing; eigenvector j is column j of V, i.e. row j of w.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| d[y].total_cmp(&d[x]));
    let vals = order.iter().map(|&j| d[j]).collect();
    if !vectors {
        return (vals, Vec::new());
    }
    let mut vecs = vec![0.0; n * n];
    for (k, &j) in order.iter().enumerate() {
        vecs[k * n..(k + 1) * n].copy_from_slice(&w[j * n..(j + 1) * n]);
    }
    (vals, vecs)
}

fn tred2(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize, vectors: bool) {
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
    if !vectors {
        // The tridiagonal's diagonal is left on V's diagonal (the last entry is untouched).
        for (i, x) in d.iter_mut().enumerate() {
            *x = w[at(i, i)];
        }
        e[0] = 0.0;
        return;
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

fn tql2(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize, vectors: bool) {
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
                    if !vectors {
                        continue;
                    }
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
