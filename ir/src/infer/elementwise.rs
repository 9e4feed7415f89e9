//! Shape and dtype rules for elementwise ops: unary math and activations, binary ops with
//! numpy broadcasting, Where, Clip, Cast and CastLike.
//!
//! Shapes broadcast through [`broadcast_dims`] (symbolic dims kept); an input of unknown rank
//! makes the output's shape unknown. Dtype rules mirror what the kernels accept.

use super::{Known, opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::{BinaryOp, UnaryOp};
use crate::op_bail;
use crate::shape::{Shape, TensorType, broadcast_dims};

/// Which element types an op takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Domain {
    Float,
    /// Floats and integers, not bool.
    Numeric,
    Int,
    Bool,
    Any,
}

impl Domain {
    fn accepts(self, d: DType) -> bool {
        match self {
            Domain::Float => d.is_float(),
            Domain::Numeric => d != DType::Bool,
            Domain::Int => d.is_int(),
            Domain::Bool => d == DType::Bool,
            Domain::Any => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Domain::Float => "a float",
            Domain::Numeric => "a number",
            Domain::Int => "an integer",
            Domain::Bool => "a bool",
            Domain::Any => "any",
        }
    }
}

fn unary_domain(op: UnaryOp) -> Domain {
    match op {
        UnaryOp::Abs | UnaryOp::Neg | UnaryOp::Sign | UnaryOp::Relu | UnaryOp::Shrink { .. } => {
            Domain::Numeric
        }
        UnaryOp::Not => Domain::Bool,
        UnaryOp::BitwiseNot => Domain::Int,
        UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Sqrt
        | UnaryOp::Reciprocal
        | UnaryOp::Floor
        | UnaryOp::Ceil
        | UnaryOp::Round
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
        | UnaryOp::IsNaN
        | UnaryOp::IsInf { .. }
        | UnaryOp::Sigmoid
        | UnaryOp::Softplus
        | UnaryOp::Softsign
        | UnaryOp::LeakyRelu { .. }
        | UnaryOp::Elu { .. }
        | UnaryOp::Selu { .. }
        | UnaryOp::Celu { .. }
        | UnaryOp::HardSigmoid { .. }
        | UnaryOp::HardSwish
        | UnaryOp::Swish { .. }
        | UnaryOp::Gelu { .. }
        | UnaryOp::Mish
        | UnaryOp::ThresholdedRelu { .. } => Domain::Float,
    }
}

fn binary_domain(op: BinaryOp) -> Domain {
    match op {
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Pow
        | BinaryOp::Mod { .. }
        | BinaryOp::Max
        | BinaryOp::Min
        | BinaryOp::PRelu => Domain::Numeric,
        BinaryOp::Equal
        | BinaryOp::Less
        | BinaryOp::LessOrEqual
        | BinaryOp::Greater
        | BinaryOp::GreaterOrEqual => Domain::Any,
        BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => Domain::Bool,
        BinaryOp::BitwiseAnd
        | BinaryOp::BitwiseOr
        | BinaryOp::BitwiseXor
        | BinaryOp::BitShiftLeft
        | BinaryOp::BitShiftRight => Domain::Int,
    }
}

fn check_domain(name: &str, domain: Domain, d: DType) -> Result<(), OpError> {
    if !domain.accepts(d) {
        op_bail!("{name} expects {} input, got {d}", domain.describe());
    }
    Ok(())
}

/// The numpy broadcast of several shapes, `None` if any is unknown.
fn broadcast_known(tys: &[&TensorType]) -> Result<Option<Shape>, OpError> {
    let mut out: Shape = Vec::new();
    for t in tys {
        let Some(s) = &t.shape else { return Ok(None) };
        out = broadcast_dims(&out, s)?;
    }
    Ok(Some(out))
}

pub fn unary(op: UnaryOp, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    check_domain(op.name(), unary_domain(op), x.ty.dtype)?;
    let dtype = match op {
        UnaryOp::IsNaN | UnaryOp::IsInf { .. } => DType::Bool,
        _ => x.ty.dtype,
    };
    Ok(vec![TensorType {
        dtype,
        shape: x.ty.shape.clone(),
    }])
}

pub fn binary(op: BinaryOp, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let (a, b) = (req(inputs, 0)?, req(inputs, 1)?);
    let domain = binary_domain(op);
    check_domain(op.name(), domain, a.ty.dtype)?;
    check_domain(op.name(), domain, b.ty.dtype)?;
    // Pow's exponent may have another numeric dtype than its base.
    if op != BinaryOp::Pow && a.ty.dtype != b.ty.dtype {
        op_bail!(
            "{} needs inputs of one dtype, got {} and {}",
            op.name(),
            a.ty.dtype,
            b.ty.dtype
        );
    }
    if op == BinaryOp::PRelu {
        // The slope broadcasts to x (or, in the opset < 7 form, matches one axis of it).
        return Ok(vec![a.ty.clone()]);
    }
    let dtype = if op.yields_bool() {
        DType::Bool
    } else {
        a.ty.dtype
    };
    Ok(vec![TensorType {
        dtype,
        shape: broadcast_known(&[a.ty, b.ty])?,
    }])
}

pub fn where_(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let (cond, a, b) = (req(inputs, 0)?, req(inputs, 1)?, req(inputs, 2)?);
    if cond.ty.dtype != DType::Bool {
        op_bail!("the condition must be bool, got {}", cond.ty.dtype);
    }
    if a.ty.dtype != b.ty.dtype {
        op_bail!(
            "the two branches must have one dtype, got {} and {}",
            a.ty.dtype,
            b.ty.dtype
        );
    }
    Ok(vec![TensorType {
        dtype: a.ty.dtype,
        shape: broadcast_known(&[cond.ty, a.ty, b.ty])?,
    }])
}

pub fn clip(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    check_domain("Clip", Domain::Numeric, x.ty.dtype)?;
    for (i, name) in [(1, "min"), (2, "max")] {
        let Some(bound) = opt(inputs, i) else {
            continue;
        };
        if bound.ty.dtype != x.ty.dtype {
            op_bail!(
                "{name} is {}, but the input is {}",
                bound.ty.dtype,
                x.ty.dtype
            );
        }
        if let Some(shape) = &bound.ty.shape
            && shape.iter().any(|d| d.as_static().is_some_and(|n| n != 1))
        {
            op_bail!(
                "{name} must be a scalar, got shape {}",
                crate::shape::display_shape(shape)
            );
        }
    }
    Ok(vec![x.ty.clone()])
}

pub fn cast(
    to: DType,
    _saturate: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    Ok(vec![TensorType {
        dtype: to,
        shape: x.ty.shape.clone(),
    }])
}

pub fn cast_like(_saturate: bool, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let (x, like) = (req(inputs, 0)?, req(inputs, 1)?);
    Ok(vec![TensorType {
        dtype: like.ty.dtype,
        shape: x.ty.shape.clone(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Dim;

    fn ty(dtype: DType, dims: &[Dim]) -> TensorType {
        TensorType::new(dtype, dims.to_vec())
    }

    fn known(t: &TensorType) -> Option<Known<'_>> {
        Some(Known { ty: t, value: None })
    }

    #[test]
    fn binary_broadcasts_symbolic_dims_and_comparisons_give_bool() {
        let batch = Dim::Symbolic("batch".into());
        let a = ty(DType::F32, &[batch.clone(), Dim::Static(1)]);
        let b = ty(DType::F32, &[Dim::Static(4)]);
        let out = binary(BinaryOp::Less, &[known(&a), known(&b)]).unwrap();
        assert_eq!(out[0], ty(DType::Bool, &[batch, Dim::Static(4)]));
    }

    #[test]
    fn binary_rejects_mixed_dtypes_except_for_pow() {
        let a = ty(DType::I32, &[Dim::Static(2)]);
        let b = ty(DType::F32, &[Dim::Static(2)]);
        assert!(binary(BinaryOp::Add, &[known(&a), known(&b)]).is_err());
        let out = binary(BinaryOp::Pow, &[known(&a), known(&b)]).unwrap();
        assert_eq!(out[0].dtype, DType::I32);
    }

    #[test]
    fn unknown_rank_gives_unknown_shape() {
        let a = TensorType::unknown_shape(DType::F32);
        let b = ty(DType::F32, &[Dim::Static(3)]);
        let out = binary(BinaryOp::Add, &[known(&a), known(&b)]).unwrap();
        assert_eq!(out[0], TensorType::unknown_shape(DType::F32));
    }

    #[test]
    fn where_checks_its_condition_and_broadcasts_three_ways() {
        let cond = ty(DType::Bool, &[Dim::Static(2), Dim::Static(1)]);
        let a = ty(DType::I64, &[Dim::Static(3)]);
        let b = ty(DType::I64, &[]);
        let out = where_(&[known(&cond), known(&a), known(&b)]).unwrap();
        assert_eq!(out[0], ty(DType::I64, &[Dim::Static(2), Dim::Static(3)]));
        assert!(where_(&[known(&a), known(&a), known(&b)]).is_err());
    }

    #[test]
    fn predicates_give_bool_and_float_ops_reject_integers() {
        let x = ty(DType::F16, &[Dim::Static(2)]);
        assert_eq!(
            unary(UnaryOp::IsNaN, &[known(&x)]).unwrap()[0].dtype,
            DType::Bool
        );
        let i = ty(DType::I64, &[Dim::Static(2)]);
        assert!(unary(UnaryOp::Exp, &[known(&i)]).is_err());
        assert_eq!(unary(UnaryOp::Abs, &[known(&i)]).unwrap()[0], i);
    }

    #[test]
    fn cast_like_takes_the_dtype_of_its_second_input() {
        let x = ty(DType::F32, &[Dim::Static(2)]);
        let like = ty(DType::F8E4M3FN, &[]);
        let out = cast_like(true, &[known(&x), known(&like)]).unwrap();
        assert_eq!(out[0], ty(DType::F8E4M3FN, &[Dim::Static(2)]));
    }
}
