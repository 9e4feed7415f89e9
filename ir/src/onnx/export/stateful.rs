//! ONNX export of sequence ops that carry a recurrent state: LinearAttention and
//! CausalConvWithState (opset 27).

use super::cx::{Lowered, Spec};
use crate::error::Error;
use crate::op::LinearAttentionAttrs;

pub(super) fn linear_attention(a: &LinearAttentionAttrs) -> Result<Lowered, Error> {
    let rule = match (a.gated, a.delta) {
        (false, false) => "linear",
        (true, false) => "gated",
        (false, true) => "delta",
        (true, true) => "gated_delta",
    };
    let s = Spec::new("LinearAttention")
        .since(27)
        .string_or("update_rule", rule, "gated_delta")
        .int("q_num_heads", a.q_num_heads as i64)
        .int("kv_num_heads", a.kv_num_heads as i64);
    Ok(Lowered::Node(match a.scale {
        Some(scale) => s.float("scale", scale),
        None => s,
    }))
}

pub(super) fn causal_conv_with_state(silu: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("CausalConvWithState").since(27).string_or(
            "activation",
            if silu { "silu" } else { "none" },
            "none",
        ),
    ))
}
