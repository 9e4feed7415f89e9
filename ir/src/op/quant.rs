//! Attributes of the quantization ops.

use crate::dtype::DType;
use serde::{Deserialize, Serialize};

/// Attributes of `QuantizeLinear` and `DequantizeLinear`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuantAttrs {
    /// The axis of per-axis or blocked scales.
    pub axis: i64,
    /// 0 means per-tensor or per-axis; otherwise scales apply to blocks of this size on `axis`.
    pub block_size: usize,
    /// Saturate to the range of 8-bit float outputs.
    pub saturate: bool,
    /// The output dtype when no zero point gives it (`None`: u8 for quantize, the scale's dtype
    /// for dequantize).
    pub output_dtype: Option<DType>,
}
