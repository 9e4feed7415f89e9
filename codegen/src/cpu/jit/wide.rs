//! Row statistics in 512- or 256-bit code, which row kernels call on their buffered row:
//! the row's max, and Σ e^(x - shift) (optionally storing each term). Cranelift's x86 vectors
//! are 128 bits wide and `exp` is long code, so softmax's exp pass runs several times faster
//! here than in generated code.
//!
//! `exp` is [`math::exp`]'s range reduction and polynomial. The AVX2 version follows it step
//! for step (each term bit-identical to generated code's on an FMA host); the AVX-512 version
//! evaluates the polynomial by Horner's rule to the constant term and scales with `vscalefps`,
//! which also gives overflow (inf), underflow (gradual, to 0) and NaN their IEEE results, so
//! it needs no clamps or selects: 14 instructions a vector instead of 23. Both keep
//! `math::exp`'s accuracy (relative error below 2e-6; tested).
//!
//! Invariants: the helpers read `n` elements of `src` and write `n` of `dst` (when not null),
//! nothing else; the AVX-512 and AVX2 versions run only where [`Width::host`] found the
//! features; elsewhere the portable version runs.
//!
//! NaN: `max` may skip a NaN, which is harmless to its callers: a NaN element makes its own
//! term NaN, so the sum, and every result normalized by it, is NaN as when the max is NaN.

use crate::cpu::jit::math::{EXP_BIAS, EXP_C1, EXP_C2, EXP_HI, EXP_LO, EXP_POLY, MAGIC};
use std::sync::OnceLock;

/// The vector width the helpers use on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    /// AVX-512F: 16 lanes.
    Avx512,
    /// AVX2 with FMA: 8 lanes.
    Avx2,
    /// Plain Rust (hosts with neither; generated code does not call the helpers there).
    Portable,
}

impl Width {
    /// What this host supports, detected once.
    pub(crate) fn host() -> Width {
        static HOST: OnceLock<Width> = OnceLock::new();
        *HOST.get_or_init(detect)
    }

    /// Whether the helpers beat 4-lane generated code here.
    pub(crate) fn is_wide(self) -> bool {
        self != Width::Portable
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Width {
    if std::arch::is_x86_feature_detected!("avx512f") {
        Width::Avx512
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        Width::Avx2
    } else {
        Width::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Width {
    Width::Portable
}

/// The max of `p[..n]` (-inf for an empty row).
///
/// # Safety
/// `p` is valid for reads of `n` f32 (n ≥ 0).
pub(crate) unsafe extern "C" fn tf_row_max(p: *const f32, n: i64) -> f32 {
    let n = n.max(0) as usize;
    // SAFETY: the caller passes a row of n readable f32 (the kernel's stack buffer).
    unsafe { row_max(Width::host(), p, n) }
}

/// Σ e^(src[i] - shift) over `i < n`, storing each term to `dst[i]` when `dst` is not null.
///
/// # Safety
/// `src` is valid for reads and `dst` (if not null) for writes of `n` f32; they are equal or
/// do not overlap.
pub(crate) unsafe extern "C" fn tf_row_exp_sum(
    src: *const f32,
    dst: *mut f32,
    n: i64,
    shift: f32,
) -> f32 {
    let n = n.max(0) as usize;
    // SAFETY: as documented; the kernel passes its stack buffer for both.
    unsafe { row_exp_sum(Width::host(), src, dst, n, shift) }
}

/// [`tf_row_max`] at a given width (tests call each width the host has).
///
/// # Safety
/// As [`tf_row_max`]; `w` is supported by the host.
pub(crate) unsafe fn row_max(w: Width, p: *const f32, n: usize) -> f32 {
    match w {
        // SAFETY: `w` was detected on this host (or is forced by a test that checked it).
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { avx512::max(p, n) },
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { avx2::max(p, n) },
        _ => (0..n).fold(f32::NEG_INFINITY, |m, i| {
            // SAFETY: i < n.
            let x = unsafe { *p.add(i) };
            if x > m { x } else { m }
        }),
    }
}

/// [`tf_row_exp_sum`] at a given width.
///
/// # Safety
/// As [`tf_row_exp_sum`]; `w` is supported by the host.
pub(crate) unsafe fn row_exp_sum(
    w: Width,
    src: *const f32,
    dst: *mut f32,
    n: usize,
    shift: f32,
) -> f32 {
    match w {
        // SAFETY: as in `row_max`.
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { avx512::exp_sum(src, dst, n, shift) },
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { avx2::exp_sum(src, dst, n, shift) },
        _ => {
            let mut s = 0.0f32;
            for i in 0..n {
                // SAFETY: i < n, per the contract.
                let e = exp_portable(unsafe { *src.add(i) } - shift);
                if !dst.is_null() {
                    unsafe { *dst.add(i) = e };
                }
                s += e;
            }
            s
        }
    }
}

/// [`math::exp`] in plain Rust (unfused multiply-adds, as generated code without FMA).
pub(crate) fn exp_portable(x: f32) -> f32 {
    let over = x > EXP_HI;
    let xc = if over { EXP_HI } else { x };
    let xc = if xc < EXP_LO { EXP_LO } else { xc };
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = n * EXP_C1 + xc;
    let r = n * EXP_C2 + r;
    let p = EXP_POLY[1..]
        .iter()
        .fold(EXP_POLY[0], |acc, &k| acc * r + k);
    let y = p * (r * r) + r + 1.0;
    let scale = f32::from_bits((t.to_bits() as i32).wrapping_add(EXP_BIAS).wrapping_shl(23) as u32);
    if over { f32::INFINITY } else { (y + y) * scale }
}

/// The row loops over a vector type, written once: `$lanes` elements a step, the tail padded
/// with -inf (a zero term, and neutral for the max) in a stack copy.
macro_rules! row_loops {
    ($feature:literal, $lanes:literal) => {
        /// # Safety
        /// `p` is valid for reads of `n` f32.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn max(p: *const f32, n: usize) -> f32 {
            let (mut a, mut b) = (splat(f32::NEG_INFINITY), splat(f32::NEG_INFINITY));
            let mut i = 0;
            while i + 2 * $lanes <= n {
                // SAFETY: i + 2·lanes ≤ n.
                a = vmax(a, unsafe { load(p.add(i)) });
                b = vmax(b, unsafe { load(p.add(i + $lanes)) });
                i += 2 * $lanes;
            }
            if i + $lanes <= n {
                a = vmax(a, unsafe { load(p.add(i)) });
                i += $lanes;
            }
            if i < n {
                let mut pad = [f32::NEG_INFINITY; $lanes];
                // SAFETY: n - i < lanes elements remain.
                unsafe { std::ptr::copy_nonoverlapping(p.add(i), pad.as_mut_ptr(), n - i) };
                b = vmax(b, unsafe { load(pad.as_ptr()) });
            }
            hmax(vmax(a, b))
        }

        /// # Safety
        /// `src` readable and `dst` (if not null) writable for `n` f32; equal or disjoint.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn exp_sum(src: *const f32, dst: *mut f32, n: usize, shift: f32) -> f32 {
            let sh = splat(shift);
            let (mut a, mut b) = (splat(0.0), splat(0.0));
            let mut i = 0;
            while i + 2 * $lanes <= n {
                // SAFETY: i + 2·lanes ≤ n.
                let e0 = exp(sub(unsafe { load(src.add(i)) }, sh));
                let e1 = exp(sub(unsafe { load(src.add(i + $lanes)) }, sh));
                if !dst.is_null() {
                    unsafe {
                        store(dst.add(i), e0);
                        store(dst.add(i + $lanes), e1);
                    }
                }
                a = add(a, e0);
                b = add(b, e1);
                i += 2 * $lanes;
            }
            while i < n {
                let rest = (n - i).min($lanes);
                let mut pad = [f32::NEG_INFINITY; $lanes];
                // SAFETY: `rest` elements remain from i.
                unsafe { std::ptr::copy_nonoverlapping(src.add(i), pad.as_mut_ptr(), rest) };
                let e = exp(sub(unsafe { load(pad.as_ptr()) }, sh));
                if !dst.is_null() {
                    unsafe {
                        store(pad.as_mut_ptr(), e);
                        std::ptr::copy_nonoverlapping(pad.as_ptr(), dst.add(i), rest);
                    }
                }
                // Pad lanes hold e^(-inf - shift) = 0 unless shift is -inf or NaN, when every
                // real term is NaN too.
                a = add(a, e);
                i += rest;
            }
            hsum(add(a, b))
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::*;
    use std::arch::x86_64::*;

    type V = __m512;

    #[target_feature(enable = "avx512f")]
    fn splat(x: f32) -> V {
        _mm512_set1_ps(x)
    }
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f32) -> V {
        // SAFETY: the caller passes 16 readable f32.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[target_feature(enable = "avx512f")]
    unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: the caller passes 16 writable f32.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[target_feature(enable = "avx512f")]
    fn add(a: V, b: V) -> V {
        _mm512_add_ps(a, b)
    }
    #[target_feature(enable = "avx512f")]
    fn sub(a: V, b: V) -> V {
        _mm512_sub_ps(a, b)
    }
    #[target_feature(enable = "avx512f")]
    fn mul(a: V, b: V) -> V {
        _mm512_mul_ps(a, b)
    }
    #[target_feature(enable = "avx512f")]
    fn fma(a: V, b: V, c: V) -> V {
        _mm512_fmadd_ps(a, b, c)
    }
    #[target_feature(enable = "avx512f")]
    fn vmax(a: V, b: V) -> V {
        _mm512_max_ps(a, b)
    }
    #[target_feature(enable = "avx512f")]
    fn hsum(v: V) -> f32 {
        _mm512_reduce_add_ps(v)
    }
    #[target_feature(enable = "avx512f")]
    fn hmax(v: V) -> f32 {
        _mm512_reduce_max_ps(v)
    }

    /// e^x per lane: x clamped to [-104, 89] (beyond which f32 results are 0 and inf; NaN
    /// passes), x = n ln2 + r, e^r by Horner's rule, then r·2^n by `vscalefps`.
    #[target_feature(enable = "avx512f")]
    fn exp(x: V) -> V {
        let x = _mm512_min_ps(splat(89.0), _mm512_max_ps(splat(-104.0), x));
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(mul(
            x,
            splat(std::f32::consts::LOG2_E),
        ));
        let r = fma(n, splat(EXP_C1), x);
        let r = fma(n, splat(EXP_C2), r);
        let mut p = splat(EXP_POLY[0]);
        for &k in &EXP_POLY[1..] {
            p = fma(p, r, splat(k));
        }
        let p = fma(p, r, splat(1.0));
        let p = fma(p, r, splat(1.0));
        _mm512_scalef_ps(p, n)
    }

    row_loops!("avx512f", 16);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    type V = __m256;
    /// A lane mask: all ones or all zeros per lane.
    type M = __m256;

    #[target_feature(enable = "avx2,fma")]
    fn splat(x: f32) -> V {
        _mm256_set1_ps(x)
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(p: *const f32) -> V {
        // SAFETY: the caller passes 8 readable f32.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: the caller passes 8 writable f32.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[target_feature(enable = "avx2,fma")]
    fn add(a: V, b: V) -> V {
        _mm256_add_ps(a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    fn sub(a: V, b: V) -> V {
        _mm256_sub_ps(a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    fn mul(a: V, b: V) -> V {
        _mm256_mul_ps(a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    fn fma(a: V, b: V, c: V) -> V {
        _mm256_fmadd_ps(a, b, c)
    }
    #[target_feature(enable = "avx2,fma")]
    fn vmax(a: V, b: V) -> V {
        _mm256_max_ps(a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    fn gt(a: V, b: V) -> M {
        _mm256_cmp_ps::<_CMP_GT_OQ>(a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    fn lt(a: V, b: V) -> M {
        _mm256_cmp_ps::<_CMP_LT_OQ>(a, b)
    }
    /// `m ? t : f` per lane.
    #[target_feature(enable = "avx2,fma")]
    fn select(m: M, t: V, f: V) -> V {
        _mm256_blendv_ps(f, t, m)
    }
    /// 2^(n-1) from t = MAGIC + n: (bits(t) + bias) << 23, as f32 bits.
    #[target_feature(enable = "avx2,fma")]
    fn exp2_bits(t: V, bias: i32) -> V {
        let e = _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(bias));
        _mm256_castsi256_ps(_mm256_slli_epi32::<23>(e))
    }
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: V) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
        _mm_cvtss_f32(s)
    }
    #[target_feature(enable = "avx2,fma")]
    fn hmax(v: V) -> f32 {
        let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_max_ss(s, _mm_shuffle_ps::<1>(s, s));
        _mm_cvtss_f32(s)
    }

    /// e^x per lane: [`math::exp`]'s steps.
    #[target_feature(enable = "avx2,fma")]
    fn exp(x: V) -> V {
        let hi = splat(EXP_HI);
        let over = gt(x, hi);
        let xc = select(over, hi, x);
        let lo = splat(EXP_LO);
        let xc = select(lt(xc, lo), lo, xc);
        let magic = splat(MAGIC);
        let t = fma(xc, splat(std::f32::consts::LOG2_E), magic);
        let n = sub(t, magic);
        let r = fma(n, splat(EXP_C1), xc);
        let r = fma(n, splat(EXP_C2), r);
        let mut p = splat(EXP_POLY[0]);
        for &k in &EXP_POLY[1..] {
            p = fma(p, r, splat(k));
        }
        let y = fma(p, mul(r, r), r);
        let y = add(y, splat(1.0));
        let scale = exp2_bits(t, EXP_BIAS);
        let out = mul(add(y, y), scale);
        select(over, splat(f32::INFINITY), out)
    }

    row_loops!("avx2,fma", 8);
}

#[cfg(test)]
mod tests;
