//! Local response normalization over f32 on its buffers: per plane (image, channel), the sum
//! of squares of the neighbouring channels' planes, then `x · (bias + alpha/size · sum)^−beta`.
//!
//! The interpreter computes in f64 with `powf` for every element (9 ms of AlexNet's first LRN);
//! here the sums are f32 and the power is two square roots for AlexNet's and GoogLeNet's
//! beta = 0.75 (also one for 0.5, none for 1), `powf` otherwise. The results differ from the
//! interpreter's by a few f32 roundings (tests: relative 1e-5).

use crate::cpu::jit::Width;
use crate::runtime::pool::Pool;

/// An LRN over `[batch, channels, inner]` (the spatial dims flattened).
#[derive(Clone, Debug)]
pub(super) struct Lrn {
    batch: usize,
    channels: usize,
    inner: usize,
    /// Channels before and after `c` in its window: (size − 1)/2 and ⌈(size − 1)/2⌉.
    before: usize,
    after: usize,
    scale: f32,
    bias: f32,
    beta: f32,
}

impl Lrn {
    /// The plan for input `shape` ([N, C, ...]), or `None` when it has no channel axis.
    pub fn new(shape: &[usize], alpha: f32, beta: f32, bias: f32, size: usize) -> Option<Lrn> {
        if shape.len() < 2 || size == 0 {
            return None;
        }
        Some(Lrn {
            batch: shape[0],
            channels: shape[1],
            inner: shape[2..].iter().product(),
            before: (size - 1) / 2,
            after: (size - 1).div_ceil(2),
            scale: alpha / size as f32,
            bias,
            beta,
        })
    }

    /// `y = LRN(x)`, planes spread over the pool's threads.
    pub fn run(&self, x: &[f32], y: &mut [f32], pool: &Pool) {
        let planes = self.batch * self.channels;
        if planes == 0 || self.inner == 0 {
            return;
        }
        let y_addr = y.as_mut_ptr() as usize;
        let job = |lo: usize, hi: usize| {
            let mut sums = vec![0.0f32; self.inner];
            for plane in lo..hi {
                // SAFETY: tasks write disjoint planes of y.
                let out = unsafe {
                    std::slice::from_raw_parts_mut(
                        (y_addr as *mut f32).add(plane * self.inner),
                        self.inner,
                    )
                };
                self.plane(x, plane, &mut sums, out);
            }
        };
        let work = planes * self.inner * (self.before + self.after + 4);
        if pool.threads() > 1 && work >= 1 << 15 {
            pool.for_chunks(planes, 1, &job);
        } else {
            job(0, planes);
        }
    }

    /// One plane, compiled for the host's vector width.
    fn plane(&self, x: &[f32], plane: usize, sums: &mut [f32], out: &mut [f32]) {
        match Width::host() {
            // SAFETY: the host has the features (detected by `Width::host`).
            #[cfg(target_arch = "x86_64")]
            Width::Avx512 => unsafe { self.plane_avx512(x, plane, sums, out) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Width::Avx2 => unsafe { self.plane_avx2(x, plane, sums, out) },
            _ => self.plane_any(x, plane, sums, out),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn plane_avx512(&self, x: &[f32], plane: usize, sums: &mut [f32], out: &mut [f32]) {
        self.plane_any(x, plane, sums, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn plane_avx2(&self, x: &[f32], plane: usize, sums: &mut [f32], out: &mut [f32]) {
        self.plane_any(x, plane, sums, out)
    }

    #[inline(always)]
    fn plane_any(&self, x: &[f32], plane: usize, sums: &mut [f32], out: &mut [f32]) {
        let (n, c) = (plane / self.channels, plane % self.channels);
        let image = &x[n * self.channels * self.inner..][..self.channels * self.inner];
        let lo = c.saturating_sub(self.before);
        let hi = (c + self.after).min(self.channels - 1);
        sums.fill(0.0);
        for k in lo..=hi {
            let xk = &image[k * self.inner..][..self.inner];
            for (s, &v) in sums.iter_mut().zip(xk) {
                *s += v * v;
            }
        }
        let xc = &image[c * self.inner..][..self.inner];
        let (scale, bias) = (self.scale, self.bias);
        let terms = out.iter_mut().zip(xc).zip(sums.iter());
        if self.beta == 0.75 {
            for ((o, &v), &s) in terms {
                let r = (bias + scale * s).sqrt();
                *o = v / (r * r.sqrt());
            }
        } else if self.beta == 0.5 {
            for ((o, &v), &s) in terms {
                *o = v / (bias + scale * s).sqrt();
            }
        } else if self.beta == 1.0 {
            for ((o, &v), &s) in terms {
                *o = v / (bias + scale * s);
            }
        } else {
            let beta = self.beta;
            for ((o, &v), &s) in terms {
                *o = v / (bias + scale * s).powf(beta);
            }
        }
    }
}
