//! The wide helpers at 8 lanes (AVX2 with FMA).

use super::super::math::{
    ERF_P, ERF_Q, ERF_SMALL, ERF_TAYLOR, EXP_BIAS, EXP_C1, EXP_C2, EXP_HI, EXP_LO, EXP_POLY, MAGIC,
    TANH_POLY, TANH_SMALL,
};
use super::WideFn;
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

#[target_feature(enable = "avx2,fma")]
fn div(a: V, b: V) -> V {
    _mm256_div_ps(a, b)
}
#[target_feature(enable = "avx2,fma")]
fn abs(x: V) -> V {
    _mm256_andnot_ps(splat(-0.0), x)
}
/// The magnitude of `mag` with the sign of `sign`.
#[target_feature(enable = "avx2,fma")]
fn copysign(mag: V, sign: V) -> V {
    _mm256_or_ps(abs(mag), _mm256_and_ps(sign, splat(-0.0)))
}
/// `a < b ? t : f` per lane (false for NaN).
#[target_feature(enable = "avx2,fma")]
fn lt_select(a: V, b: V, t: V, f: V) -> V {
    select(lt(a, b), t, f)
}

wide_kernels!("avx2,fma", 8);
