//! Attributes of spatial sampling ops (`GridSample`, `RoiAlign`).

use serde::{Deserialize, Serialize};

/// How `GridSample` reads positions outside the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GridPadding {
    /// Outside positions read 0.
    Zeros,
    /// Outside positions read the nearest border value.
    Border,
    /// Outside positions reflect back into the input at its borders.
    Reflection,
}

/// How `RoiAlign` pools the samples of one output bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoiPoolMode {
    Avg,
    Max,
}

/// Attributes of `RoiAlign`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoiAlignAttrs {
    pub mode: RoiPoolMode,
    pub output_height: usize,
    pub output_width: usize,
    /// Samples per bin along each axis; 0 means `ceil(roi size / output size)`.
    pub sampling_ratio: usize,
    pub spatial_scale: f32,
    /// `half_pixel` coordinates (shift by -0.5, no minimum roi size); otherwise the opset-10
    /// `output_half_pixel` behaviour (no shift, rois at least 1 wide).
    pub half_pixel: bool,
}

/// Attributes of `DeformConv`; empty lists take the defaults for the rank (strides and
/// dilations 1, pads 0, kernel from the weights).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeformConvAttrs {
    pub kernel_shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    /// `[x1_begin, x2_begin, x1_end, x2_end]`.
    pub pads: Vec<usize>,
    pub group: usize,
    pub offset_group: usize,
}
