//! Polynomial approximations of exp, log, tanh, erf and sigmoid in CLIF, the same code for one
//! lane and for f32x4 (so scalar tails and vector bodies agree bit for bit), with no calls.
//!
//! Accuracy (tested in `tests/math.rs` against f64): relative error below 2e-6 on normal
//! results; ±inf, NaN and overflow behave like the libm functions. `exp` flushes results
//! below 2^-125 (x < -86.9) to zero.

// Coefficients are written as their sources publish them.
#![allow(clippy::excessive_precision)]

use crate::cpu::jit::inst::Cx;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

/// Largest x with a finite exp(x) (f32 nearest below ln(f32::MAX)).
pub(crate) const EXP_HI: f32 = 88.722_83;
/// Clamp below which the 2^n scale would underflow the exponent field.
pub(crate) const EXP_LO: f32 = -87.6;
/// 1.5 · 2^23: adding it rounds an f32 of magnitude < 2^22 to an integer, held in the low bits.
pub(crate) const MAGIC: f32 = 12_582_912.0;
/// ln 2 split in two (the high part exact in few bits), negated: r = x + n·C1 + n·C2.
pub(crate) const EXP_C1: f32 = -0.693_359_375;
pub(crate) const EXP_C2: f32 = 2.121_944_4e-4;
/// exp's polynomial in r, highest degree first.
pub(crate) const EXP_POLY: [f32; 6] = [
    1.987_569_15e-4,
    1.398_199_950_7e-3,
    8.333_451_907_3e-3,
    4.166_579_589_4e-2,
    1.666_666_545_9e-1,
    5.000_000_120_1e-1,
];
/// Added to the bits of `MAGIC + n` and shifted into the exponent field: 2^(n-1).
pub(crate) const EXP_BIAS: i32 = 126 - 0x4B40_0000;
/// tanh's odd polynomial in x² (Cephes `tanhf`), highest degree first, below [`TANH_SMALL`].
pub(crate) const TANH_POLY: [f32; 5] = [
    -5.704_988_727_45e-3,
    2.063_908_879_54e-2,
    -5.373_971_555_31e-2,
    1.333_144_220_36e-1,
    -3.333_328_194_22e-1,
];
pub(crate) const TANH_SMALL: f32 = 0.625;
/// erf's Taylor series in x², times x, below [`ERF_SMALL`]: 2/√π Σ (-1)^n x^(2n+1) / (n!
/// (2n+1)), n ≤ 6 (truncation below 1e-9 relative at 0.5).
pub(crate) const ERF_TAYLOR: [f32; 7] = [
    1.205_533_298_178_966_4e-4,
    -8.548_327_023_450_853e-4,
    5.223_977_625_442_188e-3,
    -2.686_617_064_513_125_2e-2,
    1.128_379_167_095_512_6e-1,
    -3.761_263_890_318_375_4e-1,
    std::f32::consts::FRAC_2_SQRT_PI,
];
pub(crate) const ERF_SMALL: f32 = 0.5;
/// Abramowitz & Stegun 7.1.26 above [`ERF_SMALL`]: t = 1 / (1 + P·|x|), erf = 1 - t·Q(t)·e^-x².
pub(crate) const ERF_P: f32 = 0.327_591_1;
pub(crate) const ERF_Q: [f32; 5] = [
    1.061_405_429,
    -1.453_152_027,
    1.421_413_741,
    -0.284_496_736,
    0.254_829_592,
];

/// e^x (Cephes `expf`: x = n ln2 + r, |r| ≤ ln2/2, degree-7 polynomial, scale by 2^n).
pub(crate) fn exp(b: &mut FunctionBuilder, cx: Cx, x: Value) -> Value {
    let hi = cx.fconst(b, EXP_HI);
    let lo = cx.fconst(b, EXP_LO);
    // Clamps that keep NaN (the comparisons are false for it).
    let over = b.ins().fcmp(FloatCC::GreaterThan, x, hi);
    let xc = cx.select_f(b, over, hi, x);
    let under = b.ins().fcmp(FloatCC::LessThan, xc, lo);
    let xc = cx.select_f(b, under, lo, xc);
    let log2e = cx.fconst(b, std::f32::consts::LOG2_E);
    let magic = cx.fconst(b, MAGIC);
    let t = cx.mul_add(b, xc, log2e, magic);
    let n = b.ins().fsub(t, magic);
    let c1 = cx.fconst(b, EXP_C1);
    let c2 = cx.fconst(b, EXP_C2);
    let r = cx.mul_add(b, n, c1, xc);
    let r = cx.mul_add(b, n, c2, r);
    let p = cx.horner(b, r, &EXP_POLY);
    let r2 = b.ins().fmul(r, r);
    let y = cx.mul_add(b, p, r2, r);
    let one = cx.fconst(b, 1.0);
    let y = b.ins().fadd(y, one);
    // 2^(n-1) from t's bits (t = MAGIC + n exactly): n - 1 + 127 in the exponent field, which
    // stays in [0, 254] for the clamped range; the factor 2 goes on y.
    let tb = cx.f_to_bits(b, t);
    let bias = cx.iconst(b, EXP_BIAS);
    let e = b.ins().iadd(tb, bias);
    let e = b.ins().ishl_imm_u(e, 23);
    let scale = cx.bits_to_f(b, e);
    let y2 = b.ins().fadd(y, y);
    let out = b.ins().fmul(y2, scale);
    let inf = cx.fconst(b, f32::INFINITY);
    cx.select_f(b, over, inf, out)
}

/// ln x (Cephes `logf`: x = m 2^e with m in [√½, √2), polynomial in m - 1).
pub(crate) fn log(b: &mut FunctionBuilder, cx: Cx, x: Value) -> Value {
    // Subnormals: scale by 2^23 into the normal range and take 23 off the exponent.
    let min_normal = cx.fconst(b, f32::MIN_POSITIVE);
    let tiny = b.ins().fcmp(FloatCC::LessThan, x, min_normal);
    let big = cx.fconst(b, 8_388_608.0);
    let xs = b.ins().fmul(x, big);
    let xs = cx.select_f(b, tiny, xs, x);
    let bits = cx.f_to_bits(b, xs);
    // m in [0.5, 1): the mantissa with exponent -1; e = the exponent + 1.
    let mant_mask = cx.iconst(b, 0x007F_FFFF);
    let half_bits = cx.iconst(b, 0x3F00_0000);
    let mb = b.ins().band(bits, mant_mask);
    let mb = b.ins().bor(mb, half_bits);
    let m = cx.bits_to_f(b, mb);
    let eb = b.ins().ushr_imm_u(bits, 23);
    let bias = cx.iconst(b, 126);
    let eb = b.ins().isub(eb, bias);
    let e = b.ins().fcvt_from_sint(cx.lanes.f32(), eb);
    let k23 = cx.fconst(b, 23.0);
    let e_t = b.ins().fsub(e, k23);
    let e = cx.select_f(b, tiny, e_t, e);
    // m < √½: use 2m - 1 and e - 1 (both exact), else m - 1.
    let sqrthf = cx.fconst(b, std::f32::consts::FRAC_1_SQRT_2);
    let low = b.ins().fcmp(FloatCC::LessThan, m, sqrthf);
    let one = cx.fconst(b, 1.0);
    let fa = b.ins().fsub(m, one);
    let m2 = b.ins().fadd(m, m);
    let fb = b.ins().fsub(m2, one);
    let f = cx.select_f(b, low, fb, fa);
    let e1 = b.ins().fsub(e, one);
    let e = cx.select_f(b, low, e1, e);
    let z = b.ins().fmul(f, f);
    let p = cx.horner(
        b,
        f,
        &[
            7.037_683_629_2e-2,
            -1.151_461_031_0e-1,
            1.167_699_874_0e-1,
            -1.242_014_084_6e-1,
            1.424_932_278_7e-1,
            -1.666_805_766_5e-1,
            2.000_071_476_5e-1,
            -2.499_999_399_3e-1,
            3.333_333_117_4e-1,
        ],
    );
    let fz = b.ins().fmul(f, z);
    let y = b.ins().fmul(p, fz);
    let c2 = cx.fconst(b, -2.121_944_40e-4);
    let y = cx.mul_add(b, e, c2, y);
    let mhalf = cx.fconst(b, -0.5);
    let y = cx.mul_add(b, z, mhalf, y);
    let r = b.ins().fadd(f, y);
    let c1 = cx.fconst(b, 0.693_359_375);
    let r = cx.mul_add(b, e, c1, r);
    // ln(+inf) = inf, ln(±0) = -inf, ln(x < 0) = ln(NaN) = NaN.
    let inf = cx.fconst(b, f32::INFINITY);
    let is_inf = b.ins().fcmp(FloatCC::Equal, x, inf);
    let r = cx.select_f(b, is_inf, inf, r);
    let zero = cx.fconst(b, 0.0);
    let is_zero = b.ins().fcmp(FloatCC::Equal, x, zero);
    let ninf = cx.fconst(b, f32::NEG_INFINITY);
    let r = cx.select_f(b, is_zero, ninf, r);
    let nan = cx.fconst(b, f32::NAN);
    let is_bad = b.ins().fcmp(FloatCC::UnorderedOrLessThan, x, zero);
    cx.select_f(b, is_bad, nan, r)
}

/// tanh x: an odd polynomial (Cephes `tanhf`) below 0.625, `1 - 2 / (e^2|x| + 1)` above.
pub(crate) fn tanh(b: &mut FunctionBuilder, cx: Cx, x: Value) -> Value {
    let a = b.ins().fabs(x);
    let z = b.ins().fmul(x, x);
    let p = cx.horner(b, z, &TANH_POLY);
    let pz = b.ins().fmul(p, z);
    let small = cx.mul_add(b, pz, x, x);
    let a2 = b.ins().fadd(a, a);
    let e = exp(b, cx, a2);
    let one = cx.fconst(b, 1.0);
    let two = cx.fconst(b, 2.0);
    let d = b.ins().fadd(e, one);
    let q = b.ins().fdiv(two, d);
    let large = b.ins().fsub(one, q);
    let large = cx.copysign(b, large, x);
    let limit = cx.fconst(b, TANH_SMALL);
    let is_small = b.ins().fcmp(FloatCC::LessThan, a, limit);
    cx.select_f(b, is_small, small, large)
}

/// 1 / (1 + e^-x).
pub(crate) fn sigmoid(b: &mut FunctionBuilder, cx: Cx, x: Value) -> Value {
    let nx = b.ins().fneg(x);
    let e = exp(b, cx, nx);
    let one = cx.fconst(b, 1.0);
    let d = b.ins().fadd(e, one);
    b.ins().fdiv(one, d)
}

/// erf x: its Taylor series below 0.5; above, Abramowitz & Stegun 7.1.26
/// (`1 - t(a1 + t(a2 + ...)) e^-x²`, t = 1 / (1 + p|x|), absolute error ≤ 1.5e-7).
pub(crate) fn erf(b: &mut FunctionBuilder, cx: Cx, x: Value) -> Value {
    let a = b.ins().fabs(x);
    let z = b.ins().fmul(x, x);
    let p = cx.horner(b, z, &ERF_TAYLOR);
    let small = b.ins().fmul(p, x);
    let one = cx.fconst(b, 1.0);
    let pk = cx.fconst(b, ERF_P);
    let d = cx.mul_add(b, a, pk, one);
    let t = b.ins().fdiv(one, d);
    let q = cx.horner(b, t, &ERF_Q);
    let q = b.ins().fmul(q, t);
    let nz = b.ins().fneg(z);
    let g = exp(b, cx, nz);
    let qg = b.ins().fmul(q, g);
    let large = b.ins().fsub(one, qg);
    let large = cx.copysign(b, large, x);
    let limit = cx.fconst(b, ERF_SMALL);
    let is_small = b.ins().fcmp(FloatCC::LessThan, a, limit);
    cx.select_f(b, is_small, small, large)
}
