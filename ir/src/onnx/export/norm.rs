//! ONNX export of the softmax family, the normalizations, Attention, RotaryEmbedding, Dropout and
//! the losses. Softmax's opset < 13 2-D coercion, per-activation batch norm (opset < 7
//! `spatial = 0`) and opset < 10 float dropout masks become small groups of standard ops.

use super::cx::{Cx, Lowered, Spec};
use crate::dtype::DType;
use crate::error::Error;
use crate::op::{AttentionAttrs, LossReduction, SoftmaxKind};
use crate::tensor::Tensor;

const DEFAULT_EPSILON: f32 = 1e-5;

/// A `stash_type` attribute (default float).
fn stash(s: Spec, t: DType) -> Spec {
    s.int_or(
        "stash_type",
        crate::onnx::dtype_to_onnx(t) as i64,
        crate::onnx::dtype_to_onnx(DType::F32) as i64,
    )
}

/// Softmax, LogSoftmax or Hardmax. The opset < 13 form flattens the input to 2-D at `axis`,
/// normalizes each row and restores the shape: Flatten, the op along the last axis, Reshape.
pub(super) fn softmax(
    cx: &mut Cx,
    kind: SoftmaxKind,
    axis: i64,
    coerce_2d: bool,
) -> Result<Lowered, Error> {
    let spec = Spec::new(kind.name());
    let last_axis = cx
        .input_rank(0)
        .is_some_and(|r| axis == -1 || axis == r as i64 - 1);
    if !coerce_2d || last_axis {
        let axis = if coerce_2d { -1 } else { axis };
        return Ok(Lowered::Node(spec.int_or("axis", axis, -1)));
    }
    let x = cx.input_name(0);
    let shape = cx.emit1(Spec::new("Shape"), vec![x.clone()]);
    let flat = cx.emit1(Spec::new("Flatten").int("axis", axis), vec![x]);
    let rows = cx.emit1(spec, vec![flat]);
    let out = cx.output_name(0);
    cx.emit(Spec::new("Reshape"), vec![rows, shape], vec![out]);
    Ok(Lowered::Written)
}

/// BatchNormalization with per-channel parameters; parameters of the shape of `x` without its
/// batch axis (per activation) are written as `(x - mean) / sqrt(var + eps) * scale + bias`.
pub(super) fn batch_norm(cx: &mut Cx, epsilon: f32) -> Result<Lowered, Error> {
    let ranks: Vec<Option<usize>> = (1..=4).map(|i| cx.input_rank(i)).collect();
    let per_activation = ranks.iter().any(|r| r.is_some_and(|r| r > 1));
    if !per_activation {
        return Ok(Lowered::Node(Spec::new("BatchNormalization").float_or(
            "epsilon",
            epsilon,
            DEFAULT_EPSILON,
        )));
    }
    let Some(x_rank) = cx.input_rank(0) else {
        return Err(cx.error("per-activation parameters need the input's rank"));
    };
    let x = cx.input_name(0);
    let x_dtype = cx.input_dtype(0);
    let mut params = Vec::with_capacity(4);
    for (k, rank) in ranks.iter().enumerate() {
        let i = k + 1;
        if cx.input(i).is_none() {
            return Err(cx.error(format!("input {i} is missing")));
        }
        let mut p = cx.input_name(i);
        if x_dtype.is_none() || cx.input_dtype(i) != x_dtype {
            p = cx.emit1(Spec::new("CastLike"), vec![p, x.clone()]);
        }
        // A per-channel parameter broadcasts against the spatial axes.
        if *rank == Some(1) && x_rank > 2 {
            let axes: Vec<i64> = (1..x_rank as i64 - 1).collect();
            let axes = cx.ints_constant(&axes)?;
            p = cx.emit1(Spec::new("Unsqueeze"), vec![p, axes]);
        }
        params.push(p);
    }
    let [scale, bias, mean, var] = <[String; 4]>::try_from(params)
        .map_err(|_| cx.error("BatchNormalization takes four parameters"))?;
    let eps = cx.constant(&Tensor::scalar_f32(epsilon));
    let eps = cx.emit1(Spec::new("CastLike"), vec![eps, x.clone()]);
    let var_eps = cx.emit1(Spec::new("Add"), vec![var, eps]);
    let std = cx.emit1(Spec::new("Sqrt"), vec![var_eps]);
    let mul = cx.emit1(Spec::new("Div"), vec![scale, std]);
    let centered = cx.emit1(Spec::new("Sub"), vec![x, mean]);
    let scaled = cx.emit1(Spec::new("Mul"), vec![centered, mul]);
    let out = cx.output_name(0);
    cx.emit(Spec::new("Add"), vec![scaled, bias], vec![out]);
    Ok(Lowered::Written)
}

pub(super) fn instance_norm(epsilon: f32) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("InstanceNormalization").float_or(
        "epsilon",
        epsilon,
        DEFAULT_EPSILON,
    )))
}

pub(super) fn layer_norm(axis: i64, epsilon: f32, stash_type: DType) -> Result<Lowered, Error> {
    let s = Spec::new("LayerNormalization")
        .int_or("axis", axis, -1)
        .float_or("epsilon", epsilon, DEFAULT_EPSILON);
    Ok(Lowered::Node(stash(s, stash_type)))
}

pub(super) fn group_norm(
    num_groups: usize,
    epsilon: f32,
    stash_type: DType,
) -> Result<Lowered, Error> {
    let s = Spec::new("GroupNormalization")
        .int("num_groups", num_groups as i64)
        .float_or("epsilon", epsilon, DEFAULT_EPSILON);
    Ok(Lowered::Node(stash(s, stash_type)))
}

pub(super) fn rms_norm(axis: i64, epsilon: f32, stash_type: DType) -> Result<Lowered, Error> {
    let s = Spec::new("RMSNormalization")
        .since(23)
        .int_or("axis", axis, -1)
        .float_or("epsilon", epsilon, DEFAULT_EPSILON);
    Ok(Lowered::Node(stash(s, stash_type)))
}

pub(super) fn lp_norm(axis: i64, p: i64) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("LpNormalization")
            .int_or("axis", axis, -1)
            .int_or("p", p, 2),
    ))
}

pub(super) fn mean_variance_norm(axes: &[i64]) -> Result<Lowered, Error> {
    let s = Spec::new("MeanVarianceNormalization");
    Ok(Lowered::Node(if axes == [0, 2, 3] {
        s
    } else {
        s.ints("axes", axes)
    }))
}

/// Attention (opset 23); `nonpad_kv_seqlen` needs opset 24, the window sizes opset 25.
pub(super) fn attention(cx: &Cx, a: &AttentionAttrs) -> Result<Lowered, Error> {
    let mut s = Spec::new("Attention")
        .since(23)
        .flag("is_causal", a.is_causal, false)
        .int_or("qk_matmul_output_mode", a.qk_matmul_output_mode, 0)
        .float_or("softcap", a.softcap, 0.0);
    if let Some(h) = a.kv_num_heads {
        s = s.int("kv_num_heads", h as i64);
    }
    if let Some(h) = a.q_num_heads {
        s = s.int("q_num_heads", h as i64);
    }
    if let Some(scale) = a.scale {
        s = s.float("scale", scale);
    }
    if let Some(t) = a.softmax_precision {
        s = s.dtype("softmax_precision", t);
    }
    if cx.input(6).is_some() {
        s = s.since(24);
    }
    if let Some(w) = a.left_window_size {
        s = s.int("left_window_size", w as i64).since(25);
    }
    if let Some(w) = a.right_window_size {
        s = s.int("right_window_size", w as i64).since(25);
    }
    Ok(Lowered::Node(s))
}

pub(super) fn rotary_embedding(
    interleaved: bool,
    num_heads: Option<usize>,
    rotary_embedding_dim: usize,
) -> Result<Lowered, Error> {
    let mut s = Spec::new("RotaryEmbedding")
        .since(23)
        .flag("interleaved", interleaved, false)
        .int_or("rotary_embedding_dim", rotary_embedding_dim as i64, 0);
    if let Some(h) = num_heads {
        s = s.int("num_heads", h as i64);
    }
    Ok(Lowered::Node(s))
}

/// Dropout; the opset < 10 mask of the input's dtype is the bool mask cast like the input.
pub(super) fn dropout(cx: &mut Cx, float_mask: bool) -> Result<Lowered, Error> {
    if !float_mask || cx.n_outputs() < 2 {
        return Ok(Lowered::Node(Spec::new("Dropout")));
    }
    let mask = cx.fresh();
    let outputs = vec![cx.output_name(0), mask.clone()];
    let inputs = cx.input_names();
    cx.emit(Spec::new("Dropout"), inputs, outputs);
    let x = cx.input_name(0);
    let out = cx.output_name(1);
    cx.emit(Spec::new("CastLike"), vec![mask, x], vec![out]);
    Ok(Lowered::Written)
}

/// NegativeLogLikelihoodLoss or SoftmaxCrossEntropyLoss.
pub(super) fn loss(
    op_type: &'static str,
    ignore_index: Option<i64>,
    reduction: LossReduction,
) -> Result<Lowered, Error> {
    let r = match reduction {
        LossReduction::None => "none",
        LossReduction::Sum => "sum",
        LossReduction::Mean => "mean",
    };
    let mut s = Spec::new(op_type).string_or("reduction", r, "mean");
    if let Some(i) = ignore_index {
        s = s.int("ignore_index", i);
    }
    Ok(Lowered::Node(s))
}
