//! ONNX importers for: Reduce*, ArgMax/ArgMin, TopK, CumSum, CumProd.
#![allow(unused_imports)]

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::*;

pub(super) fn register(reg: &mut Registry) {
    let _ = reg;
}
