//! ONNX importers for key/value cache updates: TensorScatter.

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::Op;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("TensorScatter", tensor_scatter);
}

fn tensor_scatter(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let circular = match n.string("mode", "linear")?.as_str() {
        "linear" => false,
        "circular" => true,
        other => return Err(n.bad_value("mode", other)),
    };
    e.pass(Op::TensorScatter {
        axis: n.int("axis", -2)?,
        circular,
    });
    Ok(())
}
