//! Depthwise convolution (one input and one output channel per group, 1 or 2 spatial dims)
//! computed directly, plane by plane: the plane is copied into a zero-bordered one, then 8
//! output columns at a time sum all the taps with their sums in registers.
//!
//! As a contraction, each channel is a `1 × positions × taps` product over im2col columns:
//! the columns of every channel are written and read again, and the product is too thin for
//! any GEMM to run well. ShuffleNet's 3×3 depthwise layers took 0.55 ms each that way, for
//! under a million multiply-adds.

use super::conv::ConvGeo;
use crate::cpu::jit::Width;
use std::cell::RefCell;

thread_local! {
    /// Each thread's zero-bordered copy of the plane it works on.
    static PADDED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A depthwise convolution's plane geometry, 1-D as 2-D with one row.
#[derive(Clone, Debug)]
pub(super) struct Depthwise {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
    ph: usize,
    pw: usize,
}

impl Depthwise {
    /// The direct geometry, when `g` is depthwise with at most 2 spatial dims.
    pub fn new(g: &ConvGeo) -> Option<Depthwise> {
        if g.cin_g != 1 || g.cout_g != 1 {
            return None;
        }
        let two = |v: &[usize], fill: usize| match v {
            [x] => Some([fill, *x]),
            [y, x] => Some([*y, *x]),
            _ => None,
        };
        let [h, w] = two(&g.in_spatial, 1)?;
        let [oh, ow] = two(&g.out_spatial, 1)?;
        let [kh, kw] = two(&g.kernel, 1)?;
        let [sh, sw] = two(&g.strides, 1)?;
        let [dh, dw] = two(&g.dilations, 1)?;
        let [ph, pw] = two(&g.pads, 0)?;
        Some(Depthwise {
            h,
            w,
            oh,
            ow,
            kh,
            kw,
            sh,
            sw,
            dh,
            dw,
            ph,
            pw,
        })
    }

    /// One channel: `out[oy, ox] = Σ_taps w[ky, kx] · x[oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]`
    /// over the taps inside the input, summed in tap order from zero.
    ///
    /// # Safety
    /// `x` addresses the `h × w` input plane, `wt` the `kh × kw` kernel, `out` the `oh × ow`
    /// output plane, none overlapping `out`.
    pub unsafe fn plane(&self, x: *const f32, wt: *const f32, out: *mut f32) {
        // SAFETY: the caller's contract, as slices.
        let (x, wt, out) = unsafe {
            (
                std::slice::from_raw_parts(x, self.h * self.w),
                std::slice::from_raw_parts(wt, self.kh * self.kw),
                std::slice::from_raw_parts_mut(out, self.oh * self.ow),
            )
        };
        PADDED.with_borrow_mut(|padded| {
            let wp = self.pad(x, padded);
            match Width::host() {
                // SAFETY: the host has AVX2 and FMA (detected by `Width::host`; AVX-512F hosts
                // have both).
                #[cfg(target_arch = "x86_64")]
                Width::Avx512 | Width::Avx2 if self.sw <= 2 => unsafe {
                    self.plane_avx2(padded, wp, wt, out)
                },
                _ => self.plane_any(padded, wp, wt, out),
            }
        })
    }

    /// Copies the plane into `padded`, zero-bordered and wide enough for whole blocks of 8
    /// output columns; returns its row length.
    fn pad(&self, x: &[f32], padded: &mut Vec<f32>) -> usize {
        let blocks = self.ow.div_ceil(8);
        // One column more than the last block's last lane: a stride-2 block loads 16 floats.
        let wp = (self.pw + self.w).max((blocks * 8 - 1) * self.sw + (self.kw - 1) * self.dw + 2);
        let hp = (self.ph + self.h).max((self.oh - 1) * self.sh + (self.kh - 1) * self.dh + 1);
        padded.clear();
        padded.resize(wp * hp, 0.0);
        for (iy, line) in x.chunks_exact(self.w).enumerate() {
            padded[(iy + self.ph) * wp + self.pw..][..self.w].copy_from_slice(line);
        }
        wp
    }

    /// Any host, any stride: one block of 8 columns at a time, the lanes in an array.
    fn plane_any(&self, padded: &[f32], wp: usize, wt: &[f32], out: &mut [f32]) {
        let sw = self.sw;
        for (oy, row) in out.chunks_exact_mut(self.ow).enumerate() {
            for ox in (0..self.ow).step_by(8) {
                let mut acc = [0.0f32; 8];
                for ky in 0..self.kh {
                    let line = &padded[(oy * self.sh + ky * self.dh) * wp..][..wp];
                    for kx in 0..self.kw {
                        let c = wt[ky * self.kw + kx];
                        let src = &line[ox * sw + kx * self.dw..][..7 * sw + 1];
                        for l in 0..8 {
                            acc[l] += c * src[l * sw];
                        }
                    }
                }
                let n = (self.ow - ox).min(8);
                row[ox..ox + n].copy_from_slice(&acc[..n]);
            }
        }
    }

    /// Column strides 1 and 2 with AVX2: a block of 8 columns is one register, and four blocks
    /// (of one row or of consecutive rows) go together, so that four independent chains of
    /// multiply-adds hide each other's latency.
    ///
    /// # Safety
    /// The host has AVX2 and FMA; `padded` is [`Depthwise::pad`]'s, of row length `wp`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn plane_avx2(&self, padded: &[f32], wp: usize, wt: &[f32], out: &mut [f32]) {
        use std::arch::x86_64::*;
        const UNITS: usize = 4;
        let sw = self.sw;
        let blocks = self.ow.div_ceil(8);
        let units = self.oh * blocks;
        // The last float any block reads; `pad` sized the plane for it.
        let last = |u: usize| {
            let (oy, b) = (u / blocks, u % blocks);
            (oy * self.sh + (self.kh - 1) * self.dh) * wp
                + b * 8 * sw
                + (self.kw - 1) * self.dw
                + 8 * sw
                - 1
        };
        assert!(
            units == 0 || last(units - 1) < padded.len(),
            "depthwise: plane too small"
        );
        assert_eq!(wt.len(), self.kh * self.kw);
        let base = padded.as_ptr();
        let mut tmp = [0.0f32; 8];
        let mut u0 = 0;
        while u0 < units {
            let n_units = (units - u0).min(UNITS);
            let mut start = [0usize; UNITS];
            for (i, s) in start.iter_mut().enumerate().take(n_units) {
                let (oy, b) = ((u0 + i) / blocks, (u0 + i) % blocks);
                *s = oy * self.sh * wp + b * 8 * sw;
            }
            let mut acc = [_mm256_setzero_ps(); UNITS];
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let c = _mm256_set1_ps(wt[ky * self.kw + kx]);
                    let off = ky * self.dh * wp + kx * self.dw;
                    for i in 0..UNITS {
                        if i >= n_units {
                            break;
                        }
                        // SAFETY: at most `last(u)` < padded.len() (asserted above).
                        let p = unsafe { base.add(start[i] + off) };
                        let v = if sw == 1 {
                            // SAFETY: as above.
                            unsafe { _mm256_loadu_ps(p) }
                        } else {
                            // SAFETY: as above (16 floats: `last` counts 8·sw).
                            let (lo, hi) =
                                unsafe { (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))) };
                            // Lanes 0, 2, .., 14: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6], then the
                            // middle 64-bit pairs swapped.
                            let even = _mm256_shuffle_ps::<0x88>(lo, hi);
                            _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(even)))
                        };
                        acc[i] = _mm256_fmadd_ps(c, v, acc[i]);
                    }
                }
            }
            for (i, acc) in acc.iter().enumerate().take(n_units) {
                let (oy, b) = ((u0 + i) / blocks, (u0 + i) % blocks);
                let ox = b * 8;
                let n = (self.ow - ox).min(8);
                let row = &mut out[oy * self.ow + ox..][..n];
                if n == 8 {
                    // SAFETY: 8 floats of `row`.
                    unsafe { _mm256_storeu_ps(row.as_mut_ptr(), *acc) };
                } else {
                    // SAFETY: 8 floats of `tmp`.
                    unsafe { _mm256_storeu_ps(tmp.as_mut_ptr(), *acc) };
                    row.copy_from_slice(&tmp[..n]);
                }
            }
            u0 += n_units;
        }
    }
}
