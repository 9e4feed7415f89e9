//! ONNX importers for Cast and CastLike: the target dtype (by code, or by name before opset 6),
//! `saturate`, and `round_mode`.

use super::pass;
use crate::dtype::DType;
use crate::error::Error;
use crate::onnx::proto::attribute_proto::AttributeType;
use crate::onnx::proto::tensor_proto::DataType;
use crate::onnx::{Emitter, OnnxNode, dtype_from_onnx};
use crate::op::Op;

pub(super) fn cast(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let to = cast_target(n)?;
    check_round_mode(n, Some(to))?;
    let saturate = n.bool("saturate", true)?;
    pass(e, Op::Cast { to, saturate })
}

pub(super) fn cast_like(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let like = e
        .input(1)
        .and_then(|v| e.graph.value(v).ty.as_ref())
        .map(|t| t.dtype);
    check_round_mode(n, like)?;
    let saturate = n.bool("saturate", true)?;
    pass(e, Op::CastLike { saturate })
}

/// Cast's `to`: a `TensorProto.DataType` code, or before opset 6 its name (`"FLOAT"`).
fn cast_target(n: &OnnxNode) -> Result<DType, Error> {
    let attr = n.proto.attribute.iter().find(|a| a.name == "to");
    let Some(attr) = attr else {
        return Err(n.attr_error("to", "is required"));
    };
    if attr.r#type != AttributeType::String as i32 {
        return n
            .dtype_opt("to")?
            .ok_or_else(|| n.attr_error("to", "is required"));
    }
    let name = n.string("to", "")?;
    let code =
        DataType::from_str_name(&name.to_uppercase()).ok_or_else(|| n.bad_value("to", &name))?;
    dtype_from_onnx(code as i32)
        .ok_or_else(|| n.attr_error("to", format!("element type {name} is not supported")))
}

/// Cast's `round_mode` (opset 24+) only affects casts to float8e8m0. The IR's Cast rounds
/// e8m0 `up`, the default; the other modes are reported as unsupported when they could
/// matter (the target is e8m0 or, for CastLike, not known at import).
fn check_round_mode(n: &OnnxNode, target: Option<DType>) -> Result<(), Error> {
    let mode = n.string("round_mode", "up")?;
    match mode.as_str() {
        "up" => Ok(()),
        "down" | "nearest" if target.is_some_and(|t| t != DType::F8E8M0) => Ok(()),
        "down" | "nearest" => Err(n.attr_error(
            "round_mode",
            format!("'{mode}' is not supported for casts to float8e8m0 (only 'up')"),
        )),
        other => Err(n.bad_value("round_mode", other)),
    }
}
