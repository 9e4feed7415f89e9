//! ONNX importers for object-detection post-processing: NonMaxSuppression.

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::Op;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("NonMaxSuppression", non_max_suppression);
}

fn non_max_suppression(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let center_point_box = match n.int("center_point_box", 0)? {
        0 => false,
        1 => true,
        other => return Err(n.bad_value("center_point_box", other)),
    };
    e.pass(Op::NonMaxSuppression { center_point_box });
    Ok(())
}
