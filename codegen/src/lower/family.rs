//! The one exhaustive match over `ir::Op` in lowering: which family each op belongs to. Adding
//! an op to the IR makes the compiler stop here; every other place matches on [`Family`].

use ir::op::{BinaryOp, ConvAttrs, GemmAttrs, ReduceKind, SoftmaxKind, UnaryOp};
use ir::{DType, Op};

/// Layout ops that may become views.
#[derive(Clone, Copy, Debug)]
pub enum ViewOp<'a> {
    /// Reshape, Flatten, Squeeze, Unsqueeze, Identity: same elements, new shape.
    Reshape,
    /// Inference Dropout: Identity plus an optional mask output.
    Dropout,
    Transpose(Option<&'a [usize]>),
    Slice,
    Expand,
    Split(i64),
}

/// How lowering sees an op.
#[derive(Clone, Copy, Debug)]
pub enum Family<'a> {
    View(ViewOp<'a>),
    Unary(UnaryOp),
    Binary(BinaryOp),
    Where,
    Clip,
    Cast(DType),
    CastLike,
    SwiGlu(f32),
    Gather(i64),
    MatMul,
    Gemm(GemmAttrs),
    Einsum(&'a str),
    Conv(&'a ConvAttrs),
    Softmax {
        kind: SoftmaxKind,
        axis: i64,
        coerce_2d: bool,
    },
    LayerNorm {
        axis: i64,
        epsilon: f32,
    },
    RmsNorm {
        axis: i64,
        epsilon: f32,
    },
    Reduce {
        kind: ReduceKind,
        keepdims: bool,
        noop_with_empty_axes: bool,
    },
    /// Everything else: interpreted.
    Other,
}

pub fn family(op: &Op) -> Family<'_> {
    match op {
        Op::Unary(u) => Family::Unary(*u),
        Op::Binary(b) => Family::Binary(*b),
        Op::Where => Family::Where,
        Op::Clip => Family::Clip,
        Op::Cast { to, .. } => Family::Cast(*to),
        Op::CastLike { .. } => Family::CastLike,
        Op::SwiGlu { alpha } => Family::SwiGlu(*alpha),
        Op::MatMul => Family::MatMul,
        Op::Gemm(a) => Family::Gemm(*a),
        Op::Einsum { equation } => Family::Einsum(equation),
        Op::Conv(a) => Family::Conv(a),
        Op::Softmax {
            kind,
            axis,
            coerce_2d,
        } => Family::Softmax {
            kind: *kind,
            axis: *axis,
            coerce_2d: *coerce_2d,
        },
        Op::LayerNormalization { axis, epsilon, .. } => Family::LayerNorm {
            axis: *axis,
            epsilon: *epsilon,
        },
        Op::RmsNormalization { axis, epsilon, .. } => Family::RmsNorm {
            axis: *axis,
            epsilon: *epsilon,
        },
        Op::Reduce {
            kind,
            keepdims,
            noop_with_empty_axes,
        } => Family::Reduce {
            kind: *kind,
            keepdims: *keepdims,
            noop_with_empty_axes: *noop_with_empty_axes,
        },
        Op::Reshape { .. } | Op::Flatten { .. } | Op::Squeeze | Op::Unsqueeze | Op::Identity => {
            Family::View(ViewOp::Reshape)
        }
        Op::Dropout { .. } => Family::View(ViewOp::Dropout),
        Op::Transpose { perm } => Family::View(ViewOp::Transpose(perm.as_deref())),
        Op::Slice => Family::View(ViewOp::Slice),
        Op::Expand => Family::View(ViewOp::Expand),
        Op::Split { axis, .. } => Family::View(ViewOp::Split(*axis)),
        Op::Gather { axis } => Family::Gather(*axis),
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
        | Op::BatchNormalization { .. }
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
        | Op::TensorScatter { .. }
        | Op::Det
        | Op::LinearAttention(_)
        | Op::CausalConvWithState { .. } => Family::Other,
    }
}
