//! The Monarch layouts of a square weight and the matrix a layout's factors define.
//!
//! Definition (row-major, x [N, n], n = b·s, L's blocks of size t, g = n/t of them):
//! ```text
//! u[N,k,j]  = Σ_i x[N, k·s+i] · R[k,i,j]        R: b blocks of s×s
//! m         = j·b + k                           P: the transpose of the (b, s) grid
//! v[N,l,c]  = Σ_i' u[N, m = l·t+i'] · L[l,i',c] L: g blocks of t×t
//! y[N, c·g+l] = v[N,l,c]                        output: the transpose of the (g, t) grid
//! ```
//! so `W[k·s+i, c·g+l] = Σ_m R[k,i,j_m] · L[l,i'_m,c]` over the links m of block (k, l):
//! the intermediate indices with `m = j·b+k = l·t+i'`. Each link belongs to exactly one
//! block, and a block's links own their own columns of R and rows of L, so W has this layout
//! exactly when every s×t block (k, l) has rank at most its number of links.
//!
//! Two layouts are the ones in use: t = b, the square-grid form of Dao et al. (`M = P L Pᵀ R`,
//! one link per block: rank-1 slices; n·(s+b) multiply-adds per row, 12.8× fewer than dense
//! for 16 blocks of 64), and t = s, the form of a Monarch layer with b blocks in both factors
//! (⌈s/b⌉ links per block; 2·n·s multiply-adds, b/2 times fewer).

/// A Monarch layout of an n×n weight: R has `b` blocks of `s`×`s`, L has n/`t` blocks of
/// `t`×`t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub b: usize,
    pub s: usize,
    pub t: usize,
}

impl Layout {
    pub fn n(&self) -> usize {
        self.b * self.s
    }

    /// The number of L's blocks.
    pub fn g(&self) -> usize {
        self.n() / self.t
    }

    /// Multiply-adds per row of x: n·s for R, n·t for L.
    pub fn macs_per_row(&self) -> usize {
        self.n() * (self.s + self.t)
    }

    /// The links of block (k, l) as (j, i') pairs: m = j·b+k = l·t+i'.
    pub fn links(&self, k: usize, l: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let Layout { b, t, .. } = *self;
        let lo = l * t;
        let first = lo + (k + b - lo % b) % b;
        (first..lo + t).step_by(b).map(move |m| (m / b, m % t))
    }

    /// Block (k, l) of a row-major W read through `w`: rows k·s+i, columns c·g+l, as a
    /// row-major s×t block.
    pub fn gather(&self, w: impl Fn(usize) -> f64, (k, l): (usize, usize), out: &mut [f64]) {
        let (n, g, s, t) = (self.n(), self.g(), self.s, self.t);
        for i in 0..s {
            for c in 0..t {
                out[i * t + c] = w((k * s + i) * n + c * g + l);
            }
        }
    }
}

/// `W = monarch(I; R, L)`, row-major [n, n], for R [b, s, s] and L [n/t, t, t].
pub fn monarch_matrix(r: &[f64], l: &[f64], lay: Layout) -> Vec<f64> {
    let Layout { b, s, t } = lay;
    let (n, g) = (lay.n(), lay.g());
    let mut w = vec![0.0; n * n];
    for k in 0..b {
        for i in 0..s {
            let row = &mut w[(k * s + i) * n..(k * s + i + 1) * n];
            for j in 0..s {
                let rv = r[(k * s + i) * s + j];
                let m = j * b + k;
                let (lb, ip) = (m / t, m % t);
                for c in 0..t {
                    row[c * g + lb] += rv * l[(lb * t + ip) * t + c];
                }
            }
        }
    }
    w
}

/// Every layout of an n×n weight whose application takes at most half the dense FLOPs
/// (s + t <= n/2) and whose factorization (about n·s·t multiply-adds) stays within
/// `max_work`, cheapest first.
pub fn candidates(n: usize, max_work: usize) -> Vec<Layout> {
    let divisors: Vec<usize> = (2..n).filter(|&d| n.is_multiple_of(d)).collect();
    let mut out: Vec<Layout> = divisors
        .iter()
        .flat_map(|&b| divisors.iter().map(move |&t| Layout { b, s: n / b, t }))
        .filter(|l| l.s >= 2 && 2 * (l.s + l.t) <= n && n * l.s * l.t <= max_work)
        .collect();
    out.sort_by_key(|l| (l.s + l.t, l.s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every intermediate index is the link of exactly one block.
    #[test]
    fn links_partition_the_intermediate() {
        for lay in [
            Layout { b: 4, s: 8, t: 4 },
            Layout { b: 4, s: 8, t: 8 },
            Layout { b: 8, s: 4, t: 2 },
            Layout {
                b: 16,
                s: 64,
                t: 16,
            },
        ] {
            let mut seen = vec![0usize; lay.n()];
            for k in 0..lay.b {
                for l in 0..lay.g() {
                    for (j, ip) in lay.links(k, l) {
                        assert_eq!(j * lay.b + k, l * lay.t + ip, "{lay:?}");
                        seen[j * lay.b + k] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{lay:?}");
        }
    }

    /// With t = b (the square-grid form) every block has one link: rank-1 slices.
    #[test]
    fn square_grid_form_has_rank_one_blocks() {
        let lay = Layout {
            b: 16,
            s: 64,
            t: 16,
        };
        for k in 0..lay.b {
            for l in 0..lay.g() {
                assert_eq!(lay.links(k, l).count(), 1);
            }
        }
        let dense = (lay.n() * lay.n()) as f64;
        assert_eq!(dense / lay.macs_per_row() as f64, 12.8);
    }
}
