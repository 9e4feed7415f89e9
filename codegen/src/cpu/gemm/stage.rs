//! Staging a contraction's `b` into scratch as dense rows, when it is stored column by column
//! far apart (`b[kk, j]` at `kk + j·cs` with a large `cs`: the transposed activations of a
//! feature-major product, such as Monarch's first factor applied to `xᵀ`).
//!
//! The `gemm` crate reads such an operand several times slower than dense rows (a 16-item
//! 64×64·64×256 product with `cs = 1024` took 0.63 ms against 0.22 ms with dense rows, 2
//! threads); one transposing copy per item, which stays in cache, costs less. Timed side by
//! side (`tenfold bench --profile`, 2 threads, median of 3): that product took 0.47-0.64 ms
//! staged in blocks of 16 columns, 0.34 ms in blocks of 8; at 64×1024
//! columns per item, 2.4-2.6 ms in place and 2.0-2.3 ms staged in blocks of 8.

use crate::cpu::gemm::geometry::{Geometry, Operand, Source};
use crate::runtime::pool::Pool;

/// Column strides from which a k-contiguous `b` is staged (256 floats: 1 KiB apart).
const MIN_COLUMN_STRIDE: i64 = 256;

/// The largest item staged (256 KiB, which stays in L2 for the crate's own packing).
const MAX_STAGED_FLOATS: usize = 64 * 1024;

/// Whether `b` (`k × n`, by its strides) is read faster staged: k-contiguous columns far apart,
/// more than a sliver in each direction, and small enough to stay in cache.
pub(super) fn worth_staging(b: &Operand, k: usize, n: usize) -> bool {
    b.rs == 1 && b.cs >= MIN_COLUMN_STRIDE && k >= 8 && n >= 8 && k * n <= MAX_STAGED_FLOATS
}

/// Copies every item's `b` from `src` into `dst` as dense `[k, n]` rows, item after item.
///
/// # Safety
/// `args` are the kernel's args, in which `src` addresses each item's `k × n` operand (at
/// [`Geometry::batch_offsets`]); `dst` holds `items · k · n` writable floats.
pub(super) unsafe fn stage_b(
    geo: &Geometry,
    src: &Operand,
    args: &[*mut u8],
    dst: *mut f32,
    threads: usize,
    pool: &Pool,
) {
    let Source::Arg(arg) = src.src else {
        return;
    };
    let job = Job {
        geo,
        src: *src,
        base: args[arg] as *const f32,
        dst,
    };
    let work = geo.items * geo.k * geo.n;
    if threads > 1 && work >= crate::kernel::schedule::PARALLEL_MIN_WORK {
        pool.for_chunks(geo.items, 1, &|lo, hi| {
            let j = &job;
            for item in lo..hi {
                // SAFETY: items write disjoint parts of `dst`; the caller's contract covers
                // the reads.
                unsafe { j.item(item) };
            }
        });
    } else {
        for item in 0..geo.items {
            // SAFETY: as above.
            unsafe { job.item(item) };
        }
    }
}

struct Job<'a> {
    geo: &'a Geometry,
    src: Operand,
    base: *const f32,
    dst: *mut f32,
}
// SAFETY: workers read the shared source and write disjoint items of `dst`.
unsafe impl Sync for Job<'_> {}

impl Job<'_> {
    /// Stages one item, in blocks of [`BLOCK`] columns: each block's columns are read along
    /// `k` together (one cache line of each serves 16 steps) while each step writes one run of
    /// `BLOCK` floats, so neither side strides through memory one element at a time.
    unsafe fn item(&self, item: usize) {
        let (k, n) = (self.geo.k, self.geo.n);
        let (_, ob) = self.geo.batch_offsets(item);
        let from = self.base.wrapping_offset((self.src.offset + ob) as isize);
        let cs = self.src.cs as isize;
        // SAFETY: the caller's contract: item `item`'s operand and its staging slot.
        unsafe {
            let to = self.dst.add(item * k * n);
            for j0 in (0..n).step_by(BLOCK) {
                let j1 = (j0 + BLOCK).min(n);
                for kk in 0..k {
                    let row = to.add(kk * n);
                    for j in j0..j1 {
                        *row.add(j) = *from.wrapping_offset(j as isize * cs).add(kk);
                    }
                }
            }
        }
    }
}

/// Columns staged together. Columns a power-of-two number of KiB apart share one L1 set (8
/// ways on current x86 cores): 16 lines at a time thrash it, 8 fit.
const BLOCK: usize = 8;
