//! The op set: one enum, matched exhaustively everywhere (no `_ =>` over ops), so adding a
//! variant makes the compiler list every place that must learn it.
//!
//! Ops take tensors as inputs and carry static attributes as typed data. Quantities that ONNX
//! moved from attributes to inputs over its history (Reshape's shape, Slice's starts, Reduce's
//! axes, Pad's pads, Clip's bounds...) are always inputs here; the importer turns old-opset
//! attributes into constant inputs, so each op has one form.
//!
//! Attribute defaults follow the ONNX spec; an empty list (strides, pads, dilations) means "the
//! default for the rank", resolved by the kernel once the rank is known.

mod control;
mod elementwise;
mod index;
mod layout;
mod linalg;
mod nn;
mod norm;
mod quant;
mod recurrent;
mod reduce;
mod sampling;
mod signal;
mod stateful;

pub use control::ScanAttrs;
pub use elementwise::{BinaryOp, UnaryOp};
pub use index::{
    AspectRatioPolicy, CoordinateTransform, NearestMode, ResizeAttrs, ResizeMode, ScatterReduction,
};
pub use layout::{DepthToSpaceMode, PadMode};
pub use linalg::GemmAttrs;
pub use nn::{AutoPad, ConvAttrs, ConvTransposeAttrs, PoolAttrs};
pub use norm::{AttentionAttrs, LossReduction, SoftmaxKind};
pub use quant::QuantAttrs;
pub use recurrent::{RnnActivation, RnnAttrs, RnnCell, RnnDirection};
pub use reduce::{ArgKind, ReduceKind};
pub use sampling::{DeformConvAttrs, GridPadding, RoiAlignAttrs, RoiPoolMode};
pub use signal::WindowKind;
pub use stateful::LinearAttentionAttrs;

use crate::dtype::DType;
use crate::graph::Graph;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// One operation of the IR. Inputs are listed per variant as `inputs:`; `?` marks optional ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    // ---- elementwise ----
    /// inputs: x.
    Unary(UnaryOp),
    /// inputs: a, b (numpy broadcasting).
    Binary(BinaryOp),
    /// inputs: cond, a, b.
    Where,
    /// inputs: x, min?, max?.
    Clip,
    /// inputs: x.
    Cast { to: DType, saturate: bool },
    /// inputs: x, like (only its dtype is read).
    CastLike { saturate: bool },

    // ---- linear algebra ----
    /// inputs: a, b (numpy matmul: batched, broadcasting, 1-D promotion).
    MatMul,
    /// inputs: a, b, c?.
    Gemm(GemmAttrs),
    /// inputs: one per operand of the equation.
    Einsum { equation: String },
    /// inputs: a, b, a_zero_point?, b_zero_point?; output i32.
    MatMulInteger,
    /// inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
    QLinearMatMul,

    // ---- convolution and pooling ----
    /// inputs: x, w, b?.
    Conv(ConvAttrs),
    /// inputs: x, w, b?.
    ConvTranspose(ConvTransposeAttrs),
    /// inputs: x, w, x_zero_point?, w_zero_point? (8-bit); output i32.
    ConvInteger(ConvAttrs),
    /// inputs: x; outputs: y, indices?.
    MaxPool { pool: PoolAttrs, storage_order: i64 },
    /// inputs: x.
    AveragePool {
        pool: PoolAttrs,
        count_include_pad: bool,
    },
    /// inputs: x.
    LpPool { pool: PoolAttrs, p: f32 },
    /// inputs: x.
    GlobalAveragePool,
    /// inputs: x.
    GlobalMaxPool,
    /// inputs: x.
    GlobalLpPool { p: f32 },
    /// inputs: x.
    Lrn {
        alpha: f32,
        beta: f32,
        bias: f32,
        size: usize,
    },

    // ---- normalization, softmax, attention, losses ----
    /// inputs: x. `coerce_2d` is the opset < 13 rule: flatten to 2-D at `axis` first.
    Softmax {
        kind: SoftmaxKind,
        axis: i64,
        coerce_2d: bool,
    },
    /// inputs: x, scale, bias, mean, var (inference mode); each parameter is per channel `[C]` or
    /// per activation (`x`'s shape without the batch axis).
    BatchNormalization { epsilon: f32 },
    /// inputs: x, scale, bias.
    InstanceNormalization { epsilon: f32 },
    /// inputs: x, scale, bias?; outputs: y, mean?, inv_std_dev?.
    LayerNormalization {
        axis: i64,
        epsilon: f32,
        stash_type: DType,
    },
    /// inputs: x, scale, bias (per channel, `[C]`).
    GroupNormalization {
        num_groups: usize,
        epsilon: f32,
        stash_type: DType,
    },
    /// inputs: x, scale.
    RmsNormalization {
        axis: i64,
        epsilon: f32,
        stash_type: DType,
    },
    /// inputs: x.
    LpNormalization { axis: i64, p: i64 },
    /// inputs: x.
    MeanVarianceNormalization { axes: Vec<i64> },
    /// inputs: q, k, v, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen?;
    /// outputs: y, present_key?, present_value?, qk_matmul_output?.
    Attention(AttentionAttrs),
    /// inputs: x, cos_cache, sin_cache, position_ids?.
    RotaryEmbedding {
        interleaved: bool,
        num_heads: Option<usize>,
        rotary_embedding_dim: usize,
    },
    /// inputs: x, ratio?, training_mode?; outputs: y, mask?. Inference only. The mask is bool, or
    /// of x's dtype when `float_mask` (opsets before 10).
    Dropout { float_mask: bool },
    /// inputs: input, target, weight?.
    NegativeLogLikelihoodLoss {
        ignore_index: Option<i64>,
        reduction: LossReduction,
    },
    /// inputs: scores, labels, weights?; outputs: loss, log_prob?.
    SoftmaxCrossEntropyLoss {
        ignore_index: Option<i64>,
        reduction: LossReduction,
    },

    // ---- reductions and scans ----
    /// inputs: x, axes? (i64).
    Reduce {
        kind: ReduceKind,
        keepdims: bool,
        noop_with_empty_axes: bool,
    },
    /// inputs: x; output i64 indices.
    ArgReduce {
        kind: ArgKind,
        axis: i64,
        keepdims: bool,
        select_last_index: bool,
    },
    /// inputs: x, k; outputs: values, indices.
    TopK {
        axis: i64,
        largest: bool,
        sorted: bool,
    },
    /// inputs: x, axis.
    CumSum { exclusive: bool, reverse: bool },
    /// inputs: x, axis.
    CumProd { exclusive: bool, reverse: bool },

    // ---- layout ----
    /// inputs: data, shape (i64).
    Reshape { allowzero: bool },
    /// inputs: x. `perm: None` reverses the axes.
    Transpose { perm: Option<Vec<usize>> },
    /// inputs: x, axes? (i64).
    Squeeze,
    /// inputs: x, axes (i64).
    Unsqueeze,
    /// inputs: x.
    Flatten { axis: i64 },
    /// inputs: one or more tensors.
    Concat { axis: i64 },
    /// inputs: x, split? (i64); `num_outputs` equal parts when `split` is absent.
    Split { axis: i64, num_outputs: usize },
    /// inputs: data, starts, ends, axes?, steps?.
    Slice,
    /// inputs: x, shape.
    Expand,
    /// inputs: x, repeats.
    Tile,
    /// inputs: data, pads, constant_value?, axes?.
    Pad { mode: PadMode },
    /// inputs: x; output i64.
    Shape { start: i64, end: Option<i64> },
    /// inputs: x; output i64 scalar.
    Size,
    /// inputs: shape (i64). `value` is a one-element tensor.
    ConstantOfShape { value: Tensor },
    /// inputs: start, limit, delta.
    Range,
    /// inputs: x.
    Identity,
    /// inputs: x, k?.
    Trilu { upper: bool },
    /// inputs: x.
    DepthToSpace {
        blocksize: usize,
        mode: DepthToSpaceMode,
    },
    /// inputs: x.
    SpaceToDepth {
        blocksize: usize,
        mode: DepthToSpaceMode,
    },
    /// inputs: x. `dtype: None` keeps the input's dtype.
    EyeLike { dtype: Option<DType>, k: i64 },

    // ---- indexing ----
    /// inputs: data, indices.
    Gather { axis: i64 },
    /// inputs: data, indices.
    GatherElements { axis: i64 },
    /// inputs: data, indices.
    GatherNd { batch_dims: usize },
    /// inputs: data, indices, updates.
    ScatterElements {
        axis: i64,
        reduction: ScatterReduction,
    },
    /// inputs: data, indices, updates.
    ScatterNd { reduction: ScatterReduction },
    /// inputs: indices, depth, values.
    OneHot { axis: i64 },
    /// inputs: x; output i64 [rank, n].
    NonZero,
    /// inputs: x, roi?, scales?, sizes?.
    Resize(ResizeAttrs),
    /// inputs: x, condition (1-D bool).
    Compress { axis: Option<i64> },
    /// inputs: x, sequence_lens.
    ReverseSequence { batch_axis: i64, time_axis: i64 },

    // ---- spatial sampling ----
    /// inputs: x (N, C, D1..Dk), grid (N, O1..Om, k).
    GridSample {
        mode: ResizeMode,
        padding: GridPadding,
        align_corners: bool,
    },
    /// inputs: theta (N, k, k + 1), size (i64 [N, C, D1..Dk]).
    AffineGrid { align_corners: bool },
    /// inputs: x, shape (i64, one value per axis of `axes`, or per axis of x when `None`).
    CenterCropPad { axes: Option<Vec<i64>> },
    /// inputs: x (N, C, H, W), rois (R, 4), batch_indices (i64 [R]).
    RoiAlign(RoiAlignAttrs),
    /// inputs: x, indices (flat positions in the unpooled tensor), output_shape?; empty
    /// `pads`/`strides` take the defaults (0, 1).
    MaxUnpool {
        kernel_shape: Vec<usize>,
        pads: Vec<usize>,
        strides: Vec<usize>,
    },
    /// inputs: input (N, C * prod(block), L), image_shape (i64), block_shape (i64); empty
    /// `dilations`/`pads`/`strides` take the defaults (1, 0, 1).
    Col2Im {
        dilations: Vec<usize>,
        pads: Vec<usize>,
        strides: Vec<usize>,
    },
    /// inputs: x (N, C, H, W), w, offset (N, offset_group * kh * kw * 2, oh, ow), b?, mask?.
    DeformConv(DeformConvAttrs),

    // ---- quantization ----
    /// inputs: x, y_scale, y_zero_point?.
    QuantizeLinear(QuantAttrs),
    /// inputs: x, x_scale, x_zero_point?.
    DequantizeLinear(QuantAttrs),
    /// inputs: x; outputs: y (u8), y_scale, y_zero_point.
    DynamicQuantizeLinear,

    // ---- recurrent ----
    /// inputs: x, w, r, b?, sequence_lens?, initial_h?, and for LSTM initial_c?, p?;
    /// outputs: y?, y_h?, and for LSTM y_c?.
    Recurrent(RnnAttrs),

    // ---- signal processing ----
    /// inputs: size (scalar integer); output `[size]` of `dtype`.
    Window {
        kind: WindowKind,
        periodic: bool,
        dtype: DType,
    },
    /// inputs: x `[..., n, ..., 1 | 2]` (real or complex), dft_length?, axis (scalar).
    Dft { inverse: bool, onesided: bool },
    /// inputs: signal `[batch, length, 1 | 2]`, frame_step, window?, frame_length?.
    Stft { onesided: bool },
    /// inputs: num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz
    /// (scalars); output `[dft_length / 2 + 1, num_mel_bins]` of `dtype`.
    MelWeightMatrix { dtype: DType },

    // ---- detection ----
    /// inputs: boxes, scores, max_output_boxes_per_class?, iou_threshold?, score_threshold?;
    /// output i64 [selected, 3].
    NonMaxSuppression { center_point_box: bool },

    // ---- bit reinterpretation ----
    /// inputs: x (the bits of each element read as `to`, of equal width).
    BitCast { to: DType },

    // ---- sets ----
    /// inputs: x; outputs: y, indices?, inverse_indices?, counts? (i64). `axis: None` flattens.
    Unique { axis: Option<i64>, sorted: bool },

    // ---- gated activations, cache updates, determinants ----
    /// inputs: a (gate), b (value), identical shapes; `a * sigmoid(alpha * a) * b`.
    SwiGlu { alpha: f32 },
    /// inputs: past_cache, update, write_indices?; output: the updated cache.
    TensorScatter { axis: i64, circular: bool },
    /// inputs: x [*, M, M]; output [*].
    Det,
    /// inputs: query, key, value, past_state?, decay?, beta?; outputs: output, present_state.
    LinearAttention(LinearAttentionAttrs),
    /// inputs: input [B, C, L], weight [C, 1, k], bias?, past_state? [B, C, k-1]; outputs:
    /// output, present_state. Depthwise causal 1-D convolution, SiLU applied when `silu`.
    CausalConvWithState { silu: bool },

    // ---- control flow ----
    /// inputs: cond (one bool), then the captured values (see below); outputs: those of the
    /// branch taken. Each branch is a graph with no inputs of its own: its inputs are the
    /// captures, the enclosing-scope values it reads, which are the node's inputs after
    /// `cond`, in the same order for both branches.
    If {
        then_branch: Box<Graph>,
        else_branch: Box<Graph>,
    },
    /// inputs: `states` initial states, `scan_inputs` scanned tensors, then the captures;
    /// outputs: the final states, then one tensor per scan output stacking its elements. Each
    /// iteration runs `body` on the states, one slice of each scanned tensor (its scan axis
    /// removed) and the captures; the body gives the next states, then one element per scan
    /// output.
    Scan(ScanAttrs),
    /// inputs: max_trip_count? (one i64), cond? (one bool), `carried` initial values, then
    /// the captures; outputs: the final carried values, then one tensor per scan output
    /// stacking its per-iteration elements along a new first axis. Each iteration runs
    /// `body` on the iteration number (i64), the condition (bool), the carried values and
    /// the captures; the body gives the next condition, the next carried values, then one
    /// element per scan output. It stops once the count is reached or the condition is false.
    Loop { body: Box<Graph>, carried: usize },
}

impl Op {
    /// A short name for messages and the text form's tables (`MatMul`, `Unary`, `Conv`...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Where => "Where",
            Op::Clip => "Clip",
            Op::Cast { .. } => "Cast",
            Op::CastLike { .. } => "CastLike",
            Op::MatMul => "MatMul",
            Op::Gemm(_) => "Gemm",
            Op::Einsum { .. } => "Einsum",
            Op::MatMulInteger => "MatMulInteger",
            Op::QLinearMatMul => "QLinearMatMul",
            Op::Conv(_) => "Conv",
            Op::ConvTranspose(_) => "ConvTranspose",
            Op::ConvInteger(_) => "ConvInteger",
            Op::MaxPool { .. } => "MaxPool",
            Op::AveragePool { .. } => "AveragePool",
            Op::LpPool { .. } => "LpPool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::GlobalMaxPool => "GlobalMaxPool",
            Op::GlobalLpPool { .. } => "GlobalLpPool",
            Op::Lrn { .. } => "LRN",
            Op::Softmax { kind, .. } => kind.name(),
            Op::BatchNormalization { .. } => "BatchNormalization",
            Op::InstanceNormalization { .. } => "InstanceNormalization",
            Op::LayerNormalization { .. } => "LayerNormalization",
            Op::GroupNormalization { .. } => "GroupNormalization",
            Op::RmsNormalization { .. } => "RMSNormalization",
            Op::LpNormalization { .. } => "LpNormalization",
            Op::MeanVarianceNormalization { .. } => "MeanVarianceNormalization",
            Op::Attention(_) => "Attention",
            Op::RotaryEmbedding { .. } => "RotaryEmbedding",
            Op::Dropout { .. } => "Dropout",
            Op::NegativeLogLikelihoodLoss { .. } => "NegativeLogLikelihoodLoss",
            Op::SoftmaxCrossEntropyLoss { .. } => "SoftmaxCrossEntropyLoss",
            Op::Reduce { kind, .. } => kind.name(),
            Op::ArgReduce { kind, .. } => kind.name(),
            Op::TopK { .. } => "TopK",
            Op::CumSum { .. } => "CumSum",
            Op::CumProd { .. } => "CumProd",
            Op::Reshape { .. } => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Squeeze => "Squeeze",
            Op::Unsqueeze => "Unsqueeze",
            Op::Flatten { .. } => "Flatten",
            Op::Concat { .. } => "Concat",
            Op::Split { .. } => "Split",
            Op::Slice => "Slice",
            Op::Expand => "Expand",
            Op::Tile => "Tile",
            Op::Pad { .. } => "Pad",
            Op::Shape { .. } => "Shape",
            Op::Size => "Size",
            Op::ConstantOfShape { .. } => "ConstantOfShape",
            Op::Range => "Range",
            Op::Identity => "Identity",
            Op::Trilu { .. } => "Trilu",
            Op::DepthToSpace { .. } => "DepthToSpace",
            Op::SpaceToDepth { .. } => "SpaceToDepth",
            Op::EyeLike { .. } => "EyeLike",
            Op::Gather { .. } => "Gather",
            Op::GatherElements { .. } => "GatherElements",
            Op::GatherNd { .. } => "GatherND",
            Op::ScatterElements { .. } => "ScatterElements",
            Op::ScatterNd { .. } => "ScatterND",
            Op::OneHot { .. } => "OneHot",
            Op::NonZero => "NonZero",
            Op::Resize(_) => "Resize",
            Op::Compress { .. } => "Compress",
            Op::ReverseSequence { .. } => "ReverseSequence",
            Op::GridSample { .. } => "GridSample",
            Op::AffineGrid { .. } => "AffineGrid",
            Op::CenterCropPad { .. } => "CenterCropPad",
            Op::RoiAlign(_) => "RoiAlign",
            Op::MaxUnpool { .. } => "MaxUnpool",
            Op::Col2Im { .. } => "Col2Im",
            Op::DeformConv(_) => "DeformConv",
            Op::QuantizeLinear(_) => "QuantizeLinear",
            Op::DequantizeLinear(_) => "DequantizeLinear",
            Op::DynamicQuantizeLinear => "DynamicQuantizeLinear",
            Op::Recurrent(a) => match a.cell {
                RnnCell::Simple => "RNN",
                RnnCell::Gru { .. } => "GRU",
                RnnCell::Lstm { .. } => "LSTM",
            },
            Op::Window { kind, .. } => kind.name(),
            Op::Dft { .. } => "DFT",
            Op::Stft { .. } => "STFT",
            Op::MelWeightMatrix { .. } => "MelWeightMatrix",
            Op::NonMaxSuppression { .. } => "NonMaxSuppression",
            Op::BitCast { .. } => "BitCast",
            Op::Unique { .. } => "Unique",
            Op::SwiGlu { .. } => "SwiGLU",
            Op::TensorScatter { .. } => "TensorScatter",
            Op::Det => "Det",
            Op::LinearAttention(_) => "LinearAttention",
            Op::CausalConvWithState { .. } => "CausalConvWithState",
            Op::If { .. } => "If",
            Op::Scan(_) => "Scan",
            Op::Loop { .. } => "Loop",
        }
    }
}
