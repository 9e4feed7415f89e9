//! Convolution as contraction: geometry checks and im2col (the columns of one image, for all
//! groups, into scratch: row `c · K + kk` holds input channel `c` under kernel offset `kk` at
//! every output position, zero where the window falls on padding).

use crate::error::CodegenError;
use crate::kernel::ConvKernel;
use crate::runtime::pool::Pool;

/// A checked convolution.
///
/// Invariants: every list has the spatial rank; strides and dilations are at least 1; channels
/// divide by `group`.
#[derive(Clone, Debug)]
pub(super) struct ConvGeo {
    pub input: usize,
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
    pub cin_g: usize,
    pub cout_g: usize,
    pub in_spatial: Vec<usize>,
    pub kernel: Vec<usize>,
    pub out_spatial: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads: Vec<usize>,
    /// Row-major strides of the input's spatial dims.
    pub in_strides: Vec<usize>,
    pub s_in: usize,
    pub s_out: usize,
    pub ksize: usize,
    /// 1×1, stride 1, unpadded, same spatial size: the input is the column matrix.
    pub direct: bool,
}

/// The most spatial dims a convolution may have (the im2col keeps per-dim state on the stack).
const MAX_RANK: usize = 8;

fn bad(msg: String) -> CodegenError {
    CodegenError::Unsupported(format!("conv: {msg}"))
}

impl ConvGeo {
    pub fn new(k: &ConvKernel) -> Result<ConvGeo, CodegenError> {
        let r = k.in_spatial.len();
        let lists = [
            k.kernel.len(),
            k.out_spatial.len(),
            k.strides.len(),
            k.dilations.len(),
            k.pads_begin.len(),
        ];
        if lists.iter().any(|&l| l != r) {
            return Err(bad(format!(
                "spatial lists of unequal ranks {r} and {lists:?}"
            )));
        }
        if r > MAX_RANK {
            return Err(bad(format!("{r} spatial dims (at most {MAX_RANK})")));
        }
        if k.group == 0 || !k.c_in.is_multiple_of(k.group) || !k.c_out.is_multiple_of(k.group) {
            return Err(bad(format!(
                "{} and {} channels do not divide into {} groups",
                k.c_in, k.c_out, k.group
            )));
        }
        if k.strides.contains(&0) || k.dilations.contains(&0) {
            return Err(bad("zero stride or dilation".into()));
        }
        let s_in = k.in_spatial.iter().product();
        let s_out = k.out_spatial.iter().product();
        let ksize = k.kernel.iter().product();
        let direct = k.kernel.iter().all(|&x| x == 1)
            && k.strides.iter().all(|&x| x == 1)
            && k.pads_begin.iter().all(|&x| x == 0)
            && k.in_spatial == k.out_spatial;
        let mut in_strides = vec![1usize; r];
        for d in (0..r.saturating_sub(1)).rev() {
            in_strides[d] = in_strides[d + 1] * k.in_spatial[d + 1];
        }
        Ok(ConvGeo {
            in_strides,
            input: k.input,
            batch: k.batch,
            c_in: k.c_in,
            c_out: k.c_out,
            group: k.group,
            cin_g: k.c_in / k.group,
            cout_g: k.c_out / k.group,
            in_spatial: k.in_spatial.clone(),
            kernel: k.kernel.clone(),
            out_spatial: k.out_spatial.clone(),
            strides: k.strides.clone(),
            dilations: k.dilations.clone(),
            pads: k.pads_begin.clone(),
            s_in,
            s_out,
            ksize,
            direct,
        })
    }

    /// The contraction depth of one group.
    pub fn kdim(&self) -> usize {
        self.cin_g * self.ksize
    }

    /// Floats of the column matrix of one image (0 when the input is used directly).
    pub fn cols_floats(&self) -> usize {
        if self.direct {
            0
        } else {
            self.c_in * self.ksize * self.s_out
        }
    }

    /// Fills `cols` (`c_in · K` rows of `s_out`) from image `n` of the input.
    ///
    /// # Safety
    /// `args[self.input]` holds `[batch, c_in, in_spatial..]` f32; `cols` has
    /// `cols_floats()` writable floats.
    pub unsafe fn im2col(
        &self,
        args: &[*mut u8],
        cols: *mut f32,
        n: usize,
        threads: usize,
        pool: &Pool,
    ) {
        let rows = self.c_in * self.ksize;
        let image = (args[self.input] as *const f32).wrapping_add(n * self.c_in * self.s_in);
        let job = Job {
            image,
            cols,
            geo: self,
        };
        let work = rows * self.s_out;
        if threads > 1 && work >= crate::kernel::schedule::PARALLEL_MIN_WORK {
            pool.for_chunks(rows, 1, &|lo, hi| {
                let j = &job;
                for row in lo..hi {
                    // SAFETY: rows are disjoint; the forwarded contract covers the pointers.
                    unsafe { j.row(row) };
                }
            });
        } else {
            for row in 0..rows {
                // SAFETY: as above.
                unsafe { job.row(row) };
            }
        }
    }
}

/// One image's im2col, shared by the workers.
struct Job<'a> {
    image: *const f32,
    cols: *mut f32,
    geo: &'a ConvGeo,
}
// SAFETY: workers write disjoint rows of `cols` and only read `image`.
unsafe impl Sync for Job<'_> {}

impl Job<'_> {
    /// Writes row `row = c · K + kk` of the columns.
    unsafe fn row(&self, row: usize) {
        let g = self.geo;
        let r = g.in_spatial.len();
        let (c, mut kk) = (row / g.ksize, row % g.ksize);
        // SAFETY: (both) in bounds of the image and of the columns by the caller's contract.
        let src = unsafe { self.image.add(c * g.s_in) };
        let dst = unsafe { std::slice::from_raw_parts_mut(self.cols.add(row * g.s_out), g.s_out) };
        if r == 0 {
            // SAFETY: a rank-0 image has one element per channel.
            dst[0] = unsafe { *src };
            return;
        }
        // Kernel offset per dim (rank <= MAX_RANK, checked in `ConvGeo::new`).
        let mut kidx = [0usize; MAX_RANK];
        for d in (0..r).rev() {
            kidx[d] = kk % g.kernel[d];
            kk /= g.kernel[d];
        }
        // Input coordinate along dim d of output position o: o·s + kidx·dil - pad.
        let coord = |d: usize, o: usize| -> i64 {
            (o * g.strides[d] + kidx[d] * g.dilations[d]) as i64 - g.pads[d] as i64
        };
        let last = r - 1;
        let out_last = g.out_spatial[last];
        let in_last = g.in_spatial[last] as i64;
        let (st, base_last) = (g.strides[last] as i64, coord(last, 0));
        // Output positions along the last dim whose input lies inside: [lo, hi).
        let lo = if base_last >= 0 {
            0
        } else {
            ((-base_last + st - 1) / st) as usize
        }
        .min(out_last);
        let hi = if in_last > base_last {
            ((in_last - base_last + st - 1) / st) as usize
        } else {
            0
        }
        .clamp(lo, out_last);
        let mut outer = [0usize; MAX_RANK];
        for seg in dst
            .chunks_exact_mut(out_last.max(1))
            .take(g.s_out / out_last.max(1))
        {
            let mut inside = true;
            let mut off = 0i64;
            for (d, &o) in outer.iter().enumerate().take(last) {
                let i = coord(d, o);
                inside &= i >= 0 && i < g.in_spatial[d] as i64;
                off += i * g.in_strides[d] as i64;
            }
            if inside {
                seg[..lo].fill(0.0);
                let first = off + base_last + lo as i64 * st;
                // SAFETY: every coordinate read is inside the image.
                unsafe { gather(&mut seg[lo..hi], src.offset(first as isize), st as usize) };
                seg[hi..].fill(0.0);
            } else {
                seg.fill(0.0);
            }
            // Next outer output position (row-major odometer).
            for d in (0..last).rev() {
                outer[d] += 1;
                if outer[d] < g.out_spatial[d] {
                    break;
                }
                outer[d] = 0;
            }
        }
    }
}

/// `dst[j] = src[j · stride]`: a copy for stride 1, and constant strides 2 and 3 so that the
/// loads vectorize (the columns of a stride-2 stem convolution were a third of its time).
///
/// # Safety
/// `src + j·stride` is readable for every `j < dst.len()`.
unsafe fn gather(dst: &mut [f32], src: *const f32, stride: usize) {
    #[inline(always)]
    unsafe fn strided<const S: usize>(dst: &mut [f32], src: *const f32) {
        if dst.is_empty() {
            return;
        }
        // SAFETY: the caller's contract, as a slice.
        let src = unsafe { std::slice::from_raw_parts(src, (dst.len() - 1) * S + 1) };
        for (j, d) in dst.iter_mut().enumerate() {
            *d = src[j * S];
        }
    }
    match stride {
        // SAFETY: forwarded (stride 1: `dst.len()` contiguous floats).
        1 => dst.copy_from_slice(unsafe { std::slice::from_raw_parts(src, dst.len()) }),
        // SAFETY: forwarded.
        2 => unsafe { strided::<2>(dst, src) },
        // SAFETY: forwarded.
        3 => unsafe { strided::<3>(dst, src) },
        _ => {
            for (j, d) in dst.iter_mut().enumerate() {
                // SAFETY: forwarded.
                *d = unsafe { *src.add(j * stride) };
            }
        }
    }
}
