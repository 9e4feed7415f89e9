//! ONNX importers for: Reshape, Transpose, Squeeze/Unsqueeze, Flatten, Concat, Split, Slice, Expand, Tile, Pad, Shape, Size, ConstantOfShape, Range, Identity, Trilu, DepthToSpace, SpaceToDepth, EyeLike.
#![allow(unused_imports)]

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::*;

pub(super) fn register(reg: &mut Registry) {
    let _ = reg;
}
