//! The wide helpers at 16 lanes (AVX-512F).

use super::super::math::{
    ERF_P, ERF_Q, ERF_SMALL, ERF_TAYLOR, EXP_C1, EXP_C2, EXP_POLY, TANH_POLY, TANH_SMALL,
};
use super::WideFn;
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

#[target_feature(enable = "avx512f")]
fn div(a: V, b: V) -> V {
    _mm512_div_ps(a, b)
}
#[target_feature(enable = "avx512f")]
fn abs(x: V) -> V {
    bits_and(x, 0x7FFF_FFFF)
}
/// The magnitude of `mag` with the sign of `sign`.
#[target_feature(enable = "avx512f")]
fn copysign(mag: V, sign: V) -> V {
    let m = _mm512_castps_si512(abs(mag));
    let s = _mm512_castps_si512(bits_and(sign, i32::MIN));
    _mm512_castsi512_ps(_mm512_or_si512(m, s))
}
#[target_feature(enable = "avx512f")]
fn bits_and(x: V, mask: i32) -> V {
    _mm512_castsi512_ps(_mm512_and_si512(
        _mm512_castps_si512(x),
        _mm512_set1_epi32(mask),
    ))
}
/// `a < b ? t : f` per lane (false for NaN).
#[target_feature(enable = "avx512f")]
fn lt_select(a: V, b: V, t: V, f: V) -> V {
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b), f, t)
}

wide_kernels!("avx512f", 16);
