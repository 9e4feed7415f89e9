//! The `Library` path: one block of rows of one item through the `gemm` crate's packed
//! microkernels (AVX-512 / AVX2 / FMA chosen by the crate at run time).

use crate::cpu::gemm::geometry::Geometry;
use crate::runtime::pool::Pool;
use gemm::Parallelism;

/// `c[rows, n] = alpha · a[rows, k] · b[k, n]`, `c` dense (row stride `n`), `a` and `b` by the
/// geometry's strides. With `wide`, the crate splits the work over the pool's threads.
///
/// # Safety
/// `a`, `b` and `c` address the block's rows inside live buffers.
pub(super) unsafe fn product(
    geo: &Geometry,
    rows: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    wide: Option<&Pool>,
) {
    let n = geo.n;
    if rows == 0 || n == 0 {
        return;
    }
    if geo.k == 0 {
        // An empty sum: the crate is not asked to handle it.
        // SAFETY: `c` holds `rows · n` floats (dense block).
        unsafe { std::slice::from_raw_parts_mut(c, rows * n) }.fill(0.0);
        return;
    }
    let ptrs = Ptrs(a, b, c);
    match wide {
        Some(pool) if pool.threads() > 1 => {
            let threads = pool.threads();
            // SAFETY: forwarded; the crate's workers write disjoint parts of `c`.
            pool.install(move || unsafe { call(geo, rows, ptrs, Parallelism::Rayon(threads)) })
        }
        // SAFETY: forwarded.
        _ => unsafe { call(geo, rows, ptrs, Parallelism::None) },
    }
}

/// The crate's call. In this crate dst = alpha·dst + beta·lhs·rhs; `read_dst = false` ignores
/// dst's old contents, and our alpha is the crate's beta.
///
/// # Safety
/// As [`product`].
unsafe fn call(geo: &Geometry, rows: usize, p: Ptrs, par: Parallelism) {
    // SAFETY: forwarded.
    unsafe {
        gemm::gemm(
            rows,
            geo.n,
            geo.k,
            p.2,
            1,
            geo.n as isize,
            false,
            p.0,
            geo.a.cs as isize,
            geo.a.rs as isize,
            p.1,
            geo.b.cs as isize,
            geo.b.rs as isize,
            0.0f32,
            geo.alpha,
            false,
            false,
            false,
            par,
        )
    }
}

/// The raw pointers a pooled call carries (the call returns before they are dropped).
#[derive(Clone, Copy)]
struct Ptrs(*const f32, *const f32, *mut f32);
// SAFETY: see `product`: the crate's workers write disjoint parts of `c`.
unsafe impl Send for Ptrs {}
