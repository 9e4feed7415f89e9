//! ONNX importers for sequence ops that carry a recurrent state: LinearAttention and
//! CausalConvWithState.

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{LinearAttentionAttrs, Op};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("LinearAttention", linear_attention);
    reg.insert("CausalConvWithState", causal_conv_with_state);
}

fn linear_attention(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let (gated, delta) = match n.string("update_rule", "gated_delta")?.as_str() {
        "linear" => (false, false),
        "gated" => (true, false),
        "delta" => (false, true),
        "gated_delta" => (true, true),
        other => return Err(n.bad_value("update_rule", other)),
    };
    let heads = |name: &str| match n.int_opt(name)? {
        Some(h) if h > 0 => Ok(h as usize),
        Some(h) => Err(n.bad_value(name, h)),
        None => Err(n.attr_error(name, "is required")),
    };
    let scale = n.float("scale", 0.0)?;
    e.pass(Op::LinearAttention(LinearAttentionAttrs {
        q_num_heads: heads("q_num_heads")?,
        kv_num_heads: heads("kv_num_heads")?,
        scale: (scale != 0.0).then_some(scale),
        gated,
        delta,
    }));
    Ok(())
}

fn causal_conv_with_state(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let silu = match n.string("activation", "none")?.as_str() {
        "none" => false,
        "silu" | "swish" => true,
        other => return Err(n.bad_value("activation", other)),
    };
    e.pass(Op::CausalConvWithState { silu });
    Ok(())
}
