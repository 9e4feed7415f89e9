//! f32 MaxPool and AveragePool over one or two spatial dims, planes spread over the threads,
//! with the interpreter's values bit for bit (`ir::interp::conv::pool_f32_into`):
//! - max: a window's first tap in row-major order starts the maximum and a tap replaces it only
//!   when greater, so a NaN first tap stays and a later NaN is skipped; an empty window gives 0;
//! - average: the taps inside the input summed in f64 in row-major order from -0.0 (as Rust's
//!   `Sum`, so that a window of -0.0 averages to -0.0), divided by the
//!   count (taps inside, or inside the explicitly padded input with `count_include_pad`) and
//!   rounded to f32 once.
//!
//! Taps inside the input along one axis form one run `[lo, hi)` per output coordinate (the
//! input coordinate grows with the tap), so a window is a rectangle of rows and columns.
//! For max, columns whose run is every tap ("interior") go through vector blocks without
//! per-column state, the others window by window. For average, each plane is first copied
//! between borders of -0.0 (an exact identity for f64 sums), so that every column goes through
//! the vector blocks.

use crate::cpu::jit::Width;
use crate::runtime::pool::Pool;
use ir::interp::conv::geometry::Axis;

/// What a window reduces to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Reduce {
    Max,
    Average { count_include_pad: bool },
}

/// One axis, per output coordinate.
#[derive(Clone, Debug)]
struct Taps {
    /// Taps `[lo, hi)` fall inside the input.
    lo: Vec<usize>,
    hi: Vec<usize>,
    /// Taps inside the explicitly padded input (what `count_include_pad` counts).
    padded: Vec<usize>,
    axis: Axis,
}

impl Taps {
    fn new(axis: Axis) -> Taps {
        let mut t = Taps {
            lo: Vec::with_capacity(axis.output),
            hi: Vec::with_capacity(axis.output),
            padded: Vec::with_capacity(axis.output),
            axis,
        };
        for o in 0..axis.output {
            let inside: Vec<usize> = (0..axis.kernel)
                .filter(|&k| axis.input_at(o, k).is_some())
                .collect();
            let lo = inside.first().copied().unwrap_or(0);
            let hi = inside.last().map_or(0, |&k| k + 1);
            debug_assert_eq!(inside.len(), hi - lo, "inside taps form one run");
            t.lo.push(lo);
            t.hi.push(hi);
            t.padded.push(
                (0..axis.kernel)
                    .filter(|&k| axis.in_padded_input(o, k))
                    .count(),
            );
        }
        t
    }

    /// Input coordinate of tap `k` of output `o` (inside: `lo[o] <= k < hi[o]`).
    fn at(&self, o: usize, k: usize) -> usize {
        o * self.axis.stride + k * self.axis.dilation - self.axis.pad_begin
    }

    /// Outputs `[a, b)` whose every tap is inside, as whole blocks of [`LANES`] (possibly
    /// none).
    fn interior(&self) -> (usize, usize) {
        let full = |o: &usize| self.lo[*o] == 0 && self.hi[*o] == self.axis.kernel;
        let a = (0..self.axis.output).find(full).unwrap_or(0);
        let b = (a..self.axis.output)
            .find(|o| !full(o))
            .unwrap_or(self.axis.output);
        // Whole blocks only; the interior columns past the last block go alone.
        (a, a + (b - a) / LANES * LANES)
    }
}

/// A pool over `planes` planes of `rows × cols` inputs (one spatial dim: one row).
#[derive(Clone, Debug)]
pub(super) struct Pool2d {
    planes: usize,
    rows: Taps,
    cols: Taps,
    interior: (usize, usize),
    /// Per output position of a plane, what an average divides its sum by, in rows of whole
    /// blocks of columns (1 past the last column).
    counts: Vec<f64>,
    reduce: Reduce,
}

/// A one-row axis for pools over one spatial dim.
const UNIT: Axis = Axis {
    input: 1,
    kernel: 1,
    stride: 1,
    dilation: 1,
    pad_begin: 0,
    pad_end: 0,
    output: 1,
};

impl Pool2d {
    /// A plan for `axes` (one or two) of an input `[N, C, ...]`; `None` for other ranks.
    pub fn new(shape: &[usize], axes: &[Axis], reduce: Reduce) -> Option<Pool2d> {
        let (rows, cols) = match axes {
            [c] => (UNIT, *c),
            [r, c] => (*r, *c),
            _ => return None,
        };
        let (rows, cols) = (Taps::new(rows), Taps::new(cols));
        let counts = match reduce {
            Reduce::Max => Vec::new(),
            Reduce::Average { count_include_pad } => {
                let count = |t: &Taps, o: usize| {
                    if count_include_pad {
                        t.padded[o]
                    } else {
                        t.hi[o] - t.lo[o]
                    }
                };
                // Rows of whole blocks (`wide` columns, 1 past the last) so that the divisions
                // run in vectors to the end of each row.
                let wide = cols.axis.output.div_ceil(LANES) * LANES;
                (0..rows.axis.output)
                    .flat_map(|oy| (0..wide).map(move |ox| (oy, ox)))
                    .map(|(oy, ox)| match ox < cols.axis.output {
                        true => (count(&rows, oy) * count(&cols, ox)) as f64,
                        false => 1.0,
                    })
                    .collect()
            }
        };
        Some(Pool2d {
            planes: shape.first()? * shape.get(1)?,
            interior: cols.interior(),
            rows,
            cols,
            counts,
            reduce,
        })
    }

    fn in_plane(&self) -> usize {
        self.rows.axis.input * self.cols.axis.input
    }

    fn out_plane(&self) -> usize {
        self.rows.axis.output * self.cols.axis.output
    }

    /// Pools `x` into `y`; `false` (nothing written) when their lengths do not fit the plan.
    pub fn run(&self, x: &[f32], y: &mut [f32], pool: &Pool) -> bool {
        let (ip, op) = (self.in_plane(), self.out_plane());
        if x.len() != self.planes * ip || y.len() != self.planes * op {
            return false;
        }
        let taps = self.rows.axis.kernel * self.cols.axis.kernel;
        let work = self.planes * op * taps;
        let out = OutPtr(y.as_mut_ptr());
        let job = |lo: usize, hi: usize| {
            let o = out;
            let mut scratch = Scratch::for_plan(self);
            for p in lo..hi {
                // SAFETY: planes are disjoint ranges of `y`, which outlives the call.
                let yp = unsafe { std::slice::from_raw_parts_mut(o.0.add(p * op), op) };
                self.plane(&x[p * ip..(p + 1) * ip], yp, &mut scratch);
            }
        };
        if pool.threads() > 1 && work >= crate::kernel::schedule::PARALLEL_MIN_WORK {
            pool.for_chunks(self.planes, 1, &job);
        } else {
            job(0, self.planes);
        }
        true
    }

    /// One plane, compiled for the host's vector width.
    fn plane(&self, x: &[f32], y: &mut [f32], scratch: &mut Scratch) {
        match Width::host() {
            // SAFETY: the host has the features (detected by `Width::host`).
            #[cfg(target_arch = "x86_64")]
            Width::Avx512 => unsafe { self.plane_avx512(x, y, scratch) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Width::Avx2 => unsafe { self.plane_avx2(x, y, scratch) },
            _ => self.plane_by_stride(x, y, scratch),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn plane_avx512(&self, x: &[f32], y: &mut [f32], scratch: &mut Scratch) {
        self.plane_by_stride(x, y, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn plane_avx2(&self, x: &[f32], y: &mut [f32], scratch: &mut Scratch) {
        self.plane_by_stride(x, y, scratch)
    }

    /// Strides 1 and 2 as constants, so that the blocks' strided loads become shuffles.
    #[inline(always)]
    fn plane_by_stride(&self, x: &[f32], y: &mut [f32], scratch: &mut Scratch) {
        match self.cols.axis.stride {
            1 => self.plane_strided::<1>(x, y, scratch),
            2 => self.plane_strided::<2>(x, y, scratch),
            _ => self.plane_strided::<0>(x, y, scratch),
        }
    }

    /// One plane with column stride `S` (0: the axis's own).
    #[inline(always)]
    fn plane_strided<const S: usize>(&self, x: &[f32], y: &mut [f32], scratch: &mut Scratch) {
        if let Reduce::Average { .. } = self.reduce {
            return self.average_plane::<S>(x, y, scratch);
        }
        let rows = &mut scratch.rows;
        let (r, c) = (&self.rows, &self.cols);
        let (iw, ow) = (c.axis.input, c.axis.output);
        let s = if S == 0 { c.axis.stride } else { S };
        for oy in 0..r.axis.output {
            let out = &mut y[oy * ow..(oy + 1) * ow];
            rows.clear();
            rows.extend((r.lo[oy]..r.hi[oy]).map(|k| r.at(oy, k) * iw));
            let Some(&first) = rows.first() else {
                // No row inside: every window is empty, and its maximum 0.
                out.fill(0.0);
                continue;
            };
            let (a, b) = self.interior;
            let (k, d) = (c.axis.kernel, c.axis.dilation);
            for blk in (a..b).step_by(LANES) {
                // Tap k of column ox reads the row at ox·s + k·d - pad.
                let col0 = blk * s - c.axis.pad_begin;
                out[blk..blk + LANES].copy_from_slice(&max_block(
                    x,
                    rows,
                    first + col0,
                    col0,
                    s,
                    k,
                    d,
                ));
            }
            for ox in (0..a).chain(b..ow) {
                let (lo, hi) = (c.lo[ox], c.hi[ox]);
                if lo == hi {
                    // No tap inside: the maximum of an empty window is 0.
                    out[ox] = 0.0;
                    continue;
                }
                // The column's taps inside: `hi - lo` reads `d` apart from `at(ox, lo)`; the
                // window's first tap starts the maximum.
                let col0 = c.at(ox, lo);
                out[ox] = fold_taps(x, rows, col0, hi - lo, d, x[first + col0], |m, v| {
                    if v > m { v } else { m }
                });
            }
        }
    }
}

impl Pool2d {
    /// One plane of an average with column stride `S` (0: the axis's own). The rows are first
    /// copied into `padded` with -0.0 on both sides, wide enough for whole blocks: adding -0.0
    /// leaves every f64 sum as it was (-0.0 + -0.0 is -0.0, x + -0.0 is x, NaN and infinities
    /// included), so a window summed over all its columns there, taps in window order, equals
    /// the interpreter's sum over the taps inside, and every column goes through the blocks.
    /// Rows outside the input are skipped, as the interpreter skips them.
    #[inline(always)]
    fn average_plane<const S: usize>(&self, x: &[f32], y: &mut [f32], scratch: &mut Scratch) {
        let Scratch { acc, rows, padded } = scratch;
        let (r, c) = (&self.rows, &self.cols);
        let (ih, iw, ow) = (r.axis.input, c.axis.input, c.axis.output);
        let s = if S == 0 { c.axis.stride } else { S };
        let (k, d) = (c.axis.kernel, c.axis.dilation);
        let wide = ow.div_ceil(LANES) * LANES;
        let wp = (c.axis.pad_begin + iw).max((wide - 1) * s + (k - 1) * d + 1);
        padded.clear();
        padded.resize(ih * wp, -0.0);
        for (iy, line) in x.chunks_exact(iw).enumerate() {
            copy_short(&mut padded[iy * wp + c.axis.pad_begin..][..iw], line);
        }
        for oy in 0..r.axis.output {
            rows.clear();
            rows.extend((r.lo[oy]..r.hi[oy]).map(|kk| r.at(oy, kk) * wp));
            let mut ox = 0;
            while ox < ow {
                // Four (or two) blocks at a time where they fit: independent chains of adds.
                // `acc` has room for whole spans past the last column.
                if ox + 4 * LANES <= wide {
                    let sums = sum_span::<{ 4 * LANES }>(padded, rows, ox * s, s, k, d);
                    acc[ox..ox + 4 * LANES].copy_from_slice(&sums);
                    ox += 4 * LANES;
                } else if ox + 2 * LANES <= wide {
                    let sums = sum_span::<{ 2 * LANES }>(padded, rows, ox * s, s, k, d);
                    acc[ox..ox + 2 * LANES].copy_from_slice(&sums);
                    ox += 2 * LANES;
                } else {
                    let sums = sum_span::<LANES>(padded, rows, ox * s, s, k, d);
                    acc[ox..ox + LANES].copy_from_slice(&sums);
                    ox += LANES;
                }
            }
            // Quotients a block at a time (the last block's extra lanes divide by 1 and are
            // not stored).
            let counts = &self.counts[oy * wide..(oy + 1) * wide];
            let out = &mut y[oy * ow..(oy + 1) * ow];
            let blocks = acc[..wide]
                .chunks_exact(LANES)
                .zip(counts.chunks_exact(LANES));
            for ((a, n), o) in blocks.zip(out.chunks_mut(LANES)) {
                let q: [f32; LANES] = std::array::from_fn(|j| (a[j] / n[j]) as f32);
                copy_short(o, &q);
            }
        }
    }
}

/// The f64 sums of `W` columns, column j's taps reading each row at `col0 + j·s + k·d`, taps
/// in window order from -0.0.
#[inline(always)]
fn sum_span<const W: usize>(
    x: &[f32],
    rows: &[usize],
    col0: usize,
    s: usize,
    kernel: usize,
    d: usize,
) -> [f64; W] {
    let span = (W - 1) * s + 1;
    let mut acc = [-0f64; W];
    for &row in rows {
        for k in 0..kernel {
            let base = row + col0 + k * d;
            let src = &x[base..base + span];
            for (j, aj) in acc.iter_mut().enumerate() {
                *aj += src[j * s] as f64;
            }
        }
    }
    acc
}

/// `dst = src[..dst.len()]` for the short rows of pools (7 to 112 floats), in blocks of 8 moved
/// as arrays: a `copy_from_slice` of a length known only at run time is a call to `memmove`,
/// which cost more than the pool itself on 14×14 planes.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let mut i = 0;
    while i + LANES <= n {
        let s: [f32; LANES] = src[i..i + LANES].try_into().expect("a block of LANES");
        dst[i..i + LANES].copy_from_slice(&s);
        i += LANES;
    }
    while i < n {
        dst[i] = src[i];
        i += 1;
    }
}

/// `f` folded over one column's taps of every row in `rows`, in window order: `n` taps `d`
/// apart from `col0` in each row.
#[inline(always)]
fn fold_taps<T>(
    x: &[f32],
    rows: &[usize],
    col0: usize,
    n: usize,
    d: usize,
    init: T,
    f: impl Fn(T, f32) -> T,
) -> T {
    let mut acc = init;
    for &row in rows {
        let src = &x[row + col0..row + col0 + (n - 1) * d + 1];
        if d == 1 {
            for &v in src {
                acc = f(acc, v);
            }
        } else {
            for &v in src.iter().step_by(d) {
                acc = f(acc, v);
            }
        }
    }
    acc
}

/// Columns per block: one 8-lane vector of f32 maxima or f64 sums.
const LANES: usize = 8;

/// The maxima of `LANES` columns whose taps are all inside: column j's taps read each row at
/// `col0 + j·s + k·d`; its first tap (`x[first + j·s]`) starts the maximum and every tap is
/// then compared in window order (comparing the first with itself changes nothing).
#[inline(always)]
fn max_block(
    x: &[f32],
    rows: &[usize],
    first: usize,
    col0: usize,
    s: usize,
    kernel: usize,
    d: usize,
) -> [f32; LANES] {
    let span = (LANES - 1) * s + 1;
    let src = &x[first..first + span];
    let mut m: [f32; LANES] = std::array::from_fn(|j| src[j * s]);
    for &row in rows {
        for k in 0..kernel {
            let base = row + col0 + k * d;
            let src = &x[base..base + span];
            for (j, mj) in m.iter_mut().enumerate() {
                let v = src[j * s];
                *mj = if v > *mj { v } else { *mj };
            }
        }
    }
    m
}

/// What one worker reuses from plane to plane.
struct Scratch {
    /// Averages: one f64 sum per output column, rounded up to whole spans of blocks.
    acc: Vec<f64>,
    /// The offsets of a window's rows inside the input.
    rows: Vec<usize>,
    /// Averages: the plane between borders of -0.0.
    padded: Vec<f32>,
}

impl Scratch {
    fn for_plan(p: &Pool2d) -> Scratch {
        let acc = match p.reduce {
            Reduce::Max => Vec::new(),
            Reduce::Average { .. } => {
                vec![0f64; p.cols.axis.output.div_ceil(LANES) * LANES + 4 * LANES]
            }
        };
        Scratch {
            acc,
            rows: Vec::with_capacity(p.rows.axis.kernel),
            padded: Vec::new(),
        }
    }
}

/// The output pointer the workers share.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: workers write disjoint planes (see `Pool2d::run`).
unsafe impl Sync for OutPtr {}
unsafe impl Send for OutPtr {}
