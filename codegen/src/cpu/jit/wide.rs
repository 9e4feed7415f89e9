//! Helpers in 512- or 256-bit code that generated code calls on buffers: a row's max and
//! Σ e^(x - shift) (optionally storing each term), for softmax rows; and exp, tanh, erf and
//! sigmoid in place, for pointwise kernels (see `pointwise.rs`). Cranelift's x86 vectors are
//! 128 bits wide and these functions are long code, so they run several times faster here.
//!
//! tanh, erf and sigmoid are [`math`]'s formulas on top of each width's `exp`, which is
//! [`math::exp`]'s range reduction and polynomial. The AVX2 version follows it step
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

use crate::cpu::jit::math::{self, EXP_BIAS, EXP_C1, EXP_C2, EXP_HI, EXP_LO, EXP_POLY, MAGIC};
use crate::kernel::UnaryFn;
use std::sync::OnceLock;

#[macro_use]
mod kernels;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(test)]
mod tests;

/// The functions [`tf_wide_unary`] computes, by their code in its `f` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WideFn {
    Exp = 0,
    Tanh = 1,
    Erf = 2,
    Sigmoid = 3,
}

impl WideFn {
    /// The helper for a kernel unary function, if there is one.
    pub(crate) fn of(f: UnaryFn) -> Option<WideFn> {
        match f {
            UnaryFn::Exp => Some(WideFn::Exp),
            UnaryFn::Tanh => Some(WideFn::Tanh),
            UnaryFn::Erf => Some(WideFn::Erf),
            UnaryFn::Sigmoid => Some(WideFn::Sigmoid),
            UnaryFn::Neg
            | UnaryFn::Abs
            | UnaryFn::Sign
            | UnaryFn::Log
            | UnaryFn::Sqrt
            | UnaryFn::Recip
            | UnaryFn::Floor
            | UnaryFn::Ceil
            | UnaryFn::Round
            | UnaryFn::Sin
            | UnaryFn::Cos
            | UnaryFn::Not => None,
        }
    }

    fn from_code(code: i64) -> Option<WideFn> {
        [WideFn::Exp, WideFn::Tanh, WideFn::Erf, WideFn::Sigmoid]
            .into_iter()
            .find(|f| *f as i64 == code)
    }

    /// The function in plain Rust (the portable width).
    fn portable(self, x: f32) -> f32 {
        match self {
            WideFn::Exp => exp_portable(x),
            WideFn::Tanh => x.tanh(),
            WideFn::Erf => erf_portable(x),
            WideFn::Sigmoid => 1.0 / (1.0 + exp_portable(-x)),
        }
    }
}

/// erf by Abramowitz & Stegun 7.1.26 with the Taylor series near 0 (as [`math::erf`]).
fn erf_portable(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    if a < math::ERF_SMALL {
        return math::ERF_TAYLOR[1..]
            .iter()
            .fold(math::ERF_TAYLOR[0], |acc, &k| acc * z + k)
            * x;
    }
    let t = 1.0 / (1.0 + math::ERF_P * a);
    let q = math::ERF_Q[1..]
        .iter()
        .fold(math::ERF_Q[0], |acc, &k| acc * t + k);
    (1.0 - q * t * exp_portable(-z)).copysign(x)
}

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

/// `p[i] = f(p[i])` for `i < n`, `f` a [`WideFn`] code (an unknown code leaves `p` as it is).
///
/// # Safety
/// `p` is valid for reads and writes of `n` f32 (n ≥ 0).
pub(crate) unsafe extern "C" fn tf_wide_unary(f: i64, p: *mut f32, n: i64) {
    let n = n.max(0) as usize;
    if let Some(f) = WideFn::from_code(f) {
        // SAFETY: the caller passes n elements (a kernel's stack buffer).
        unsafe { unary(Width::host(), f, p, n) }
    }
}

/// [`tf_wide_unary`] at a given width.
///
/// # Safety
/// As [`tf_wide_unary`]; `w` is supported by the host.
pub(crate) unsafe fn unary(w: Width, f: WideFn, p: *mut f32, n: usize) {
    match w {
        // SAFETY: as in `row_max`.
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { avx512::unary(f, p, n) },
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { avx2::unary(f, p, n) },
        _ => {
            for i in 0..n {
                // SAFETY: i < n, per the contract.
                unsafe { *p.add(i) = f.portable(*p.add(i)) };
            }
        }
    }
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
