//! Lowering of the kernel IR's scalar operations to CLIF, for one value or an f32x4 vector.
//!
//! Value representation: `F32` is `f32` / `f32x4`; `I32`, `I64` are scalars only; `Bool` is an
//! `i8` holding 0 or 1 as a scalar and an `i32x4` all-ones/all-zeros mask as a vector (what
//! vector comparisons give).

use crate::cpu::jit::libcalls::{LibFn, Libs};
use crate::cpu::jit::math;
use crate::error::CodegenError;
use crate::kernel::{BinaryFn, Scalar, UnaryFn};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value, types};
use cranelift_frontend::FunctionBuilder;

/// How many lanes a value has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lanes {
    One,
    Four,
}

impl Lanes {
    pub(crate) fn count(self) -> i64 {
        match self {
            Lanes::One => 1,
            Lanes::Four => 4,
        }
    }

    pub(crate) fn f32(self) -> Type {
        match self {
            Lanes::One => types::F32,
            Lanes::Four => types::F32X4,
        }
    }

    pub(crate) fn i32(self) -> Type {
        match self {
            Lanes::One => types::I32,
            Lanes::Four => types::I32X4,
        }
    }
}

/// The code shape: lanes and whether the host has FMA.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cx {
    pub lanes: Lanes,
    pub fma: bool,
}

impl Cx {
    pub(crate) fn with(self, lanes: Lanes) -> Cx {
        Cx { lanes, ..self }
    }

    pub(crate) fn fconst(self, b: &mut FunctionBuilder, c: f32) -> Value {
        let s = b.ins().f32const(c);
        self.splat_f(b, s)
    }

    pub(crate) fn iconst(self, b: &mut FunctionBuilder, c: i32) -> Value {
        let s = b.ins().iconst(types::I32, c as i64);
        match self.lanes {
            Lanes::One => s,
            Lanes::Four => b.ins().splat(types::I32X4, s),
        }
    }

    /// A scalar f32 broadcast to this shape.
    pub(crate) fn splat_f(self, b: &mut FunctionBuilder, s: Value) -> Value {
        match self.lanes {
            Lanes::One => s,
            Lanes::Four => b.ins().splat(types::F32X4, s),
        }
    }

    /// A scalar bool (i8 0/1) as this shape's bool.
    pub(crate) fn splat_bool(self, b: &mut FunctionBuilder, s: Value) -> Value {
        match self.lanes {
            Lanes::One => s,
            Lanes::Four => {
                let w = b.ins().uextend(types::I32, s);
                let m = b.ins().ineg(w);
                b.ins().splat(types::I32X4, m)
            }
        }
    }

    pub(crate) fn f_to_bits(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().bitcast(self.lanes.i32(), MemFlagsData::new(), x)
    }

    pub(crate) fn bits_to_f(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().bitcast(self.lanes.f32(), MemFlagsData::new(), x)
    }

    /// `a * x + c`, fused when the host has FMA.
    pub(crate) fn mul_add(self, b: &mut FunctionBuilder, a: Value, x: Value, c: Value) -> Value {
        if self.fma {
            b.ins().fma(a, x, c)
        } else {
            let p = b.ins().fmul(a, x);
            b.ins().fadd(p, c)
        }
    }

    /// Horner's rule: `((c[0] x + c[1]) x + c[2]) ...`, coefficients highest degree first.
    pub(crate) fn horner(self, b: &mut FunctionBuilder, x: Value, c: &[f32]) -> Value {
        let mut acc = self.fconst(b, c[0]);
        for &k in &c[1..] {
            let kk = self.fconst(b, k);
            acc = self.mul_add(b, acc, x, kk);
        }
        acc
    }

    /// `mag` with the sign of `sign` (bitwise: x86 has no vector `fcopysign` in Cranelift).
    pub(crate) fn copysign(self, b: &mut FunctionBuilder, mag: Value, sign: Value) -> Value {
        let m = self.f_to_bits(b, mag);
        let s = self.f_to_bits(b, sign);
        let abs_mask = self.iconst(b, 0x7FFF_FFFF);
        let sign_mask = self.iconst(b, i32::MIN);
        let m = b.ins().band(m, abs_mask);
        let s = b.ins().band(s, sign_mask);
        let r = b.ins().bor(m, s);
        self.bits_to_f(b, r)
    }

    /// `mask ? a : b` over floats, `mask` a bool of this shape.
    pub(crate) fn select_f(
        self,
        b: &mut FunctionBuilder,
        mask: Value,
        x: Value,
        y: Value,
    ) -> Value {
        match self.lanes {
            Lanes::One => b.ins().select(mask, x, y),
            Lanes::Four => {
                let m = b.ins().bitcast(types::F32X4, MemFlagsData::new(), mask);
                b.ins().bitselect(m, x, y)
            }
        }
    }
}

fn bad(what: &str, ty: Scalar) -> CodegenError {
    CodegenError::Unsupported(format!("{what} on {ty:?} in a compiled kernel"))
}

/// A constant of type `ty` (a scalar: callers splat it where needed).
pub(crate) fn constant(b: &mut FunctionBuilder, value: f64, ty: Scalar) -> Value {
    match ty {
        Scalar::F32 => b.ins().f32const(value as f32),
        Scalar::I32 => b.ins().iconst(types::I32, value as i32 as i64),
        Scalar::I64 => b.ins().iconst(types::I64, value as i64),
        Scalar::Bool => b.ins().iconst(types::I8, (value != 0.0) as i64),
    }
}

fn int_ty(ty: Scalar) -> Type {
    match ty {
        Scalar::I64 => types::I64,
        Scalar::I32 => types::I32,
        Scalar::F32 | Scalar::Bool => types::I8,
    }
}

/// Calls a scalar helper on every lane.
fn per_lane(b: &mut FunctionBuilder, cx: Cx, libs: &mut Libs, f: LibFn, args: &[Value]) -> Value {
    match cx.lanes {
        Lanes::One => libs.call(b, f, args),
        Lanes::Four => {
            let mut out = None;
            for lane in 0..4u8 {
                let xs: Vec<Value> = args.iter().map(|&a| b.ins().extractlane(a, lane)).collect();
                let r = libs.call(b, f, &xs);
                out = Some(match out {
                    None => b.ins().splat(types::F32X4, r),
                    Some(v) => b.ins().insertlane(v, r, lane),
                });
            }
            out.unwrap_or(args[0])
        }
    }
}

/// One-operand function `f` of `x` of type `ty`.
pub(crate) fn unary(
    b: &mut FunctionBuilder,
    cx: Cx,
    libs: &mut Libs,
    f: UnaryFn,
    x: Value,
    ty: Scalar,
) -> Result<Value, CodegenError> {
    if ty == Scalar::Bool {
        return match f {
            UnaryFn::Not => Ok(match cx.lanes {
                Lanes::One => b.ins().bxor_imm_u(x, 1),
                Lanes::Four => b.ins().bnot(x),
            }),
            other => Err(bad(&format!("{other:?}"), ty)),
        };
    }
    if ty != Scalar::F32 {
        return Ok(match f {
            UnaryFn::Neg => b.ins().ineg(x),
            UnaryFn::Abs => b.ins().iabs(x),
            UnaryFn::Sign => {
                let t = int_ty(ty);
                let lo = b.ins().iconst(t, -1);
                let hi = b.ins().iconst(t, 1);
                let m = b.ins().smax(x, lo);
                b.ins().smin(m, hi)
            }
            other => return Err(bad(&format!("{other:?}"), ty)),
        });
    }
    Ok(match f {
        UnaryFn::Neg => b.ins().fneg(x),
        UnaryFn::Abs => b.ins().fabs(x),
        UnaryFn::Sign => {
            // 1, -1, or x itself for ±0 and NaN.
            let zero = cx.fconst(b, 0.0);
            let one = cx.fconst(b, 1.0);
            let minus = cx.fconst(b, -1.0);
            let pos = b.ins().fcmp(FloatCC::GreaterThan, x, zero);
            let neg = b.ins().fcmp(FloatCC::LessThan, x, zero);
            let r = cx.select_f(b, neg, minus, x);
            cx.select_f(b, pos, one, r)
        }
        UnaryFn::Exp => math::exp(b, cx, x),
        UnaryFn::Log => math::log(b, cx, x),
        UnaryFn::Sqrt => b.ins().sqrt(x),
        UnaryFn::Recip => {
            let one = cx.fconst(b, 1.0);
            b.ins().fdiv(one, x)
        }
        UnaryFn::Tanh => math::tanh(b, cx, x),
        UnaryFn::Erf => math::erf(b, cx, x),
        UnaryFn::Sigmoid => math::sigmoid(b, cx, x),
        UnaryFn::Floor => b.ins().floor(x),
        UnaryFn::Ceil => b.ins().ceil(x),
        UnaryFn::Round => b.ins().nearest(x),
        UnaryFn::Sin => per_lane(b, cx, libs, LibFn::Sin, &[x]),
        UnaryFn::Cos => per_lane(b, cx, libs, LibFn::Cos, &[x]),
        UnaryFn::Not => return Err(bad("Not", ty)),
    })
}

/// Two-operand function `f` of `x`, `y`, both of type `ty`.
pub(crate) fn binary(
    b: &mut FunctionBuilder,
    cx: Cx,
    libs: &mut Libs,
    f: BinaryFn,
    x: Value,
    y: Value,
    ty: Scalar,
) -> Result<Value, CodegenError> {
    let float_cc = |f: BinaryFn| match f {
        BinaryFn::Eq => Some(FloatCC::Equal),
        BinaryFn::Lt => Some(FloatCC::LessThan),
        BinaryFn::Le => Some(FloatCC::LessThanOrEqual),
        BinaryFn::Gt => Some(FloatCC::GreaterThan),
        BinaryFn::Ge => Some(FloatCC::GreaterThanOrEqual),
        _ => None,
    };
    let int_cc = |f: BinaryFn, signed: bool| match f {
        BinaryFn::Eq => Some(IntCC::Equal),
        BinaryFn::Lt if signed => Some(IntCC::SignedLessThan),
        BinaryFn::Le if signed => Some(IntCC::SignedLessThanOrEqual),
        BinaryFn::Gt if signed => Some(IntCC::SignedGreaterThan),
        BinaryFn::Ge if signed => Some(IntCC::SignedGreaterThanOrEqual),
        BinaryFn::Lt => Some(IntCC::UnsignedLessThan),
        BinaryFn::Le => Some(IntCC::UnsignedLessThanOrEqual),
        BinaryFn::Gt => Some(IntCC::UnsignedGreaterThan),
        BinaryFn::Ge => Some(IntCC::UnsignedGreaterThanOrEqual),
        _ => None,
    };
    match ty {
        Scalar::F32 => Ok(match f {
            BinaryFn::Add => b.ins().fadd(x, y),
            BinaryFn::Sub => b.ins().fsub(x, y),
            BinaryFn::Mul => b.ins().fmul(x, y),
            BinaryFn::Div => b.ins().fdiv(x, y),
            // NaN if either is NaN, as the interpreter's Max and Min.
            BinaryFn::Max => b.ins().fmax(x, y),
            BinaryFn::Min => b.ins().fmin(x, y),
            BinaryFn::Pow => per_lane(b, cx, libs, LibFn::Pow, &[x, y]),
            BinaryFn::Eq | BinaryFn::Lt | BinaryFn::Le | BinaryFn::Gt | BinaryFn::Ge => {
                let cc = float_cc(f).ok_or_else(|| bad("comparison", ty))?;
                b.ins().fcmp(cc, x, y)
            }
            BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => return Err(bad("logic", ty)),
        }),
        Scalar::I32 | Scalar::I64 => Ok(match f {
            BinaryFn::Add => b.ins().iadd(x, y),
            BinaryFn::Sub => b.ins().isub(x, y),
            BinaryFn::Mul => b.ins().imul(x, y),
            BinaryFn::Max => b.ins().smax(x, y),
            BinaryFn::Min => b.ins().smin(x, y),
            BinaryFn::Eq | BinaryFn::Lt | BinaryFn::Le | BinaryFn::Gt | BinaryFn::Ge => {
                let cc = int_cc(f, true).ok_or_else(|| bad("comparison", ty))?;
                b.ins().icmp(cc, x, y)
            }
            BinaryFn::Div | BinaryFn::Pow | BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => {
                return Err(bad(&format!("{f:?}"), ty));
            }
        }),
        Scalar::Bool => Ok(match (f, cx.lanes) {
            (BinaryFn::And, _) | (BinaryFn::Min, Lanes::Four) => b.ins().band(x, y),
            (BinaryFn::Or, _) | (BinaryFn::Max, Lanes::Four) => b.ins().bor(x, y),
            (BinaryFn::Xor, _) => b.ins().bxor(x, y),
            (BinaryFn::Max, Lanes::One) => b.ins().umax(x, y),
            (BinaryFn::Min, Lanes::One) => b.ins().umin(x, y),
            (
                BinaryFn::Eq | BinaryFn::Lt | BinaryFn::Le | BinaryFn::Gt | BinaryFn::Ge,
                Lanes::One,
            ) => {
                let cc = int_cc(f, false).ok_or_else(|| bad("comparison", ty))?;
                b.ins().icmp(cc, x, y)
            }
            (BinaryFn::Eq, Lanes::Four) => {
                let d = b.ins().bxor(x, y);
                b.ins().bnot(d)
            }
            (
                BinaryFn::Add
                | BinaryFn::Sub
                | BinaryFn::Mul
                | BinaryFn::Div
                | BinaryFn::Pow
                | BinaryFn::Lt
                | BinaryFn::Le
                | BinaryFn::Gt
                | BinaryFn::Ge,
                _,
            ) => return Err(bad(&format!("{f:?}"), ty)),
        }),
    }
}

/// `c ? x : y` with `x`, `y` of type `ty`.
pub(crate) fn select(b: &mut FunctionBuilder, cx: Cx, c: Value, x: Value, y: Value) -> Value {
    match cx.lanes {
        Lanes::One => b.ins().select(c, x, y),
        Lanes::Four => {
            let ty = b.func.dfg.value_type(x);
            let m = if ty == types::I32X4 {
                c
            } else {
                b.ins().bitcast(ty, MemFlagsData::new(), c)
            };
            b.ins().bitselect(m, x, y)
        }
    }
}

/// Numeric conversion of `x` from `from` to `to`: float to int saturates (NaN to 0), to bool
/// is `!= 0` (NaN is true), int narrowing wraps.
pub(crate) fn cast(
    b: &mut FunctionBuilder,
    cx: Cx,
    x: Value,
    from: Scalar,
    to: Scalar,
) -> Result<Value, CodegenError> {
    use Scalar as S;
    if from == to {
        return Ok(x);
    }
    Ok(match (from, to) {
        (S::F32, S::I32 | S::I64) => b.ins().fcvt_to_sint_sat(int_ty(to), x),
        (S::F32, S::Bool) => {
            let zero = cx.fconst(b, 0.0);
            b.ins().fcmp(FloatCC::NotEqual, x, zero)
        }
        (S::I32 | S::I64, S::F32) => b.ins().fcvt_from_sint(types::F32, x),
        (S::Bool, S::F32) => match cx.lanes {
            Lanes::One => {
                let w = b.ins().uextend(types::I32, x);
                b.ins().fcvt_from_sint(types::F32, w)
            }
            Lanes::Four => {
                let one = cx.fconst(b, 1.0);
                let m = b.ins().bitcast(types::F32X4, MemFlagsData::new(), x);
                b.ins().band(m, one)
            }
        },
        (S::I32, S::I64) => b.ins().sextend(types::I64, x),
        (S::I64, S::I32) => b.ins().ireduce(types::I32, x),
        (S::Bool, S::I32 | S::I64) => b.ins().uextend(int_ty(to), x),
        (S::I32 | S::I64, S::Bool) => b.ins().icmp_imm_s(IntCC::NotEqual, x, 0),
        (S::F32, S::F32) | (S::I32, S::I32) | (S::I64, S::I64) | (S::Bool, S::Bool) => x,
    })
}
