//! The one dense matrix-multiply routine of the interpreter: `C += A * B` on row-major slices
//! with row strides, cache-blocked and packed so that the 4x8 inner kernel works on contiguous
//! panels that LLVM auto-vectorizes. Used by MatMul, Gemm, Conv, ConvTranspose and the integer
//! matmuls; single-threaded, safe Rust.

/// An element the GEMM can multiply and accumulate.
///
/// Floats use plain `acc + a * b` (no fused multiply-add, so results do not depend on the
/// target); integers wrap, as ONNX integer matmuls do.
pub trait GemmElem: Copy + Default + Send + Sync + 'static {
    fn mul_add(acc: Self, a: Self, b: Self) -> Self;
    fn add(a: Self, b: Self) -> Self;
}

impl GemmElem for f32 {
    #[inline(always)]
    fn mul_add(acc: f32, a: f32, b: f32) -> f32 {
        acc + a * b
    }
    #[inline(always)]
    fn add(a: f32, b: f32) -> f32 {
        a + b
    }
}

impl GemmElem for f64 {
    #[inline(always)]
    fn mul_add(acc: f64, a: f64, b: f64) -> f64 {
        acc + a * b
    }
    #[inline(always)]
    fn add(a: f64, b: f64) -> f64 {
        a + b
    }
}

impl GemmElem for i32 {
    #[inline(always)]
    fn mul_add(acc: i32, a: i32, b: i32) -> i32 {
        acc.wrapping_add(a.wrapping_mul(b))
    }
    #[inline(always)]
    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
}

impl GemmElem for i64 {
    #[inline(always)]
    fn mul_add(acc: i64, a: i64, b: i64) -> i64 {
        acc.wrapping_add(a.wrapping_mul(b))
    }
    #[inline(always)]
    fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
}

/// Rows of the register tile.
const MR: usize = 4;
/// Columns of the register tile (two SSE vectors of f32).
const NR: usize = 8;
/// Depth of one packed block: an `MR x KC` A panel and a `KC x NR` B panel stay in L1.
const KC: usize = 256;
/// Rows of A packed at once (kept in L2).
const MC: usize = 128;
/// Columns of B packed at once.
const NC: usize = 2048;
/// Products with fewer rows than this skip packing (see `gemm`).
const AXPY_ROWS: usize = 3;

/// A row-major matrix view: element `(r, c)` is `data[r * row_stride + c]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub row_stride: usize,
}

/// A mutable row-major matrix view.
pub struct MatMut<'a, T> {
    pub data: &'a mut [T],
    pub row_stride: usize,
}

/// `c[m x n] += a[m x k] * b[k x n]`.
///
/// The views must cover their matrices (`(rows - 1) * row_stride + cols` elements at least);
/// a view that does not is a caller bug and panics on the slice bounds.
pub fn gemm<T: GemmElem>(m: usize, n: usize, k: usize, a: MatRef<T>, b: MatRef<T>, c: MatMut<T>) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let MatMut {
        data: c,
        row_stride: ldc,
    } = c;
    if m < AXPY_ROWS {
        // Too few rows to fill a register tile: stream B once per row instead of packing it.
        for i in 0..m {
            let c_row = &mut c[i * ldc..i * ldc + n];
            let a_row = &a.data[i * a.row_stride..i * a.row_stride + k];
            for (p, &av) in a_row.iter().enumerate() {
                let b_row = &b.data[p * b.row_stride..p * b.row_stride + n];
                for (dst, &bv) in c_row.iter_mut().zip(b_row) {
                    *dst = T::mul_add(*dst, av, bv);
                }
            }
        }
        return;
    }
    let mut packed_b = Vec::new();
    let mut packed_a = Vec::new();
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            pack_b(b, p0, kc, j0, nc, &mut packed_b);
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                pack_a(a, i0, mc, p0, kc, &mut packed_a);
                for (jt, b_panel) in packed_b.chunks_exact(kc * NR).enumerate() {
                    let j = j0 + jt * NR;
                    let cols = NR.min(n - j);
                    for (it, a_panel) in packed_a.chunks_exact(kc * MR).enumerate() {
                        let i = i0 + it * MR;
                        let rows = MR.min(m - i);
                        let tile = kernel(a_panel, b_panel);
                        for (r, tile_row) in tile.iter().enumerate().take(rows) {
                            let start = (i + r) * ldc + j;
                            for (dst, &v) in c[start..start + cols].iter_mut().zip(tile_row) {
                                *dst = T::add(*dst, v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `c[m x n] += a[m x k] * b^T`, where `b` is stored `n x k`: each element is a dot product
/// of two contiguous rows. Meant for few rows of `a`, where transposing `b` would cost more
/// than the product.
pub fn gemm_nt<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    c: MatMut<T>,
) {
    for i in 0..m {
        let a_row = &a.data[i * a.row_stride..i * a.row_stride + k];
        let c_row = &mut c.data[i * c.row_stride..i * c.row_stride + n];
        for (j, dst) in c_row.iter_mut().enumerate() {
            let b_row = &b.data[j * b.row_stride..j * b.row_stride + k];
            *dst = T::add(*dst, dot(a_row, b_row));
        }
    }
}

/// Lanes of the dot-product accumulator: independent partial sums LLVM keeps in vectors.
const DOT_LANES: usize = 16;

/// The dot product of two equal-length slices, summed in `DOT_LANES` interleaved partial sums.
fn dot<T: GemmElem>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::default(); DOT_LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
    let (a_tail, b_tail) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for l in 0..DOT_LANES {
            lanes[l] = T::mul_add(lanes[l], x[l], y[l]);
        }
    }
    let mut sum = T::default();
    for (&x, &y) in a_tail.iter().zip(b_tail) {
        sum = T::mul_add(sum, x, y);
    }
    lanes.into_iter().fold(sum, T::add)
}

/// The `MR x NR` product of one packed A panel (`kc` groups of `MR`) and one packed B panel
/// (`kc` groups of `NR`).
#[inline(always)]
fn kernel<T: GemmElem>(a_panel: &[T], b_panel: &[T]) -> [[T; NR]; MR] {
    let mut acc = [[T::default(); NR]; MR];
    for (a, b) in a_panel.chunks_exact(MR).zip(b_panel.chunks_exact(NR)) {
        for r in 0..MR {
            let av = a[r];
            for x in 0..NR {
                acc[r][x] = T::mul_add(acc[r][x], av, b[x]);
            }
        }
    }
    acc
}

/// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of A into panels of `MR` rows, each stored
/// column by column (`kc` groups of `MR`), zero-padding the last panel.
fn pack_a<T: GemmElem>(a: MatRef<T>, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut Vec<T>) {
    let panels = mc.div_ceil(MR);
    out.clear();
    out.resize(panels * kc * MR, T::default());
    for (it, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        for r in 0..MR.min(mc - it * MR) {
            let row_start = (i0 + it * MR + r) * a.row_stride + p0;
            let row = &a.data[row_start..row_start + kc];
            for (p, &v) in row.iter().enumerate() {
                panel[p * MR + r] = v;
            }
        }
    }
}

/// Packs rows `p0..p0+kc`, columns `j0..j0+nc` of B into panels of `NR` columns, each stored
/// row by row (`kc` groups of `NR`), zero-padding the last panel.
fn pack_b<T: GemmElem>(b: MatRef<T>, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut Vec<T>) {
    let panels = nc.div_ceil(NR);
    out.clear();
    out.resize(panels * kc * NR, T::default());
    for p in 0..kc {
        let row_start = (p0 + p) * b.row_stride + j0;
        let row = &b.data[row_start..row_start + nc];
        for (jt, chunk) in row.chunks(NR).enumerate() {
            let dst = (jt * kc + p) * NR;
            out[dst..dst + chunk.len()].copy_from_slice(chunk);
        }
    }
}

/// Row-major transpose of a `rows x cols` matrix.
pub fn transpose<T: Copy>(data: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(rows * cols);
    for c in 0..cols {
        out.extend((0..rows).map(|r| data[r * cols + c]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_product_on_ragged_sizes() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (5, 9, 3),
            (13, 17, 300),
            (130, 20, 7),
            (3, 2100, 5),
        ] {
            let a: Vec<f64> = (0..m * k).map(|x| ((x * 7) % 11) as f64 - 5.0).collect();
            let b: Vec<f64> = (0..k * n).map(|x| ((x * 5) % 13) as f64 - 6.0).collect();
            let mut c = vec![1.0; m * n];
            gemm(
                m,
                n,
                k,
                MatRef {
                    data: &a,
                    row_stride: k,
                },
                MatRef {
                    data: &b,
                    row_stride: n,
                },
                MatMut {
                    data: &mut c,
                    row_stride: n,
                },
            );
            let want: Vec<f64> = naive(m, n, k, &a, &b).iter().map(|x| x + 1.0).collect();
            assert_eq!(c, want, "m={m} n={n} k={k}");
        }
    }

    #[test]
    fn transposed_b_matches_the_packed_path() {
        let (m, n, k) = (3, 5, 37);
        let a: Vec<f64> = (0..m * k).map(|x| ((x * 7) % 11) as f64 - 5.0).collect();
        let b_t: Vec<f64> = (0..n * k).map(|x| ((x * 5) % 13) as f64 - 6.0).collect();
        let b = transpose(&b_t, n, k);
        let mut c = vec![0.0; m * n];
        gemm_nt(
            m,
            n,
            k,
            MatRef {
                data: &a,
                row_stride: k,
            },
            MatRef {
                data: &b_t,
                row_stride: k,
            },
            MatMut {
                data: &mut c,
                row_stride: n,
            },
        );
        assert_eq!(c, naive(m, n, k, &a, &b));
    }

    #[test]
    fn honours_row_strides() {
        // A is the left 2x2 block of a 2x3 buffer; C the right 2x2 block of a 2x4 buffer.
        let a = [1.0f32, 2.0, 99.0, 3.0, 4.0, 99.0];
        let b = [1.0f32, 0.0, 0.0, 1.0];
        let mut c = [0.0f32; 8];
        gemm(
            2,
            2,
            2,
            MatRef {
                data: &a,
                row_stride: 3,
            },
            MatRef {
                data: &b,
                row_stride: 2,
            },
            MatMut {
                data: &mut c[2..],
                row_stride: 4,
            },
        );
        assert_eq!(c, [0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn integers_wrap() {
        let a = [i32::MAX, 1];
        let b = [2, 0];
        let mut c = [0i32];
        gemm(
            1,
            1,
            2,
            MatRef {
                data: &a,
                row_stride: 2,
            },
            MatRef {
                data: &b,
                row_stride: 1,
            },
            MatMut {
                data: &mut c,
                row_stride: 1,
            },
        );
        assert_eq!(c, [-2]);
    }
}
