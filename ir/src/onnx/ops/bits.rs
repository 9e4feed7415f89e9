//! ONNX importers for bit-level reinterpretation: BitCast.

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::Op;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("BitCast", bit_cast);
}

fn bit_cast(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let to = n
        .dtype_opt("to")?
        .ok_or_else(|| n.attr_error("to", "is required"))?;
    e.pass(Op::BitCast { to });
    Ok(())
}
