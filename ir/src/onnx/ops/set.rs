//! ONNX importers for set operations: Unique.

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::Op;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Unique", unique);
}

fn unique(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Unique {
        axis: n.int_opt("axis")?,
        sorted: n.bool("sorted", true)?,
    });
    Ok(())
}
