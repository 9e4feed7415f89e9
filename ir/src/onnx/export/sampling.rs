//! ONNX export of the spatial sampling ops: GridSample, AffineGrid, CenterCropPad, RoiAlign,
//! MaxUnpool, Col2Im, DeformConv.

use super::cx::{Lowered, Spec};
use crate::error::Error;
use crate::op::{DeformConvAttrs, GridPadding, ResizeMode, RoiAlignAttrs, RoiPoolMode};

/// GridSample with the opset 20 mode names.
pub(super) fn grid_sample(
    mode: ResizeMode,
    padding: GridPadding,
    align_corners: bool,
) -> Result<Lowered, Error> {
    let m = match mode {
        ResizeMode::Nearest => "nearest",
        ResizeMode::Linear => "linear",
        ResizeMode::Cubic => "cubic",
    };
    let p = match padding {
        GridPadding::Zeros => "zeros",
        GridPadding::Border => "border",
        GridPadding::Reflection => "reflection",
    };
    Ok(Lowered::Node(
        Spec::new("GridSample")
            .string_or("mode", m, "linear")
            .string_or("padding_mode", p, "zeros")
            .flag("align_corners", align_corners, false),
    ))
}

pub(super) fn affine_grid(align_corners: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("AffineGrid").flag(
        "align_corners",
        align_corners,
        false,
    )))
}

pub(super) fn center_crop_pad(axes: Option<&[i64]>) -> Result<Lowered, Error> {
    let s = Spec::new("CenterCropPad");
    Ok(Lowered::Node(match axes {
        Some(a) => s.ints("axes", a),
        None => s,
    }))
}

pub(super) fn roi_align(a: &RoiAlignAttrs) -> Result<Lowered, Error> {
    let mode = match a.mode {
        RoiPoolMode::Avg => "avg",
        RoiPoolMode::Max => "max",
    };
    let ct = if a.half_pixel {
        "half_pixel"
    } else {
        "output_half_pixel"
    };
    Ok(Lowered::Node(
        Spec::new("RoiAlign")
            .string_or("mode", mode, "avg")
            .string_or("coordinate_transformation_mode", ct, "half_pixel")
            .int_or("output_height", a.output_height as i64, 1)
            .int_or("output_width", a.output_width as i64, 1)
            .int_or("sampling_ratio", a.sampling_ratio as i64, 0)
            .float_or("spatial_scale", a.spatial_scale, 1.0),
    ))
}

pub(super) fn max_unpool(
    kernel_shape: &[usize],
    pads: &[usize],
    strides: &[usize],
) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("MaxUnpool")
            .sizes("kernel_shape", kernel_shape)
            .sizes("pads", pads)
            .sizes("strides", strides),
    ))
}

pub(super) fn col2im(
    dilations: &[usize],
    pads: &[usize],
    strides: &[usize],
) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("Col2Im")
            .sizes("dilations", dilations)
            .sizes("pads", pads)
            .sizes("strides", strides),
    ))
}

pub(super) fn deform_conv(a: &DeformConvAttrs) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("DeformConv")
            .sizes("kernel_shape", &a.kernel_shape)
            .sizes("strides", &a.strides)
            .sizes("dilations", &a.dilations)
            .sizes("pads", &a.pads)
            .int_or("group", a.group as i64, 1)
            .int_or("offset_group", a.offset_group as i64, 1),
    ))
}
