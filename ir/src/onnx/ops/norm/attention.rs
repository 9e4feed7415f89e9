//! ONNX importers for Attention (opsets 23-25) and RotaryEmbedding (opset 23).

use super::Registry;
use crate::dtype::DType;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{AttentionAttrs, Op};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Attention", attention);
    reg.insert("RotaryEmbedding", rotary_embedding);
}

fn attention(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let qk_matmul_output_mode = n.int("qk_matmul_output_mode", 0)?;
    if !(0..=3).contains(&qk_matmul_output_mode) {
        return Err(n.bad_value("qk_matmul_output_mode", qk_matmul_output_mode));
    }
    let softcap = n.float("softcap", 0.0)?;
    if softcap < 0.0 {
        return Err(n.attr_error("softcap", format!("must be non-negative, got {softcap}")));
    }
    let softmax_precision = n.dtype_opt("softmax_precision")?;
    if let Some(t) = softmax_precision
        && !matches!(t, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    {
        return Err(n.attr_error(
            "softmax_precision",
            format!("must be a float type, got {t}"),
        ));
    }
    // The window attributes exist from opset 25.
    let (left_window_size, right_window_size) = if n.opset >= 25 {
        (
            window(n, "left_window_size")?,
            window(n, "right_window_size")?,
        )
    } else {
        (None, None)
    };
    if e.n_outputs() > 4 {
        return Err(n.error(format!("has {} outputs, at most 4 exist", e.n_outputs())));
    }
    e.pass(Op::Attention(AttentionAttrs {
        is_causal: n.bool("is_causal", false)?,
        kv_num_heads: positive(n, "kv_num_heads")?,
        q_num_heads: positive(n, "q_num_heads")?,
        qk_matmul_output_mode,
        scale: n.float_opt("scale")?,
        softcap,
        softmax_precision,
        left_window_size,
        right_window_size,
    }));
    Ok(())
}

fn rotary_embedding(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::RotaryEmbedding {
        interleaved: n.bool("interleaved", false)?,
        num_heads: positive(n, "num_heads")?,
        rotary_embedding_dim: n.usize("rotary_embedding_dim", 0)?,
    });
    Ok(())
}

/// An optional attribute that must be positive when given.
fn positive(n: &OnnxNode, name: &str) -> Result<Option<usize>, Error> {
    match n.int_opt(name)? {
        Some(v) if v <= 0 => Err(n.attr_error(name, format!("must be positive, got {v}"))),
        v => Ok(v.map(|v| v as usize)),
    }
}

/// A window size: -1 (the default) is unbounded.
fn window(n: &OnnxNode, name: &str) -> Result<Option<usize>, Error> {
    match n.int(name, -1)? {
        -1 => Ok(None),
        v if v < -1 => Err(n.attr_error(name, format!("must be -1 or non-negative, got {v}"))),
        v => Ok(Some(v as usize)),
    }
}
