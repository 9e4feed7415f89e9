//! What each node becomes: skipped (its value is known), a view, a fusible elementwise
//! operation, an anchored kernel, or an interpreted node.

use crate::kernel::Scalar;
use ir::op::{BinaryOp, ReduceKind, SoftmaxKind, UnaryOp};
use ir::{DType, Graph, Node, Op, Tensor};
use std::sync::Arc;

/// The heavy operation of an anchored kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorKind {
    Gemm,
    Conv,
    Row,
    Reduce,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Every output is known at compile time.
    Skip,
    /// A layout op: its output is an access map over its input.
    View,
    /// A scalar function of its inputs at each point (numpy broadcasting); fusible.
    Elementwise,
    /// Gather: a pointwise load with an indirect index; fusible into consumers.
    Gather,
    Anchor(AnchorKind),
    Interp,
}

/// The shape of a value (static: lowering requires it).
pub fn shape_of(g: &Graph, v: ir::ValueId) -> Vec<usize> {
    g.value(v)
        .ty
        .as_ref()
        .and_then(|t| ir::shape::concrete(t.shape.as_deref()?))
        .unwrap_or_default()
}

pub fn dtype_of(g: &Graph, v: ir::ValueId) -> Option<DType> {
    g.value(v).ty.as_ref().map(|t| t.dtype)
}

fn scalar_of(g: &Graph, v: Option<ir::ValueId>) -> Option<Scalar> {
    Scalar::of(dtype_of(g, v?)?)
}

/// Classifies one node.
pub fn classify(g: &Graph, node: &Node, known: &[Option<Arc<Tensor>>]) -> Class {
    if node.outputs.iter().all(|o| known[o.index()].is_some()) {
        return Class::Skip;
    }
    let empty = node
        .inputs
        .iter()
        .flatten()
        .chain(&node.outputs)
        .any(|&v| shape_of(g, v).contains(&0));
    if empty {
        return Class::Interp;
    }
    let input = |i: usize| node.inputs.get(i).copied().flatten();
    let is_known = |i: usize| input(i).is_some_and(|v| known[v.index()].is_some());
    let out_scalar = scalar_of(g, node.outputs.first().copied());
    let in_scalar = |i: usize| scalar_of(g, input(i));
    let f32_in =
        |i: usize| dtype_of(g, input(i).unwrap_or(ir::ValueId(u32::MAX))) == Some(DType::F32);
    let all_f32 = |n: usize| (0..n).all(|i| input(i).is_none() || f32_in(i));
    let elementwise = |ok: bool| {
        if ok && out_scalar.is_some() {
            Class::Elementwise
        } else {
            Class::Interp
        }
    };
    match &node.op {
        Op::Unary(u) => {
            let t = in_scalar(0);
            let float = t == Some(Scalar::F32);
            let numeric = matches!(t, Some(Scalar::F32 | Scalar::I32 | Scalar::I64));
            let ok = match u {
                UnaryOp::Abs | UnaryOp::Neg | UnaryOp::Sign | UnaryOp::Relu => numeric,
                UnaryOp::Exp
                | UnaryOp::Log
                | UnaryOp::Sqrt
                | UnaryOp::Reciprocal
                | UnaryOp::Floor
                | UnaryOp::Ceil
                | UnaryOp::Round
                | UnaryOp::Sin
                | UnaryOp::Cos
                | UnaryOp::Tanh
                | UnaryOp::Erf
                | UnaryOp::Sigmoid
                | UnaryOp::IsNaN
                | UnaryOp::LeakyRelu { .. }
                | UnaryOp::Elu { .. }
                | UnaryOp::Selu { .. }
                | UnaryOp::Celu { .. }
                | UnaryOp::HardSigmoid { .. }
                | UnaryOp::HardSwish
                | UnaryOp::Softsign
                | UnaryOp::Swish { .. }
                | UnaryOp::Gelu { .. }
                | UnaryOp::ThresholdedRelu { .. } => float,
                UnaryOp::Not => t == Some(Scalar::Bool),
                UnaryOp::Tan
                | UnaryOp::Asin
                | UnaryOp::Acos
                | UnaryOp::Atan
                | UnaryOp::Sinh
                | UnaryOp::Cosh
                | UnaryOp::Asinh
                | UnaryOp::Acosh
                | UnaryOp::Atanh
                | UnaryOp::BitwiseNot
                | UnaryOp::IsInf { .. }
                | UnaryOp::Softplus
                | UnaryOp::Mish
                | UnaryOp::Shrink { .. } => false,
            };
            elementwise(ok)
        }
        Op::Binary(b) => {
            let (ta, tb) = (in_scalar(0), in_scalar(1));
            let same = ta.is_some() && ta == tb;
            let numeric = same && matches!(ta, Some(Scalar::F32 | Scalar::I32 | Scalar::I64));
            let float = same && ta == Some(Scalar::F32);
            let ok = match b {
                BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Max
                | BinaryOp::Min
                | BinaryOp::Equal
                | BinaryOp::Less
                | BinaryOp::LessOrEqual
                | BinaryOp::Greater
                | BinaryOp::GreaterOrEqual => numeric,
                BinaryOp::Div | BinaryOp::PRelu => float,
                // A float base with a float exponent, or a known scalar exponent of any type.
                BinaryOp::Pow => {
                    ta == Some(Scalar::F32) && (tb == Some(Scalar::F32) || is_known(1))
                }
                BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => same && ta == Some(Scalar::Bool),
                BinaryOp::Mod { .. }
                | BinaryOp::BitwiseAnd
                | BinaryOp::BitwiseOr
                | BinaryOp::BitwiseXor
                | BinaryOp::BitShiftLeft
                | BinaryOp::BitShiftRight => false,
            };
            elementwise(ok)
        }
        Op::Where => {
            let ok = in_scalar(0) == Some(Scalar::Bool)
                && in_scalar(1).is_some()
                && in_scalar(1) == in_scalar(2);
            elementwise(ok)
        }
        Op::Clip => {
            let t = in_scalar(0);
            let ok = matches!(t, Some(Scalar::F32 | Scalar::I32 | Scalar::I64))
                && (1..3).all(|i| input(i).is_none() || in_scalar(i) == t);
            elementwise(ok)
        }
        Op::Cast { .. } | Op::CastLike { .. } => elementwise(in_scalar(0).is_some()),
        // Inference: y = (x - mean) · scale / √(var + ε) + bias, the statistics per channel
        // (dim 1) or per activation (every dim but the batch).
        Op::BatchNormalization { .. } => {
            let x = shape_of(g, input(0).unwrap_or(ir::ValueId(u32::MAX)));
            let params_ok = (1..5).all(|i| {
                input(i).is_some_and(|v| {
                    let p = shape_of(g, v);
                    x.len() >= 2 && (p == [x[1]] || p == x[1..])
                })
            });
            elementwise(all_f32(5) && node.outputs.len() == 1 && params_ok)
        }
        Op::Reshape { .. }
        | Op::Flatten { .. }
        | Op::Squeeze
        | Op::Unsqueeze
        | Op::Identity
        | Op::Transpose { .. } => Class::View,
        Op::Dropout { .. } => {
            let mask_used = node.outputs.len() > 1;
            if mask_used {
                Class::Interp
            } else {
                Class::View
            }
        }
        Op::Slice => {
            if (1..node.inputs.len()).all(|i| input(i).is_none() || is_known(i)) {
                Class::View
            } else {
                Class::Interp
            }
        }
        Op::Expand => {
            if is_known(1) {
                Class::View
            } else {
                Class::Interp
            }
        }
        Op::Split { .. } => {
            if input(1).is_none() || is_known(1) {
                Class::View
            } else {
                Class::Interp
            }
        }
        Op::Gather { .. } => {
            let idx = dtype_of(g, input(1).unwrap_or(ir::ValueId(u32::MAX)));
            if in_scalar(0).is_some() && matches!(idx, Some(DType::I64 | DType::I32)) {
                Class::Gather
            } else {
                Class::Interp
            }
        }
        Op::MatMul => anchor(all_f32(2), AnchorKind::Gemm),
        Op::Gemm(_) => anchor(all_f32(3), AnchorKind::Gemm),
        Op::Conv(_) => {
            let rank = shape_of(g, input(0).unwrap_or(ir::ValueId(u32::MAX))).len();
            anchor(all_f32(3) && rank >= 3, AnchorKind::Conv)
        }
        Op::Softmax { kind, axis, .. } => {
            let rank = shape_of(g, input(0).unwrap_or(ir::ValueId(u32::MAX))).len() as i64;
            let last = *axis == -1 || *axis == rank - 1;
            anchor(
                f32_in(0) && last && *kind != SoftmaxKind::Hardmax,
                AnchorKind::Row,
            )
        }
        Op::LayerNormalization { axis, .. } | Op::RmsNormalization { axis, .. } => {
            let rank = shape_of(g, input(0).unwrap_or(ir::ValueId(u32::MAX))).len() as i64;
            let last = *axis == -1 || *axis == rank - 1;
            let single = node.outputs.len() == 1;
            anchor(all_f32(3) && last && single, AnchorKind::Row)
        }
        Op::Reduce {
            kind,
            noop_with_empty_axes,
            ..
        } => {
            let axes_ok = input(1).is_none() || is_known(1);
            let kind_ok = !matches!(kind, ReduceKind::LogSumExp);
            let empty_axes =
                input(1).is_none_or(|v| known[v.index()].as_ref().is_some_and(|t| t.is_empty()));
            anchor(
                f32_in(0) && axes_ok && kind_ok && !(*noop_with_empty_axes && empty_axes),
                AnchorKind::Reduce,
            )
        }
        Op::Einsum { equation } => {
            let (a, b) = (input(0), input(1));
            let two = node.inputs.len() == 2;
            let matmul = a.zip(b).is_some_and(|(a, b)| {
                crate::lowering::einsum::einsum_matmul(equation, &shape_of(g, a), &shape_of(g, b))
                    .is_some()
            });
            anchor(two && matmul && all_f32(2), AnchorKind::Gemm)
        }
        Op::MatMulInteger
        | Op::QLinearMatMul
        | Op::ConvTranspose(_)
        | Op::ConvInteger(_)
        | Op::MaxPool { .. }
        | Op::AveragePool { .. }
        | Op::LpPool { .. }
        | Op::GlobalAveragePool
        | Op::GlobalMaxPool
        | Op::GlobalLpPool { .. }
        | Op::Lrn { .. }
        | Op::InstanceNormalization { .. }
        | Op::GroupNormalization { .. }
        | Op::LpNormalization { .. }
        | Op::MeanVarianceNormalization { .. }
        | Op::Attention(_)
        | Op::RotaryEmbedding { .. }
        | Op::NegativeLogLikelihoodLoss { .. }
        | Op::SoftmaxCrossEntropyLoss { .. }
        | Op::ArgReduce { .. }
        | Op::TopK { .. }
        | Op::CumSum { .. }
        | Op::CumProd { .. }
        | Op::Concat { .. }
        | Op::Tile
        | Op::Pad { .. }
        | Op::Shape { .. }
        | Op::Size
        | Op::ConstantOfShape { .. }
        | Op::Range
        | Op::Trilu { .. }
        | Op::DepthToSpace { .. }
        | Op::SpaceToDepth { .. }
        | Op::EyeLike { .. }
        | Op::GatherElements { .. }
        | Op::GatherNd { .. }
        | Op::ScatterElements { .. }
        | Op::ScatterNd { .. }
        | Op::OneHot { .. }
        | Op::NonZero
        | Op::Resize(_)
        | Op::Compress { .. }
        | Op::ReverseSequence { .. }
        | Op::GridSample { .. }
        | Op::AffineGrid { .. }
        | Op::CenterCropPad { .. }
        | Op::RoiAlign(_)
        | Op::MaxUnpool { .. }
        | Op::Col2Im { .. }
        | Op::DeformConv(_)
        | Op::QuantizeLinear(_)
        | Op::DequantizeLinear(_)
        | Op::DynamicQuantizeLinear
        | Op::Recurrent(_)
        | Op::Window { .. }
        | Op::Dft { .. }
        | Op::Stft { .. }
        | Op::MelWeightMatrix { .. }
        | Op::NonMaxSuppression { .. }
        | Op::BitCast { .. }
        | Op::Unique { .. }
        | Op::SwiGlu { .. }
        | Op::TensorScatter { .. }
        | Op::Det
        | Op::LinearAttention(_)
        | Op::CausalConvWithState { .. }
        | Op::If { .. }
        | Op::Scan(_)
        | Op::Loop { .. } => Class::Interp,
    }
}

fn anchor(ok: bool, kind: AnchorKind) -> Class {
    if ok {
        Class::Anchor(kind)
    } else {
        Class::Interp
    }
}

/// Whether a fused consumer may read this node's output without a store in between: a value
/// stored as f16 or bf16 is rounded by the store, so such nodes stay materialized.
pub fn fusible_output(g: &Graph, node: &Node) -> bool {
    node.outputs
        .first()
        .and_then(|&o| dtype_of(g, o))
        .is_some_and(|d| !matches!(d, DType::F16 | DType::BF16))
}
