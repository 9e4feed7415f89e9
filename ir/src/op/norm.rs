//! Attributes of softmax, normalization, attention and the loss ops.

use crate::dtype::DType;
use serde::{Deserialize, Serialize};

/// Which of the softmax family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SoftmaxKind {
    Softmax,
    LogSoftmax,
    /// One-hot of the first maximum along the axis.
    Hardmax,
}

impl SoftmaxKind {
    pub fn name(&self) -> &'static str {
        match self {
            SoftmaxKind::Softmax => "Softmax",
            SoftmaxKind::LogSoftmax => "LogSoftmax",
            SoftmaxKind::Hardmax => "Hardmax",
        }
    }
}

/// Attributes of the ONNX `Attention` op (opset 23).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionAttrs {
    pub is_causal: bool,
    pub kv_num_heads: Option<usize>,
    pub q_num_heads: Option<usize>,
    /// Which intermediate the optional 4th output returns (0: raw QK^T, 1: after softcap, 2:
    /// after softcap and bias, 3: after softmax).
    pub qk_matmul_output_mode: i64,
    /// `None` is 1/sqrt(head_size).
    pub scale: Option<f32>,
    /// 0 disables softcapping.
    pub softcap: f32,
    /// The dtype softmax computes in; `None` is the input's.
    pub softmax_precision: Option<DType>,
    /// Keys more than this many positions before the query's absolute position are masked
    /// (opset 25); `None` is unbounded.
    pub left_window_size: Option<usize>,
    /// Keys more than this many positions after the query's absolute position are masked
    /// (opset 25); `None` is unbounded.
    pub right_window_size: Option<usize>,
}

/// How a loss reduces over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LossReduction {
    None,
    Sum,
    Mean,
}
