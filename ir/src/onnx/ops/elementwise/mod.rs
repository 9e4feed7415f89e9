//! ONNX importers for: unary, binary and variadic math, comparisons, logic, bitwise, Where,
//! Clip, Cast, CastLike.
//!
//! Old-opset forms become the one IR form: opset < 7 `broadcast`/`axis` attributes become an
//! explicit reshape of the second input, opset < 11 Clip bounds become constant inputs, opset
//! < 6 Cast names its target by string. Variadic Sum/Mean/Max/Min become chains of binary ops.
//! `consumed_inputs` (opsets 1-5) has no meaning here and is ignored.

mod cast;
#[cfg(test)]
mod tests;

use super::Registry;
use crate::error::Error;
use crate::graph::ValueId;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::*;
use crate::tensor::Tensor;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Abs", |_, e| unary(e, UnaryOp::Abs));
    reg.insert("Neg", |_, e| unary(e, UnaryOp::Neg));
    reg.insert("Exp", |_, e| unary(e, UnaryOp::Exp));
    reg.insert("Log", |_, e| unary(e, UnaryOp::Log));
    reg.insert("Sqrt", |_, e| unary(e, UnaryOp::Sqrt));
    reg.insert("Reciprocal", |_, e| unary(e, UnaryOp::Reciprocal));
    reg.insert("Floor", |_, e| unary(e, UnaryOp::Floor));
    reg.insert("Ceil", |_, e| unary(e, UnaryOp::Ceil));
    reg.insert("Round", |_, e| unary(e, UnaryOp::Round));
    reg.insert("Sign", |_, e| unary(e, UnaryOp::Sign));
    reg.insert("Sin", |_, e| unary(e, UnaryOp::Sin));
    reg.insert("Cos", |_, e| unary(e, UnaryOp::Cos));
    reg.insert("Tan", |_, e| unary(e, UnaryOp::Tan));
    reg.insert("Asin", |_, e| unary(e, UnaryOp::Asin));
    reg.insert("Acos", |_, e| unary(e, UnaryOp::Acos));
    reg.insert("Atan", |_, e| unary(e, UnaryOp::Atan));
    reg.insert("Sinh", |_, e| unary(e, UnaryOp::Sinh));
    reg.insert("Cosh", |_, e| unary(e, UnaryOp::Cosh));
    reg.insert("Tanh", |_, e| unary(e, UnaryOp::Tanh));
    reg.insert("Asinh", |_, e| unary(e, UnaryOp::Asinh));
    reg.insert("Acosh", |_, e| unary(e, UnaryOp::Acosh));
    reg.insert("Atanh", |_, e| unary(e, UnaryOp::Atanh));
    reg.insert("Erf", |_, e| unary(e, UnaryOp::Erf));
    reg.insert("Not", |_, e| unary(e, UnaryOp::Not));
    reg.insert("BitwiseNot", |_, e| unary(e, UnaryOp::BitwiseNot));
    reg.insert("IsNaN", |_, e| unary(e, UnaryOp::IsNaN));
    reg.insert("IsInf", is_inf);
    reg.insert("Relu", |_, e| unary(e, UnaryOp::Relu));
    reg.insert("Sigmoid", |_, e| unary(e, UnaryOp::Sigmoid));
    reg.insert("Softplus", |_, e| unary(e, UnaryOp::Softplus));
    reg.insert("Softsign", |_, e| unary(e, UnaryOp::Softsign));
    reg.insert("LeakyRelu", |n, e| {
        unary(
            e,
            UnaryOp::LeakyRelu {
                alpha: n.float("alpha", 0.01)?,
            },
        )
    });
    reg.insert("Elu", |n, e| {
        unary(
            e,
            UnaryOp::Elu {
                alpha: n.float("alpha", 1.0)?,
            },
        )
    });
    reg.insert("Selu", selu);
    reg.insert("Celu", |n, e| {
        unary(
            e,
            UnaryOp::Celu {
                alpha: n.float("alpha", 1.0)?,
            },
        )
    });
    reg.insert("HardSigmoid", hard_sigmoid);
    reg.insert("HardSwish", |_, e| unary(e, UnaryOp::HardSwish));
    reg.insert("Swish", |n, e| {
        unary(
            e,
            UnaryOp::Swish {
                alpha: n.float("alpha", 1.0)?,
            },
        )
    });
    reg.insert("Gelu", gelu);
    reg.insert("Mish", |_, e| unary(e, UnaryOp::Mish));
    reg.insert("ThresholdedRelu", |n, e| {
        unary(
            e,
            UnaryOp::ThresholdedRelu {
                alpha: n.float("alpha", 1.0)?,
            },
        )
    });
    reg.insert("Shrink", shrink);

    reg.insert("Add", |n, e| binary(n, e, BinaryOp::Add));
    reg.insert("Sub", |n, e| binary(n, e, BinaryOp::Sub));
    reg.insert("Mul", |n, e| binary(n, e, BinaryOp::Mul));
    reg.insert("Div", |n, e| binary(n, e, BinaryOp::Div));
    reg.insert("Pow", |n, e| binary(n, e, BinaryOp::Pow));
    reg.insert("Mod", |n, e| {
        binary(
            n,
            e,
            BinaryOp::Mod {
                fmod: n.bool("fmod", false)?,
            },
        )
    });
    reg.insert("Equal", |n, e| binary(n, e, BinaryOp::Equal));
    reg.insert("Less", |n, e| binary(n, e, BinaryOp::Less));
    reg.insert("LessOrEqual", |n, e| binary(n, e, BinaryOp::LessOrEqual));
    reg.insert("Greater", |n, e| binary(n, e, BinaryOp::Greater));
    reg.insert("GreaterOrEqual", |n, e| {
        binary(n, e, BinaryOp::GreaterOrEqual)
    });
    reg.insert("And", |n, e| binary(n, e, BinaryOp::And));
    reg.insert("Or", |n, e| binary(n, e, BinaryOp::Or));
    reg.insert("Xor", |n, e| binary(n, e, BinaryOp::Xor));
    reg.insert("BitwiseAnd", |n, e| binary(n, e, BinaryOp::BitwiseAnd));
    reg.insert("BitwiseOr", |n, e| binary(n, e, BinaryOp::BitwiseOr));
    reg.insert("BitwiseXor", |n, e| binary(n, e, BinaryOp::BitwiseXor));
    reg.insert("BitShift", bit_shift);
    reg.insert("PRelu", |n, e| binary(n, e, BinaryOp::PRelu));

    reg.insert("Sum", |n, e| variadic(n, e, BinaryOp::Add));
    reg.insert("Max", |n, e| variadic(n, e, BinaryOp::Max));
    reg.insert("Min", |n, e| variadic(n, e, BinaryOp::Min));
    reg.insert("Mean", mean);

    reg.insert("Where", |_, e| pass(e, Op::Where));
    reg.insert("Clip", clip);
    reg.insert("Cast", cast::cast);
    reg.insert("CastLike", cast::cast_like);
}

fn pass(e: &mut Emitter, op: Op) -> Result<(), Error> {
    e.pass(op);
    Ok(())
}

fn unary(e: &mut Emitter, op: UnaryOp) -> Result<(), Error> {
    pass(e, Op::Unary(op))
}

fn is_inf(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    unary(
        e,
        UnaryOp::IsInf {
            detect_positive: n.bool("detect_positive", true)?,
            detect_negative: n.bool("detect_negative", true)?,
        },
    )
}

fn selu(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    // Opset 6 gave the constants more digits.
    let (alpha, gamma) = if n.opset < 6 {
        (1.6732, 1.0507)
    } else {
        (1.673_263_2, 1.050_701)
    };
    let alpha = n.float("alpha", alpha)?;
    let gamma = n.float("gamma", gamma)?;
    unary(e, UnaryOp::Selu { alpha, gamma })
}

fn hard_sigmoid(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let alpha = n.float("alpha", 0.2)?;
    let beta = n.float("beta", 0.5)?;
    unary(e, UnaryOp::HardSigmoid { alpha, beta })
}

fn gelu(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let tanh = match n.string("approximate", "none")?.as_str() {
        "none" => false,
        "tanh" => true,
        other => return Err(n.bad_value("approximate", other)),
    };
    unary(e, UnaryOp::Gelu { tanh })
}

fn shrink(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let bias = n.float("bias", 0.0)?;
    let lambd = n.float("lambd", 0.5)?;
    unary(e, UnaryOp::Shrink { bias, lambd })
}

fn bit_shift(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let op = match n.string_opt("direction")?.as_deref() {
        Some("LEFT") => BinaryOp::BitShiftLeft,
        Some("RIGHT") => BinaryOp::BitShiftRight,
        Some(other) => return Err(n.bad_value("direction", other)),
        None => return Err(n.attr_error("direction", "is required")),
    };
    binary(n, e, op)
}

/// A binary op; the opset < 7 `broadcast`/`axis` form is rewritten to numpy broadcasting.
fn binary(n: &OnnxNode, e: &mut Emitter, op: BinaryOp) -> Result<(), Error> {
    let a = e.input(0);
    let b = legacy_broadcast(n, e)?;
    e.finish(Op::Binary(op), vec![a, b]);
    Ok(())
}

/// Input 1 of an opset < 7 binary op, reshaped for numpy broadcasting. There, `broadcast=1`
/// with `axis` aligns b's dims with a's starting at `axis`; numpy aligns trailing dims, so b
/// gets `rank(a) - axis - rank(b)` trailing 1s. Without `axis` the alignment already is
/// numpy's.
fn legacy_broadcast(n: &OnnxNode, e: &mut Emitter) -> Result<Option<ValueId>, Error> {
    let (a, b) = (e.input(0), e.input(1));
    if n.opset >= 7 || !n.bool("broadcast", false)? {
        return Ok(b);
    }
    let (Some(axis), Some(a), Some(b)) = (n.int_opt("axis")?, a, b) else {
        return Ok(b);
    };
    let rank = |e: &Emitter, v: ValueId| e.graph.value(v).ty.as_ref().and_then(|t| t.rank());
    let Some(rank_b) = rank(e, b) else {
        return Err(n.attr_error(
            "axis",
            "broadcasting along an axis is not supported when the second input's rank is \
             unknown at import",
        ));
    };
    let axis_err = |detail: String| n.attr_error("axis", detail);
    if let Some(rank_a) = rank(e, a) {
        let axis = if axis < 0 { axis + rank_a as i64 } else { axis };
        let trailing = rank_a as i64 - axis - rank_b as i64;
        if axis < 0 || trailing < 0 {
            return Err(axis_err(format!(
                "a rank-{rank_b} input cannot start at axis {axis} of a rank-{rank_a} input"
            )));
        }
        if trailing == 0 {
            return Ok(Some(b));
        }
        let axes: Vec<i64> = (rank_b as i64..rank_b as i64 + trailing).collect();
        let axes = e.constant(tensor_i64(axes)?);
        return Ok(Some(e.node(Op::Unsqueeze, vec![Some(b), Some(axes)], 1)[0]));
    }
    if axis < 0 {
        return Err(axis_err(format!(
            "a negative axis ({axis}) needs the first input's rank, unknown at import"
        )));
    }
    // rank(a) is only known at run time: b's new shape is its own shape followed by as many
    // 1s as a has dims after `axis + rank(b)`.
    let after = e.node(
        Op::Shape {
            start: axis + rank_b as i64,
            end: None,
        },
        vec![Some(a)],
        1,
    )[0];
    let count = e.node(
        Op::Shape {
            start: 0,
            end: None,
        },
        vec![Some(after)],
        1,
    )[0];
    let ones = e.node(
        Op::ConstantOfShape {
            value: tensor_i64(vec![1])?,
        },
        vec![Some(count)],
        1,
    )[0];
    let b_shape = e.node(
        Op::Shape {
            start: 0,
            end: None,
        },
        vec![Some(b)],
        1,
    )[0];
    let shape = e.node(Op::Concat { axis: 0 }, vec![Some(b_shape), Some(ones)], 1)[0];
    Ok(Some(
        e.node(
            Op::Reshape { allowzero: false },
            vec![Some(b), Some(shape)],
            1,
        )[0],
    ))
}

fn tensor_i64(v: Vec<i64>) -> Result<Tensor, Error> {
    Tensor::from_i64(vec![v.len()], v).map_err(|err| Error::Model(err.0))
}

/// The given (non-omitted) inputs of a variadic op, at least one.
fn variadic_inputs(n: &OnnxNode, e: &Emitter) -> Result<Vec<ValueId>, Error> {
    let inputs: Vec<ValueId> = e.inputs().iter().flatten().copied().collect();
    if inputs.is_empty() {
        return Err(n.error("needs at least one input"));
    }
    Ok(inputs)
}

/// Folds `inputs` left to right with `op`; the first `inputs.len() - 1` steps become
/// intermediate nodes and the last one is returned for the caller to emit.
fn chain(e: &mut Emitter, op: BinaryOp, inputs: &[ValueId]) -> (ValueId, ValueId) {
    let (&last, init) = inputs.split_last().expect("chain needs two inputs");
    let mut acc = init[0];
    for &v in &init[1..] {
        acc = e.node(Op::Binary(op), vec![Some(acc), Some(v)], 1)[0];
    }
    (acc, last)
}

/// Sum, Max, Min of 1..N broadcast inputs.
fn variadic(n: &OnnxNode, e: &mut Emitter, op: BinaryOp) -> Result<(), Error> {
    let inputs = variadic_inputs(n, e)?;
    if let [only] = inputs[..] {
        e.finish(Op::Identity, vec![Some(only)]);
    } else {
        let (acc, last) = chain(e, op, &inputs);
        e.finish(Op::Binary(op), vec![Some(acc), Some(last)]);
    }
    Ok(())
}

/// Mean: the sum divided by the input count, cast to the inputs' dtype.
fn mean(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let inputs = variadic_inputs(n, e)?;
    if let [only] = inputs[..] {
        e.finish(Op::Identity, vec![Some(only)]);
        return Ok(());
    }
    let (acc, last) = chain(e, BinaryOp::Add, &inputs);
    let sum = e.node(Op::Binary(BinaryOp::Add), vec![Some(acc), Some(last)], 1)[0];
    let count = e.constant(Tensor::scalar_f32(inputs.len() as f32));
    let count = e.node(
        Op::CastLike { saturate: true },
        vec![Some(count), Some(inputs[0])],
        1,
    )[0];
    e.finish(Op::Binary(BinaryOp::Div), vec![Some(sum), Some(count)]);
    Ok(())
}

/// Clip; before opset 11 the bounds were float attributes (opset 6-10 defaulting to the f32
/// range, opset 1-5 optional), made constant inputs of x's dtype here.
fn clip(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if n.opset >= 11 {
        return pass(e, Op::Clip);
    }
    let x = e.input(0);
    let (lo, hi) = if n.opset >= 6 {
        (
            Some(n.float("min", f32::MIN)?),
            Some(n.float("max", f32::MAX)?),
        )
    } else {
        (n.float_opt("min")?, n.float_opt("max")?)
    };
    let mut bound = |v: Option<f32>| {
        v.map(|v| {
            let c = e.constant(Tensor::scalar_f32(v));
            e.node(Op::CastLike { saturate: true }, vec![Some(c), x], 1)[0]
        })
    };
    let (lo, hi) = (bound(lo), bound(hi));
    e.finish(Op::Clip, vec![x, lo, hi]);
    Ok(())
}
