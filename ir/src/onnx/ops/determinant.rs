//! ONNX importers for matrix determinants: Det.

use super::Registry;
use crate::op::Op;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Det", |_, e| {
        e.pass(Op::Det);
        Ok(())
    });
}
