//! ONNX importers for gated activations: SwiGLU.

use super::Registry;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::Op;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("SwiGLU", |n: &OnnxNode, e: &mut Emitter| {
        e.pass(Op::SwiGlu {
            alpha: n.float("alpha", 1.0)?,
        });
        Ok(())
    });
}
