//! ONNX importers for: Conv, ConvTranspose, the pools, LRN.
#![allow(unused_imports)]

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::*;

pub(super) fn register(reg: &mut Registry) {
    let _ = reg;
}
