//! One row times a matrix (`m = 1`: a fully-connected layer on a batch of one, a decoder
//! step): the matrix is streamed once, in its own layout, with no packing.
//!
//! Such a product is bound by reading the matrix. The `gemm` crate packs the matrix on every
//! call, which copies it and doubles the traffic: AlexNet's [9216, 4096] layer took 8.3–8.9 ms
//! through the crate against 5.1–5.8 ms in ONNX Runtime, on 2 threads.
//!
//! Two layouts are streamed: `b` rows contiguous (`b.cs == 1`: each row of `b` scaled by one
//! element of `a` and added to the sums) and `b` columns contiguous (`b.rs == 1`, a transposed
//! weight: each output is one dot product). Other strides go to the crate.

use super::geometry::Geometry;
use crate::cpu::jit::Width;
use crate::runtime::pool::Pool;

/// Outputs one task computes at a time: 16 KB of sums stay in L1 while the rows stream past.
const COLS_PER_STEP: usize = 4096;

/// Lanes of the dot products' partial sums (one 512-bit or two 256-bit registers a row).
const LANES: usize = 16;

/// Whether [`product_row`] handles `geo`: one of `b`'s strides is 1 and the other positive.
pub(super) fn applies(geo: &Geometry) -> bool {
    (geo.b.cs == 1 && geo.b.rs >= 1) || (geo.b.rs == 1 && geo.b.cs >= 1)
}

/// `c[0, 0..n] = alpha · a[0, 0..k] · b[0..k, 0..n]`, split over `pool`'s threads by columns.
///
/// # Safety
/// `a` addresses `k` floats at stride `geo.a.cs`, `b` the `k × n` matrix at `geo.b`'s strides,
/// `c` `n` writable floats; [`applies`] holds.
pub(super) unsafe fn product_row(
    geo: &Geometry,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    pool: Option<&Pool>,
) {
    let (n, k) = (geo.n, geo.k);
    // SAFETY: element i of the row is at a + i·cs (caller's contract).
    let row: Vec<f32> = (0..k)
        .map(|i| unsafe { *a.wrapping_offset(i as isize * geo.a.cs as isize) })
        .collect();
    let (b_addr, c_addr) = (b as usize, c as usize);
    let (rs, cs) = (geo.b.rs as usize, geo.b.cs as usize);
    let job = |lo: usize, hi: usize| {
        let mut j0 = lo;
        while j0 < hi {
            let j1 = (j0 + COLS_PER_STEP).min(hi);
            // SAFETY: tasks write disjoint column ranges of c; b is read only.
            let out =
                unsafe { std::slice::from_raw_parts_mut((c_addr as *mut f32).add(j0), j1 - j0) };
            let b = b_addr as *const f32;
            // SAFETY: columns j0..j1 of b, every row (caller's contract).
            unsafe {
                if cs == 1 {
                    axpy_rows(&row, b.add(j0), rs, out);
                } else {
                    dot_columns(&row, b.add(j0 * cs), cs, out);
                }
            }
            if geo.alpha != 1.0 {
                out.iter_mut().for_each(|v| *v *= geo.alpha);
            }
            j0 = j1;
        }
    };
    match pool {
        Some(p) if p.threads() > 1 => p.for_chunks(n, 256, &job),
        _ => job(0, n),
    }
}

/// `out[j] = Σ_i row[i] · b[i·rs + j]`, the rows of `b` streamed in order.
///
/// # Safety
/// `b + i·rs + j` is readable for every `i < row.len()`, `j < out.len()`.
unsafe fn axpy_rows(row: &[f32], b: *const f32, rs: usize, out: &mut [f32]) {
    match Width::host() {
        // SAFETY: the host has the features (detected by `Width::host`); forwarded.
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { axpy_rows_avx512(row, b, rs, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { axpy_rows_avx2(row, b, rs, out) },
        // SAFETY: forwarded.
        _ => unsafe { axpy_rows_any(row, b, rs, out) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn axpy_rows_avx512(row: &[f32], b: *const f32, rs: usize, out: &mut [f32]) {
    // SAFETY: forwarded.
    unsafe { axpy_rows_any(row, b, rs, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_rows_avx2(row: &[f32], b: *const f32, rs: usize, out: &mut [f32]) {
    // SAFETY: forwarded.
    unsafe { axpy_rows_any(row, b, rs, out) }
}

/// Four rows a pass, so the sums are loaded and stored once per four rows; each sum still
/// adds its terms in row order.
#[inline(always)]
unsafe fn axpy_rows_any(row: &[f32], b: *const f32, rs: usize, out: &mut [f32]) {
    let w = out.len();
    // SAFETY (every `from_raw_parts` below): row i of the block, `w` readable floats.
    let line = |i: usize| unsafe { std::slice::from_raw_parts(b.add(i * rs), w) };
    out.fill(0.0);
    let quads = row.len() / 4 * 4;
    for i in (0..quads).step_by(4) {
        let (r0, r1, r2, r3) = (line(i), line(i + 1), line(i + 2), line(i + 3));
        let (a0, a1, a2, a3) = (row[i], row[i + 1], row[i + 2], row[i + 3]);
        for j in 0..w {
            out[j] = out[j] + a0 * r0[j] + a1 * r1[j] + a2 * r2[j] + a3 * r3[j];
        }
    }
    for (i, &ai) in row.iter().enumerate().skip(quads) {
        for (o, &x) in out.iter_mut().zip(line(i)) {
            *o += ai * x;
        }
    }
}

/// `out[j] = Σ_i row[i] · b[j·cs + i]`: one dot product per output, over a contiguous column.
///
/// # Safety
/// `b + j·cs + i` is readable for every `i < row.len()`, `j < out.len()`.
unsafe fn dot_columns(row: &[f32], b: *const f32, cs: usize, out: &mut [f32]) {
    match Width::host() {
        // SAFETY: the host has the features (detected by `Width::host`); forwarded.
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { dot_columns_avx512(row, b, cs, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { dot_columns_avx2(row, b, cs, out) },
        // SAFETY: forwarded.
        _ => unsafe { dot_columns_any(row, b, cs, out) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_columns_avx512(row: &[f32], b: *const f32, cs: usize, out: &mut [f32]) {
    // SAFETY: forwarded.
    unsafe { dot_columns_any(row, b, cs, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_columns_avx2(row: &[f32], b: *const f32, cs: usize, out: &mut [f32]) {
    // SAFETY: forwarded.
    unsafe { dot_columns_any(row, b, cs, out) }
}

/// Four columns a pass share each load of `row`; each keeps [`LANES`] partial sums (lane `l`
/// adds the terms `i ≡ l` mod LANES in order), added up at the end.
#[inline(always)]
unsafe fn dot_columns_any(row: &[f32], b: *const f32, cs: usize, out: &mut [f32]) {
    let k = row.len();
    // SAFETY (every `from_raw_parts` below): column j, `k` readable floats.
    let col = |j: usize| unsafe { std::slice::from_raw_parts(b.add(j * cs), k) };
    let body = k / LANES * LANES;
    let quads = out.len() / 4 * 4;
    for j in (0..quads).step_by(4) {
        let (c0, c1, c2, c3) = (col(j), col(j + 1), col(j + 2), col(j + 3));
        let (mut s0, mut s1, mut s2, mut s3) =
            ([0.0f32; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
        let chunks = row[..body]
            .chunks_exact(LANES)
            .zip(c0.chunks_exact(LANES))
            .zip(c1.chunks_exact(LANES))
            .zip(c2.chunks_exact(LANES))
            .zip(c3.chunks_exact(LANES));
        for ((((a, x0), x1), x2), x3) in chunks {
            for l in 0..LANES {
                s0[l] += a[l] * x0[l];
                s1[l] += a[l] * x1[l];
                s2[l] += a[l] * x2[l];
                s3[l] += a[l] * x3[l];
            }
        }
        let tail = &row[body..];
        out[j] = finish(&s0, tail, &c0[body..]);
        out[j + 1] = finish(&s1, tail, &c1[body..]);
        out[j + 2] = finish(&s2, tail, &c2[body..]);
        out[j + 3] = finish(&s3, tail, &c3[body..]);
    }
    for (j, o) in out.iter_mut().enumerate().skip(quads) {
        let c = col(j);
        let mut acc = [0.0f32; LANES];
        for i in (0..body).step_by(LANES) {
            for l in 0..LANES {
                acc[l] += row[i + l] * c[i + l];
            }
        }
        *o = finish(&acc, &row[body..], &c[body..]);
    }
}

/// The lanes' sums plus the tail's terms.
#[inline(always)]
fn finish(acc: &[f32; LANES], row_tail: &[f32], col_tail: &[f32]) -> f32 {
    let lanes: f32 = acc.iter().sum();
    lanes
        + row_tail
            .iter()
            .zip(col_tail)
            .map(|(a, c)| a * c)
            .sum::<f32>()
}
