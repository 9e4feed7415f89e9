//! Elementwise ops as body instructions: which ops and dtypes kernels compute exactly like
//! `ir::interp` (up to f32 rounding), and the instruction sequence of each. Activations without
//! a scalar function of their own are compositions (LeakyRelu is a select, Gelu an erf or tanh
//! polynomial, Softplus a log of an exp...).

use super::analysis::{Info, Need};
use super::builder::Builder;
use super::family::{Family, family};
use crate::kernel::{BinaryFn as B, InstId, Scalar, UnaryFn as U};
use ir::op::{BinaryOp, UnaryOp};
use ir::{NodeId, Op};

/// What an elementwise op or a Gather needs of input `slot`.
pub fn need(op: &Op, slot: usize) -> Need {
    match family(op) {
        Family::Gather(_) => Need::Buffer,
        Family::CastLike if slot == 1 => Need::Nothing,
        _ => Need::Inline,
    }
}

/// Whether node `n` lowers to body instructions.
pub fn supports(info: &Info, n: NodeId) -> bool {
    let node = info.g.node(n);
    if node.outputs.len() != 1 {
        return false;
    }
    let out = node.outputs[0];
    let Some(out_s) = info.scalar(out) else {
        return false;
    };
    let input = |k: usize| node.inputs.get(k).copied().flatten();
    let dt = |k: usize| input(k).and_then(|v| info.scalar(v));
    let float = |k: usize| dt(k) == Some(Scalar::F32);
    let int_or_float = |k: usize| matches!(dt(k), Some(Scalar::F32 | Scalar::I32 | Scalar::I64));
    let same = |a: usize, b: usize| {
        input(a).is_some()
            && input(b).is_some()
            && input(a).map(|v| info.dtype(v)) == input(b).map(|v| info.dtype(v))
    };
    match family(&node.op) {
        Family::Unary(u) => match unary_kind(u) {
            Some(UnaryKind::Float) => float(0),
            Some(UnaryKind::Numeric) => int_or_float(0),
            Some(UnaryKind::Bool) => dt(0) == Some(Scalar::Bool),
            None => false,
        },
        Family::Binary(b) => match b {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Max | BinaryOp::Min => {
                same(0, 1) && int_or_float(0)
            }
            BinaryOp::Div | BinaryOp::PRelu => same(0, 1) && float(0),
            BinaryOp::Pow => float(0) && int_or_float(1) && out_s == Scalar::F32,
            BinaryOp::Equal
            | BinaryOp::Less
            | BinaryOp::LessOrEqual
            | BinaryOp::Greater
            | BinaryOp::GreaterOrEqual => same(0, 1) && dt(0).is_some(),
            BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => {
                same(0, 1) && dt(0) == Some(Scalar::Bool)
            }
            BinaryOp::Mod { .. }
            | BinaryOp::BitwiseAnd
            | BinaryOp::BitwiseOr
            | BinaryOp::BitwiseXor
            | BinaryOp::BitShiftLeft
            | BinaryOp::BitShiftRight => false,
        },
        Family::Where => dt(0) == Some(Scalar::Bool) && same(1, 2) && dt(1).is_some(),
        Family::Clip => {
            int_or_float(0)
                && (1..3).all(|k| {
                    input(k).is_none()
                        || (same(0, k) && input(k).is_some_and(|v| info.numel(v) == 1))
                })
        }
        Family::Cast(_) | Family::CastLike => dt(0).is_some(),
        Family::SwiGlu(_) => {
            float(0) && same(0, 1) && input(0).map(|v| info.shape(v)) == input(1).map(|v| info.shape(v))
        }
        Family::Gather(_) => {
            dt(0).is_some() && matches!(dt(1), Some(Scalar::I32 | Scalar::I64))
        }
        Family::View(_)
        | Family::MatMul
        | Family::Gemm(_)
        | Family::Einsum(_)
        | Family::Conv(_)
        | Family::Softmax { .. }
        | Family::LayerNorm { .. }
        | Family::RmsNorm { .. }
        | Family::Reduce { .. }
        | Family::Other => false,
    }
}

/// Which inputs a unary op takes in kernels (`None`: the interpreter's).
enum UnaryKind {
    Float,
    Numeric,
    Bool,
}

fn unary_kind(u: UnaryOp) -> Option<UnaryKind> {
    use UnaryOp as O;
    Some(match u {
        O::Abs | O::Neg | O::Sign | O::Relu => UnaryKind::Numeric,
        O::Not => UnaryKind::Bool,
        O::Exp
        | O::Log
        | O::Sqrt
        | O::Reciprocal
        | O::Floor
        | O::Ceil
        | O::Round
        | O::Sin
        | O::Cos
        | O::Tanh
        | O::Erf
        | O::IsNaN
        | O::IsInf { .. }
        | O::Sigmoid
        | O::Softplus
        | O::Softsign
        | O::LeakyRelu { .. }
        | O::Elu { .. }
        | O::Selu { .. }
        | O::Celu { .. }
        | O::HardSigmoid { .. }
        | O::HardSwish
        | O::Swish { .. }
        | O::Gelu { .. }
        | O::Mish
        | O::ThresholdedRelu { .. }
        | O::Shrink { .. } => UnaryKind::Float,
        O::Tan
        | O::Asin
        | O::Acos
        | O::Atan
        | O::Sinh
        | O::Cosh
        | O::Asinh
        | O::Acosh
        | O::Atanh
        | O::BitwiseNot => return None,
    })
}

/// Emits the instructions of elementwise op `op` on operands `x` (one per input; `None` for an
/// omitted optional input), giving a value of type `out`. `exponent` is Pow's exponent when
/// it is a known uniform constant.
pub fn emit(
    b: &mut Builder,
    op: &Op,
    x: &[Option<InstId>],
    out: Scalar,
    exponent: Option<f64>,
) -> Result<InstId, String> {
    let arg = |k: usize| -> Result<InstId, String> {
        x.get(k)
            .copied()
            .flatten()
            .ok_or_else(|| format!("{} lacks input {k}", op.name()))
    };
    Ok(match family(op) {
        Family::Unary(u) => unary(b, u, arg(0)?),
        Family::Binary(f) => binary(b, f, arg(0)?, arg(1)?, exponent),
        Family::Where => b.select(arg(0)?, arg(1)?, arg(2)?),
        Family::Clip => {
            let mut v = arg(0)?;
            if let Some(lo) = x.get(1).copied().flatten() {
                v = b.binary(B::Max, v, lo);
            }
            if let Some(hi) = x.get(2).copied().flatten() {
                v = b.binary(B::Min, v, hi);
            }
            v
        }
        Family::Cast(_) | Family::CastLike => b.cast(arg(0)?, out),
        Family::SwiGlu(alpha) => {
            let a = arg(0)?;
            let k = b.f32(alpha);
            let s = b.binary(B::Mul, a, k);
            let s = b.unary(U::Sigmoid, s);
            let g = b.binary(B::Mul, a, s);
            b.binary(B::Mul, g, arg(1)?)
        }
        Family::Gather(_)
        | Family::View(_)
        | Family::MatMul
        | Family::Gemm(_)
        | Family::Einsum(_)
        | Family::Conv(_)
        | Family::Softmax { .. }
        | Family::LayerNorm { .. }
        | Family::RmsNorm { .. }
        | Family::Reduce { .. }
        | Family::Other => return Err(format!("{} is not elementwise", op.name())),
    })
}

fn zero(b: &mut Builder, like: InstId) -> InstId {
    let ty = b.ty(like);
    b.konst(0.0, ty)
}

fn unary(b: &mut Builder, u: UnaryOp, x: InstId) -> InstId {
    use UnaryOp as O;
    match u {
        O::Abs => b.unary(U::Abs, x),
        O::Neg => b.unary(U::Neg, x),
        O::Sign => b.unary(U::Sign, x),
        O::Relu => {
            // Max propagates NaN, as the interpreter's Relu keeps it.
            let z = zero(b, x);
            b.binary(B::Max, x, z)
        }
        O::Not => b.unary(U::Not, x),
        O::Exp => b.unary(U::Exp, x),
        O::Log => b.unary(U::Log, x),
        O::Sqrt => b.unary(U::Sqrt, x),
        O::Reciprocal => b.unary(U::Recip, x),
        O::Floor => b.unary(U::Floor, x),
        O::Ceil => b.unary(U::Ceil, x),
        O::Round => b.unary(U::Round, x),
        O::Sin => b.unary(U::Sin, x),
        O::Cos => b.unary(U::Cos, x),
        O::Tanh => b.unary(U::Tanh, x),
        O::Erf => b.unary(U::Erf, x),
        O::Sigmoid => b.unary(U::Sigmoid, x),
        O::IsNaN => {
            let eq = b.binary(B::Eq, x, x);
            b.unary(U::Not, eq)
        }
        O::IsInf {
            detect_positive,
            detect_negative,
        } => {
            let no = b.konst(0.0, Scalar::Bool);
            let mut r = no;
            if detect_positive {
                let inf = b.f32(f32::INFINITY);
                r = b.binary(B::Eq, x, inf);
            }
            if detect_negative {
                let ninf = b.f32(f32::NEG_INFINITY);
                let e = b.binary(B::Eq, x, ninf);
                r = if r == no { e } else { b.binary(B::Or, r, e) };
            }
            r
        }
        O::Softplus => softplus(b, x),
        O::Softsign => {
            let a = b.unary(U::Abs, x);
            let one = b.f32(1.0);
            let d = b.binary(B::Add, one, a);
            b.binary(B::Div, x, d)
        }
        O::LeakyRelu { alpha } => {
            let z = zero(b, x);
            let neg = b.binary(B::Lt, x, z);
            let k = b.f32(alpha);
            let s = b.binary(B::Mul, k, x);
            b.select(neg, s, x)
        }
        O::Elu { alpha } => {
            let z = zero(b, x);
            let neg = b.binary(B::Lt, x, z);
            let em1 = expm1(b, x);
            let k = b.f32(alpha);
            let s = b.binary(B::Mul, k, em1);
            b.select(neg, s, x)
        }
        O::Selu { alpha, gamma } => {
            let z = zero(b, x);
            let pos = b.binary(B::Gt, x, z);
            let e = b.unary(U::Exp, x);
            let k = b.f32(alpha);
            let ae = b.binary(B::Mul, k, e);
            let neg = b.binary(B::Sub, ae, k);
            let v = b.select(pos, x, neg);
            let g = b.f32(gamma);
            b.binary(B::Mul, g, v)
        }
        O::Celu { alpha } => {
            let z = zero(b, x);
            let pos = b.binary(B::Gt, x, z);
            let k = b.f32(alpha);
            let q = b.binary(B::Div, x, k);
            let em1 = expm1(b, q);
            let neg = b.binary(B::Mul, k, em1);
            b.select(pos, x, neg)
        }
        O::HardSigmoid { alpha, beta } => {
            let (a, c) = (b.f32(alpha), b.f32(beta));
            let v = b.binary(B::Mul, a, x);
            let v = b.binary(B::Add, v, c);
            clamp01(b, v)
        }
        O::HardSwish => {
            let six = b.f32(6.0);
            let half = b.f32(0.5);
            let v = b.binary(B::Div, x, six);
            let v = b.binary(B::Add, v, half);
            let v = clamp01(b, v);
            b.binary(B::Mul, x, v)
        }
        O::Swish { alpha } => {
            let k = b.f32(alpha);
            let s = b.binary(B::Mul, k, x);
            let s = b.unary(U::Sigmoid, s);
            b.binary(B::Mul, x, s)
        }
        O::Gelu { tanh: false } => {
            let r2 = b.f32(std::f32::consts::SQRT_2);
            let q = b.binary(B::Div, x, r2);
            let e = b.unary(U::Erf, q);
            let one = b.f32(1.0);
            let s = b.binary(B::Add, one, e);
            let half = b.f32(0.5);
            let h = b.binary(B::Mul, half, x);
            b.binary(B::Mul, h, s)
        }
        O::Gelu { tanh: true } => {
            let k = b.f32((2.0 / std::f64::consts::PI).sqrt() as f32);
            let c = b.f32(0.044715);
            let x3 = b.binary(B::Mul, x, x);
            let x3 = b.binary(B::Mul, x3, x);
            let t = b.binary(B::Mul, c, x3);
            let t = b.binary(B::Add, x, t);
            let t = b.binary(B::Mul, k, t);
            let t = b.unary(U::Tanh, t);
            let one = b.f32(1.0);
            let s = b.binary(B::Add, one, t);
            let half = b.f32(0.5);
            let h = b.binary(B::Mul, half, x);
            b.binary(B::Mul, h, s)
        }
        O::Mish => {
            let sp = softplus(b, x);
            let t = b.unary(U::Tanh, sp);
            b.binary(B::Mul, x, t)
        }
        O::ThresholdedRelu { alpha } => {
            let k = b.f32(alpha);
            let gt = b.binary(B::Gt, x, k);
            let z = zero(b, x);
            b.select(gt, x, z)
        }
        O::Shrink { bias, lambd } => {
            let (l, nl, bi) = (b.f32(lambd), b.f32(-lambd), b.f32(bias));
            let lo = b.binary(B::Lt, x, nl);
            let hi = b.binary(B::Gt, x, l);
            let plus = b.binary(B::Add, x, bi);
            let minus = b.binary(B::Sub, x, bi);
            let z = zero(b, x);
            let inner = b.select(hi, minus, z);
            b.select(lo, plus, inner)
        }
        O::Tan
        | O::Asin
        | O::Acos
        | O::Atan
        | O::Sinh
        | O::Cosh
        | O::Asinh
        | O::Acosh
        | O::Atanh
        | O::BitwiseNot => {
            // `supports` sends these to the interpreter; keep the value flowing.
            x
        }
    }
}

/// e^x - 1.
fn expm1(b: &mut Builder, x: InstId) -> InstId {
    let e = b.unary(U::Exp, x);
    let one = b.f32(1.0);
    b.binary(B::Sub, e, one)
}

/// ln(1 + e^-|x|) + max(x, 0): no overflow for large |x|.
fn softplus(b: &mut Builder, x: InstId) -> InstId {
    let a = b.unary(U::Abs, x);
    let na = b.unary(U::Neg, a);
    let e = b.unary(U::Exp, na);
    let one = b.f32(1.0);
    let s = b.binary(B::Add, one, e);
    let l = b.unary(U::Log, s);
    let z = zero(b, x);
    let m = b.binary(B::Max, x, z);
    b.binary(B::Add, l, m)
}

/// min(max(v, 0), 1), NaN kept.
fn clamp01(b: &mut Builder, v: InstId) -> InstId {
    let z = b.f32(0.0);
    let one = b.f32(1.0);
    let v = b.binary(B::Max, v, z);
    b.binary(B::Min, v, one)
}

fn binary(b: &mut Builder, f: BinaryOp, x: InstId, y: InstId, exponent: Option<f64>) -> InstId {
    match f {
        BinaryOp::Add => b.binary(B::Add, x, y),
        BinaryOp::Sub => b.binary(B::Sub, x, y),
        BinaryOp::Mul => b.binary(B::Mul, x, y),
        BinaryOp::Div => b.binary(B::Div, x, y),
        BinaryOp::Max => b.binary(B::Max, x, y),
        BinaryOp::Min => b.binary(B::Min, x, y),
        BinaryOp::Equal => b.binary(B::Eq, x, y),
        BinaryOp::Less => b.binary(B::Lt, x, y),
        BinaryOp::LessOrEqual => b.binary(B::Le, x, y),
        BinaryOp::Greater => b.binary(B::Gt, x, y),
        BinaryOp::GreaterOrEqual => b.binary(B::Ge, x, y),
        BinaryOp::And => b.binary(B::And, x, y),
        BinaryOp::Or => b.binary(B::Or, x, y),
        BinaryOp::Xor => b.binary(B::Xor, x, y),
        BinaryOp::PRelu => {
            let z = zero(b, x);
            let neg = b.binary(B::Lt, x, z);
            let s = b.binary(B::Mul, y, x);
            b.select(neg, s, x)
        }
        BinaryOp::Pow => match exponent {
            Some(e) if e == 1.0 => x,
            Some(e) if e == 2.0 => b.binary(B::Mul, x, x),
            Some(e) if e == 3.0 => {
                let x2 = b.binary(B::Mul, x, x);
                b.binary(B::Mul, x2, x)
            }
            Some(e) if e == 0.5 => b.unary(U::Sqrt, x),
            _ => {
                let y = b.cast(y, Scalar::F32);
                b.binary(B::Pow, x, y)
            }
        },
        BinaryOp::Mod { .. }
        | BinaryOp::BitwiseAnd
        | BinaryOp::BitwiseOr
        | BinaryOp::BitwiseXor
        | BinaryOp::BitShiftLeft
        | BinaryOp::BitShiftRight => x,
    }
}
