//! ONNX export of unary and binary elementwise ops (activations included), Cast and CastLike.

use super::cx::{Cx, Lowered, Spec};
use crate::dtype::DType;
use crate::error::Error;
use crate::op::{BinaryOp, UnaryOp};

pub(super) fn unary(u: UnaryOp) -> Result<Lowered, Error> {
    let s = Spec::new(u.name());
    Ok(Lowered::Node(match u {
        UnaryOp::Abs
        | UnaryOp::Neg
        | UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Sqrt
        | UnaryOp::Reciprocal
        | UnaryOp::Floor
        | UnaryOp::Ceil
        | UnaryOp::Round
        | UnaryOp::Sign
        | UnaryOp::Sin
        | UnaryOp::Cos
        | UnaryOp::Tan
        | UnaryOp::Asin
        | UnaryOp::Acos
        | UnaryOp::Atan
        | UnaryOp::Sinh
        | UnaryOp::Cosh
        | UnaryOp::Tanh
        | UnaryOp::Asinh
        | UnaryOp::Acosh
        | UnaryOp::Atanh
        | UnaryOp::Erf
        | UnaryOp::Not
        | UnaryOp::BitwiseNot
        | UnaryOp::IsNaN
        | UnaryOp::Relu
        | UnaryOp::Sigmoid
        | UnaryOp::Softplus
        | UnaryOp::Softsign
        | UnaryOp::HardSwish
        | UnaryOp::Mish => s,
        UnaryOp::IsInf {
            detect_positive,
            detect_negative,
        } => s.flag("detect_positive", detect_positive, true).flag(
            "detect_negative",
            detect_negative,
            true,
        ),
        UnaryOp::LeakyRelu { alpha } => s.float_or("alpha", alpha, 0.01),
        UnaryOp::Elu { alpha } | UnaryOp::Celu { alpha } | UnaryOp::ThresholdedRelu { alpha } => {
            s.float_or("alpha", alpha, 1.0)
        }
        UnaryOp::Selu { alpha, gamma } => s
            .float_or("alpha", alpha, 1.673_263_2)
            .float_or("gamma", gamma, 1.050_701),
        UnaryOp::HardSigmoid { alpha, beta } => {
            s.float_or("alpha", alpha, 0.2).float_or("beta", beta, 0.5)
        }
        UnaryOp::Swish { alpha } => s.float_or("alpha", alpha, 1.0).since(24),
        UnaryOp::Gelu { tanh } => {
            s.string_or("approximate", if tanh { "tanh" } else { "none" }, "none")
        }
        UnaryOp::Shrink { bias, lambd } => {
            s.float_or("bias", bias, 0.0).float_or("lambd", lambd, 0.5)
        }
    }))
}

/// A binary op. Mod before opset 28 takes `fmod = 1` exactly for floats; the other pairings
/// need opset 28.
pub(super) fn binary(cx: &Cx, b: BinaryOp) -> Result<Lowered, Error> {
    Ok(Lowered::Node(match b {
        BinaryOp::BitShiftLeft => Spec::new("BitShift").string("direction", "LEFT"),
        BinaryOp::BitShiftRight => Spec::new("BitShift").string("direction", "RIGHT"),
        BinaryOp::Mod { fmod } => {
            let s = Spec::new("Mod").flag("fmod", fmod, false);
            match cx.input_dtype(0) {
                Some(d) if d.is_float() != fmod => s.since(28),
                Some(_) | None => s,
            }
        }
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Pow
        | BinaryOp::Max
        | BinaryOp::Min
        | BinaryOp::Equal
        | BinaryOp::Less
        | BinaryOp::LessOrEqual
        | BinaryOp::Greater
        | BinaryOp::GreaterOrEqual
        | BinaryOp::And
        | BinaryOp::Or
        | BinaryOp::Xor
        | BinaryOp::BitwiseAnd
        | BinaryOp::BitwiseOr
        | BinaryOp::BitwiseXor
        | BinaryOp::PRelu => Spec::new(b.name()),
    }))
}

pub(super) fn cast(to: DType, saturate: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("Cast")
            .dtype("to", to)
            .flag("saturate", saturate, true),
    ))
}

pub(super) fn cast_like(saturate: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("CastLike").flag("saturate", saturate, true),
    ))
}
