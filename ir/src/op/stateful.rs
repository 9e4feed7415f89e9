//! Attributes of sequence ops that carry a recurrent state: LinearAttention.

use serde::{Deserialize, Serialize};

/// LinearAttention's heads, scale and recurrence: `gated` decays the state by `exp(decay)` each
/// step, `delta` writes `beta * (v - S^T k)` instead of `v` (both: ONNX's "gated_delta").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearAttentionAttrs {
    pub q_num_heads: usize,
    pub kv_num_heads: usize,
    /// `None` means `1 / sqrt(d_k)`.
    pub scale: Option<f32>,
    pub gated: bool,
    pub delta: bool,
}
