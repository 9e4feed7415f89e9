//! Floating-point operation counts of ops and graphs, from their inferred types.
//!
//! Counting convention (one "FLOP" is one arithmetic operation on one element):
//! - a multiply-add counts 2: MatMul/Gemm/Einsum/Conv count `2 * M * N * K`-style products, plus
//!   one per output element for a bias;
//! - cheap elementwise ops (add, compare, select, abs, relu, min/max, sqrt, reciprocal) count 1
//!   per output element; `Clip` 2; transcendental functions and activations built on them (exp,
//!   log, trig, tanh, erf, sigmoid, gelu, swish, mish, elu...) and `Pow` count
//!   [`TRANSCENDENTAL`] per element;
//! - reductions, arg-reductions, scans and top-k count one per input element; pools one per
//!   window element per output element;
//! - softmax counts [`SOFTMAX`] per element; normalizations a small constant per element
//!   ([`NORMALIZE`], batch norm 2 with its per-channel factors folded, RMS norm 4);
//! - attention counts its two matmuls plus softmax over the scores;
//! - layout, indexing, casts and shape ops count 0: they move or convert data without
//!   arithmetic (scatter with a reduction counts one per update).
//!
//! A count is `None` when a shape it needs is unknown or symbolic; counts saturate at `u64::MAX`.

use crate::graph::Graph;
use crate::op::{BinaryOp, Op, ResizeMode, ScatterReduction, SoftmaxKind, UnaryOp};
use crate::shape::TensorType;

/// FLOPs charged per element for a transcendental function (exp, log, tanh, erf...).
pub const TRANSCENDENTAL: u64 = 4;
/// FLOPs per element of softmax: max, subtract, exp, sum, divide.
pub const SOFTMAX: u64 = TRANSCENDENTAL + 4;
/// FLOPs per element of mean/variance normalizations: mean, centre, square-sum, scale, affine.
pub const NORMALIZE: u64 = 7;

/// The FLOPs of one op with the given input types (`None` for omitted or untyped inputs) and
/// output types; `None` when a shape the count depends on is not known.
pub fn flops(op: &Op, inputs: &[Option<&TensorType>], outputs: &[TensorType]) -> Option<u64> {
    let out_elems = || numel(outputs.first()?);
    let in_elems = |i: usize| numel(input(inputs, i)?);
    match op {
        Op::Unary(u) => Some(mul(unary_cost(*u), out_elems()?)),
        Op::Binary(b) => Some(mul(binary_cost(*b), out_elems()?)),
        Op::Where => out_elems(),
        Op::Clip => Some(mul(2, out_elems()?)),
        Op::Cast { .. } | Op::CastLike { .. } => Some(0),
        Op::MatMul | Op::MatMulInteger => matmul_flops(input(inputs, 0)?, outputs.first()?),
        Op::QLinearMatMul => matmul_flops(input(inputs, 0)?, outputs.first()?),
        Op::Gemm(attrs) => {
            let a = dims(input(inputs, 0)?)?;
            let k = *a.get(if attrs.trans_a { 0 } else { 1 })?;
            let n_out = out_elems()?;
            let bias = if input(inputs, 2).is_some() { n_out } else { 0 };
            Some(mul(mul(2, n_out), k).saturating_add(bias))
        }
        Op::Einsum { equation } => einsum_flops(equation, inputs),
        Op::Conv(_) | Op::ConvInteger(_) => {
            let w = dims(input(inputs, 1)?)?;
            let per_output = product(w.get(1..)?);
            let n_out = out_elems()?;
            let bias = if input(inputs, 2).is_some() { n_out } else { 0 };
            Some(mul(mul(2, n_out), per_output).saturating_add(bias))
        }
        Op::ConvTranspose(_) => {
            // Every input element scatters into `Cout/group * prod(kernel)` outputs.
            let w = dims(input(inputs, 1)?)?;
            let per_input = product(w.get(1..)?);
            let bias = if input(inputs, 2).is_some() {
                out_elems()?
            } else {
                0
            };
            Some(mul(mul(2, in_elems(0)?), per_input).saturating_add(bias))
        }
        Op::MaxPool { pool, .. } | Op::AveragePool { pool, .. } => {
            Some(mul(out_elems()?, product_usize(&pool.kernel_shape)))
        }
        Op::LpPool { pool, .. } => {
            Some(mul(mul(2, out_elems()?), product_usize(&pool.kernel_shape)))
        }
        Op::GlobalAveragePool | Op::GlobalMaxPool => in_elems(0),
        Op::GlobalLpPool { .. } => Some(mul(2, in_elems(0)?)),
        Op::Lrn { size, .. } => Some(mul(in_elems(0)?, 2 * (*size as u64) + TRANSCENDENTAL)),
        Op::Softmax { kind, .. } => {
            let per = match kind {
                SoftmaxKind::Softmax | SoftmaxKind::LogSoftmax => SOFTMAX,
                SoftmaxKind::Hardmax => 2,
            };
            Some(mul(per, in_elems(0)?))
        }
        Op::BatchNormalization { .. } => Some(mul(2, in_elems(0)?)),
        Op::InstanceNormalization { .. }
        | Op::LayerNormalization { .. }
        | Op::GroupNormalization { .. }
        | Op::MeanVarianceNormalization { .. } => Some(mul(NORMALIZE, in_elems(0)?)),
        Op::RmsNormalization { .. } => Some(mul(4, in_elems(0)?)),
        Op::LpNormalization { .. } => Some(mul(3, in_elems(0)?)),
        Op::Attention(attrs) => attention_flops(attrs.q_num_heads, inputs, outputs),
        Op::RotaryEmbedding { .. } => Some(mul(3, in_elems(0)?)),
        Op::Dropout { .. } => Some(0),
        Op::NegativeLogLikelihoodLoss { .. } => in_elems(1),
        Op::SoftmaxCrossEntropyLoss { .. } => {
            Some(mul(SOFTMAX, in_elems(0)?).saturating_add(in_elems(1)?))
        }
        Op::Reduce { .. } | Op::ArgReduce { .. } | Op::TopK { .. } => in_elems(0),
        Op::CumSum { .. } | Op::CumProd { .. } => in_elems(0),
        Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Squeeze
        | Op::Unsqueeze
        | Op::Flatten { .. }
        | Op::Concat { .. }
        | Op::Split { .. }
        | Op::Slice
        | Op::Expand
        | Op::Tile
        | Op::Pad { .. }
        | Op::Shape { .. }
        | Op::Size
        | Op::ConstantOfShape { .. }
        | Op::Range
        | Op::Identity
        | Op::Trilu { .. }
        | Op::DepthToSpace { .. }
        | Op::SpaceToDepth { .. }
        | Op::EyeLike { .. }
        | Op::Gather { .. }
        | Op::GatherElements { .. }
        | Op::GatherNd { .. }
        | Op::OneHot { .. }
        | Op::Compress { .. }
        | Op::ReverseSequence { .. } => Some(0),
        Op::ScatterElements { reduction, .. } | Op::ScatterNd { reduction } => match reduction {
            ScatterReduction::None => Some(0),
            ScatterReduction::Add
            | ScatterReduction::Mul
            | ScatterReduction::Max
            | ScatterReduction::Min => in_elems(2),
        },
        Op::NonZero => in_elems(0),
        Op::Resize(attrs) => {
            // Per output element: one multiply-add per tap of the interpolation window.
            let rank = outputs.first()?.rank()? as u64;
            let taps_per_axis: u64 = match attrs.mode {
                ResizeMode::Nearest => return Some(0),
                ResizeMode::Linear => 2,
                ResizeMode::Cubic => 4,
            };
            Some(mul(
                mul(2, out_elems()?),
                taps_per_axis.saturating_pow(rank as u32),
            ))
        }
        Op::GridSample { mode, .. } => {
            // Per output element: one multiply-add per tap of the interpolation window.
            let k = input(inputs, 0)?.rank()?.checked_sub(2)? as u32;
            let taps_per_axis: u64 = match mode {
                ResizeMode::Nearest => return Some(0),
                ResizeMode::Linear => 2,
                ResizeMode::Cubic => 4,
            };
            Some(mul(mul(2, out_elems()?), taps_per_axis.saturating_pow(k)))
        }
        // Per grid element: a dot product of k + 1 terms (k multiply-adds).
        Op::AffineGrid { .. } => {
            let k = *dims(outputs.first()?)?.last()?;
            Some(mul(mul(2, out_elems()?), k))
        }
        Op::CenterCropPad { .. } | Op::MaxUnpool { .. } => Some(0),
        // One add per input element summed into the image.
        Op::Col2Im { .. } => in_elems(0),
        // The convolution over the sampled columns (one multiply-add per weight per output),
        // plus per column entry (image, channel, tap, position) a bilinear sample (4
        // multiply-adds) and a mask multiply, plus the bias.
        Op::DeformConv(_) => {
            let w = dims(input(inputs, 1)?)?;
            let x = dims(input(inputs, 0)?)?;
            let out = dims(outputs.first()?)?;
            let taps = product(w.get(2..)?);
            let per_output = mul(*w.get(1)?, taps);
            let positions = product(out.get(2..)?);
            let samples = mul(mul(*x.first()?, *x.get(1)?), mul(taps, positions));
            let bias = if input(inputs, 3).is_some() {
                out_elems()?
            } else {
                0
            };
            Some(
                mul(mul(2, out_elems()?), per_output)
                    .saturating_add(mul(9, samples))
                    .saturating_add(bias),
            )
        }
        // Per output element: a 4-tap bilinear sample (4 multiply-adds) per grid sample; with
        // `sampling_ratio` 0 the grid size depends on the roi values, so it is not known.
        Op::RoiAlign(a) => {
            let samples = (a.sampling_ratio as u64)
                .checked_pow(2)
                .filter(|&s| s > 0)?;
            Some(mul(mul(8, samples), out_elems()?))
        }
        Op::QuantizeLinear(_) => Some(mul(3, in_elems(0)?)),
        Op::DequantizeLinear(_) => Some(mul(2, in_elems(0)?)),
        Op::DynamicQuantizeLinear => Some(mul(5, in_elems(0)?)),
        Op::Recurrent(a) => {
            // Per step, direction and batch row: the X W^T and H R^T products over every gate
            // row, plus one activation per gate element.
            let x = dims(input(inputs, 0)?)?;
            let r = dims(input(inputs, 2)?)?;
            let (rows, input_size) = (mul(*x.first()?, *x.get(1)?), *x.get(2)?);
            let (gate_rows, hidden) = (*r.get(1)?, *r.get(2)?);
            let per_gate_row = mul(2, input_size.saturating_add(hidden)) + TRANSCENDENTAL;
            let steps = mul(rows, a.direction.count() as u64);
            Some(mul(mul(steps, gate_rows), per_gate_row))
        }
        // One cosine-sum per sample.
        Op::Window { .. } => Some(mul(TRANSCENDENTAL + 3, out_elems()?)),
        // A direct transform: each output bin is a complex multiply-add (8 FLOPs) per input
        // sample along the axis, plus a twiddle factor (sin and cos).
        Op::Dft { .. } => {
            // The axis is an input value, not a type: it is the one signal dim whose length
            // changes, or, when none does, at most the longest one.
            let x = dims(input(inputs, 0)?)?;
            let out = dims(outputs.first()?)?;
            let signal_dims = x.len().checked_sub(1)?;
            let samples = x[..signal_dims]
                .iter()
                .zip(&out)
                .find(|(a, b)| a != b)
                .map(|(a, _)| *a)
                .or_else(|| x[..signal_dims].iter().copied().max())?;
            let bins = numel(outputs.first()?)? / out.last().copied().filter(|&c| c > 0)?;
            Some(mul(mul(bins, samples), 8 + 2 * TRANSCENDENTAL))
        }
        // Per frame: a windowing multiply and a direct DFT over `frame_length` samples.
        Op::Stft { .. } => {
            let out = dims(outputs.first()?)?;
            let bins = *out.get(2)?;
            let frame_samples = if input(inputs, 2).is_some() {
                *dims(input(inputs, 2)?)?.first()?
            } else {
                bins
            };
            let frames = mul(*out.first()?, *out.get(1)?);
            let per_frame = mul(mul(bins, frame_samples), 8 + 2 * TRANSCENDENTAL);
            Some(mul(frames, per_frame.saturating_add(frame_samples)))
        }
        // One interpolation (subtract, divide) per output weight.
        Op::MelWeightMatrix { .. } => Some(mul(2, out_elems()?)),
        // One threshold comparison and sort key per score; the data-dependent IoU tests are not
        // knowable from types.
        Op::NonMaxSuppression { .. } => in_elems(1),
        Op::BitCast { .. } => Some(0),
        // One comparison per input element (the sort's log factor is not charged, as for TopK).
        Op::Unique { .. } => in_elems(0),
        // Scale the gate, its sigmoid (an activation), then two multiplies.
        Op::SwiGlu { .. } => Some(mul(TRANSCENDENTAL + 3, out_elems()?)),
        Op::TensorScatter { .. } => Some(0),
        // LU elimination: about 2/3 M^3 multiply-adds' worth per matrix, counted as 2 M^3 / 3.
        Op::Det => {
            let x = input(inputs, 0)?;
            let m = *dims(x)?.last()?;
            Some(mul(numel(x)? / m.max(1), mul(2 * m, m) / 3))
        }
        Op::LinearAttention(a) => {
            // Per token and kv head: state update and (delta) retrieval, 2 d_k d_v each, plus
            // the decay; per query head a 2 d_k d_v read.
            let out = dims(outputs.first()?)?;
            let state = dims(outputs.get(1)?)?;
            let tokens = mul(*out.first()?, *out.get(1)?);
            let state_elems = mul(*state.get(2)?, *state.get(3)?);
            let per_kv = mul(
                2 * (1 + u64::from(a.delta)) + u64::from(a.gated),
                state_elems,
            );
            let per_token = mul(a.kv_num_heads as u64, per_kv)
                .saturating_add(mul(2 * a.q_num_heads as u64, state_elems));
            Some(mul(tokens, per_token))
        }
        Op::CausalConvWithState { silu } => {
            // Per output element: k multiply-adds, the bias, and SiLU's sigmoid and multiply.
            let k = *dims(input(inputs, 1)?)?.last()?;
            let bias = u64::from(input(inputs, 2).is_some());
            let activation = if *silu { TRANSCENDENTAL + 1 } else { 0 };
            Some(mul(2 * k + bias + activation, out_elems()?))
        }
        // The dearer branch, typed from the captured inputs.
        Op::If {
            then_branch,
            else_branch,
        } => {
            let tys: Vec<TensorType> = inputs
                .get(1..)?
                .iter()
                .map(|t| t.cloned())
                .collect::<Option<_>>()?;
            let cost = |b: &Graph| graph_flops(&crate::infer::typed_body(b, &tys).ok()?);
            Some(cost(then_branch)?.max(cost(else_branch)?))
        }
        // The body's count once per slice.
        Op::Scan(a) => {
            let tys: Vec<TensorType> = inputs.iter().map(|t| t.cloned()).collect::<Option<_>>()?;
            let (tys, length) = crate::infer::scan_body_inputs(a, tys).ok()?;
            let body = crate::infer::typed_body(&a.body, &tys).ok()?;
            Some(mul(graph_flops(&body)?, length?.as_static()? as u64))
        }
        // The iteration count is only known when the loop runs.
        Op::Loop { .. } => None,
    }
}

/// The FLOPs of a whole graph from its inferred types; `None` when any node's count is unknown.
pub fn graph_flops(graph: &Graph) -> Option<u64> {
    let mut total = 0u64;
    for node in &graph.nodes {
        let inputs: Vec<Option<&TensorType>> = node
            .inputs
            .iter()
            .map(|v| v.and_then(|v| graph.value(v).ty.as_ref()))
            .collect();
        let outputs: Vec<TensorType> = node
            .outputs
            .iter()
            .map(|&o| graph.value(o).ty.clone())
            .collect::<Option<_>>()?;
        total = total.saturating_add(flops(&node.op, &inputs, &outputs)?);
    }
    Some(total)
}

fn unary_cost(u: UnaryOp) -> u64 {
    match u {
        UnaryOp::Abs
        | UnaryOp::Neg
        | UnaryOp::Sqrt
        | UnaryOp::Reciprocal
        | UnaryOp::Floor
        | UnaryOp::Ceil
        | UnaryOp::Round
        | UnaryOp::Sign
        | UnaryOp::Not
        | UnaryOp::BitwiseNot
        | UnaryOp::IsNaN
        | UnaryOp::IsInf { .. }
        | UnaryOp::Relu
        | UnaryOp::LeakyRelu { .. }
        | UnaryOp::ThresholdedRelu { .. }
        | UnaryOp::Shrink { .. }
        | UnaryOp::HardSigmoid { .. }
        | UnaryOp::HardSwish
        | UnaryOp::Softsign => 1,
        UnaryOp::Exp
        | UnaryOp::Log
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
        | UnaryOp::Sigmoid
        | UnaryOp::Softplus
        | UnaryOp::Elu { .. }
        | UnaryOp::Selu { .. }
        | UnaryOp::Celu { .. }
        | UnaryOp::Swish { .. }
        | UnaryOp::Gelu { .. }
        | UnaryOp::Mish => TRANSCENDENTAL,
    }
}

fn binary_cost(b: BinaryOp) -> u64 {
    match b {
        BinaryOp::Pow => TRANSCENDENTAL,
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Mod { .. }
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
        | BinaryOp::BitShiftLeft
        | BinaryOp::BitShiftRight
        | BinaryOp::PRelu => 1,
    }
}

/// `2 * K` per output element, K being the last dim of `a` (numpy matmul; 1-D `a` included).
fn matmul_flops(a: &TensorType, out: &TensorType) -> Option<u64> {
    let k = *dims(a)?.last()?;
    Some(mul(mul(2, numel(out)?), k))
}

/// Attention as QK^T, softmax over the scores, and scores times V. Inputs are 4-D
/// `[batch, heads, seq, head_size]` or 3-D `[batch, seq, heads * head_size]`.
fn attention_flops(
    q_num_heads: Option<usize>,
    inputs: &[Option<&TensorType>],
    outputs: &[TensorType],
) -> Option<u64> {
    let q = dims(input(inputs, 0)?)?;
    let k = dims(input(inputs, 1)?)?;
    let seq_axis = if q.len() == 4 { 2 } else { 1 };
    let past = match input(inputs, 4) {
        Some(p) => *dims(p)?.get(2)?,
        None => 0,
    };
    let kv_len = k.get(seq_axis)?.saturating_add(past);
    let scores = if q.len() == 4 {
        product(&q[..3])
    } else {
        mul(product(q.get(..2)?), q_num_heads? as u64)
    };
    let qk = mul(mul(2, product(&q)), kv_len);
    let pv = mul(mul(2, numel(outputs.first()?)?), kv_len);
    Some(
        qk.saturating_add(pv)
            .saturating_add(mul(SOFTMAX, mul(scores, kv_len))),
    )
}

/// At every point of the full index space: one multiply per operand beyond the first, one add.
fn einsum_flops(equation: &str, inputs: &[Option<&TensorType>]) -> Option<u64> {
    let lhs = equation.split("->").next()?;
    let terms: Vec<&str> = lhs.split(',').map(str::trim).collect();
    if terms.len() != inputs.len() {
        return None;
    }
    let mut sizes: Vec<(char, u64)> = Vec::new();
    let mut ellipsis: Vec<u64> = Vec::new();
    for (term, ty) in terms.iter().zip(inputs) {
        let shape = dims((*ty)?)?;
        let named = term.chars().filter(|c| c.is_ascii_alphabetic()).count();
        let n_ellipsis = if term.contains("...") {
            shape.len().checked_sub(named)?
        } else if shape.len() == named {
            0
        } else {
            return None;
        };
        let mut axis = 0;
        for c in term.replace("...", "*").chars() {
            if c == '*' {
                merge_ellipsis(&mut ellipsis, shape.get(axis..axis + n_ellipsis)?);
                axis += n_ellipsis;
            } else if c.is_ascii_alphabetic() {
                let d = *shape.get(axis)?;
                match sizes.iter_mut().find(|(l, _)| *l == c) {
                    Some((_, s)) => *s = (*s).max(d),
                    None => sizes.push((c, d)),
                }
                axis += 1;
            } else if !c.is_whitespace() {
                return None;
            }
        }
    }
    let points = mul(
        product(&sizes.iter().map(|&(_, s)| s).collect::<Vec<_>>()),
        product(&ellipsis),
    );
    Some(mul(points, inputs.len() as u64))
}

/// Broadcasts the ellipsis dims of one operand into the running ellipsis shape (right-aligned).
fn merge_ellipsis(acc: &mut Vec<u64>, dims: &[u64]) {
    if dims.len() > acc.len() {
        let mut grown = vec![1; dims.len() - acc.len()];
        grown.append(acc);
        *acc = grown;
    }
    let offset = acc.len() - dims.len();
    for (a, &d) in acc[offset..].iter_mut().zip(dims) {
        *a = (*a).max(d);
    }
}

fn input<'a>(inputs: &[Option<&'a TensorType>], i: usize) -> Option<&'a TensorType> {
    inputs.get(i).copied().flatten()
}

/// Static dims of a type, or `None` when the shape is unknown or symbolic.
fn dims(ty: &TensorType) -> Option<Vec<u64>> {
    ty.shape
        .as_ref()?
        .iter()
        .map(|d| d.as_static().map(|n| n as u64))
        .collect()
}

fn numel(ty: &TensorType) -> Option<u64> {
    Some(product(&dims(ty)?))
}

fn product(v: &[u64]) -> u64 {
    v.iter().fold(1u64, |acc, &d| acc.saturating_mul(d))
}

fn product_usize(v: &[usize]) -> u64 {
    v.iter().fold(1u64, |acc, &d| acc.saturating_mul(d as u64))
}

fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

#[cfg(test)]
mod tests;
