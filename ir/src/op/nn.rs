//! Attributes of convolution and pooling.

use serde::{Deserialize, Serialize};

/// How padding is derived when `pads` is not given explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// Attributes of `Conv` (and the base of `ConvTranspose`). Empty lists mean the spec default for
/// the spatial rank: strides and dilations 1, pads 0; `kernel_shape: None` takes it from `w`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConvAttrs {
    pub kernel_shape: Option<Vec<usize>>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    /// `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`.
    pub pads: Vec<usize>,
    pub auto_pad: AutoPad,
    pub group: usize,
}

/// Attributes of `ConvTranspose`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConvTransposeAttrs {
    pub conv: ConvAttrs,
    pub output_padding: Vec<usize>,
    /// When non-empty, the spatial output shape; pads are then derived from it.
    pub output_shape: Vec<usize>,
}

/// Attributes shared by the windowed pools.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PoolAttrs {
    pub kernel_shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads: Vec<usize>,
    pub auto_pad: AutoPad,
    pub ceil_mode: bool,
}
