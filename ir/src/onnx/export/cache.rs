//! ONNX export of key/value cache updates: TensorScatter (opset 24).

use super::cx::{Lowered, Spec};
use crate::error::Error;

pub(super) fn tensor_scatter(axis: i64, circular: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("TensorScatter")
            .since(24)
            .int_or("axis", axis, -2)
            .string_or(
                "mode",
                if circular { "circular" } else { "linear" },
                "linear",
            ),
    ))
}
