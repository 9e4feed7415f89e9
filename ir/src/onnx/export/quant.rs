//! ONNX export of QuantizeLinear and DequantizeLinear (DynamicQuantizeLinear has no
//! attributes).

use super::cx::{Cx, Lowered, Spec};
use crate::error::Error;
use crate::op::QuantAttrs;

fn common(s: Spec, a: &QuantAttrs) -> Spec {
    s.int_or("axis", a.axis, 1)
        .int_or("block_size", a.block_size as i64, 0)
}

/// QuantizeLinear; a scale of another dtype than `x` needs opset 23.
pub(super) fn quantize_linear(cx: &Cx, a: &QuantAttrs) -> Result<Lowered, Error> {
    let s = common(Spec::new("QuantizeLinear"), a).flag("saturate", a.saturate, true);
    let s = match (cx.input_dtype(0), cx.input_dtype(1)) {
        (Some(x), Some(scale)) if x != scale => s.since(23),
        _ => s,
    };
    Ok(Lowered::Node(match a.output_dtype {
        Some(d) => s.dtype("output_dtype", d),
        None => s,
    }))
}

/// DequantizeLinear; `output_dtype` exists from opset 23.
pub(super) fn dequantize_linear(a: &QuantAttrs) -> Result<Lowered, Error> {
    let s = common(Spec::new("DequantizeLinear"), a);
    Ok(Lowered::Node(match a.output_dtype {
        Some(d) => s.dtype("output_dtype", d).since(23),
        None => s,
    }))
}
