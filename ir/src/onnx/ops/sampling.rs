//! ONNX importers for spatial sampling ops: GridSample (opsets 16 to 22), AffineGrid (20+),
//! CenterCropPad (18+), RoiAlign (10+), MaxUnpool (9+),
//! Col2Im (18+), DeformConv (19+).

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{DeformConvAttrs, GridPadding, Op, ResizeMode, RoiAlignAttrs, RoiPoolMode};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("GridSample", grid_sample);
    reg.insert("AffineGrid", affine_grid);
    reg.insert("CenterCropPad", center_crop_pad);
    reg.insert("RoiAlign", roi_align);
    reg.insert("MaxUnpool", max_unpool);
    reg.insert("Col2Im", col2im);
    reg.insert("DeformConv", deform_conv);
}

fn grid_sample(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    // Opset 16 spells the modes "bilinear" and "bicubic"; opset 20 renamed them.
    let default_mode = if node.opset < 20 {
        "bilinear"
    } else {
        "linear"
    };
    let m = node.string("mode", default_mode)?;
    let mode = match m.as_str() {
        "nearest" => ResizeMode::Nearest,
        "bilinear" if node.opset < 20 => ResizeMode::Linear,
        "bicubic" if node.opset < 20 => ResizeMode::Cubic,
        "linear" if node.opset >= 20 => ResizeMode::Linear,
        "cubic" if node.opset >= 20 => ResizeMode::Cubic,
        _ => return Err(node.bad_value("mode", m)),
    };
    let p = node.string("padding_mode", "zeros")?;
    let padding = match p.as_str() {
        "zeros" => GridPadding::Zeros,
        "border" => GridPadding::Border,
        "reflection" => GridPadding::Reflection,
        _ => return Err(node.bad_value("padding_mode", p)),
    };
    e.pass(Op::GridSample {
        mode,
        padding,
        align_corners: node.bool("align_corners", false)?,
    });
    Ok(())
}

fn affine_grid(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::AffineGrid {
        align_corners: node.bool("align_corners", false)?,
    });
    Ok(())
}

fn center_crop_pad(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::CenterCropPad {
        axes: node.ints("axes")?,
    });
    Ok(())
}

fn roi_align(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let m = node.string("mode", "avg")?;
    let mode = match m.as_str() {
        "avg" => RoiPoolMode::Avg,
        "max" => RoiPoolMode::Max,
        _ => return Err(node.bad_value("mode", m)),
    };
    // Opset 10 predates the attribute and behaves as `output_half_pixel`.
    let default_transform = if node.opset < 16 {
        "output_half_pixel"
    } else {
        "half_pixel"
    };
    let t = node.string("coordinate_transformation_mode", default_transform)?;
    let half_pixel = match t.as_str() {
        "half_pixel" => true,
        "output_half_pixel" => false,
        _ => return Err(node.bad_value("coordinate_transformation_mode", t)),
    };
    e.pass(Op::RoiAlign(RoiAlignAttrs {
        mode,
        output_height: node.usize("output_height", 1)?,
        output_width: node.usize("output_width", 1)?,
        sampling_ratio: node.usize("sampling_ratio", 0)?,
        spatial_scale: node.float("spatial_scale", 1.0)?,
        half_pixel,
    }));
    Ok(())
}

fn max_unpool(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let kernel_shape = node
        .usizes("kernel_shape")?
        .ok_or_else(|| node.attr_error("kernel_shape", "is required"))?;
    e.pass(Op::MaxUnpool {
        kernel_shape,
        pads: node.usizes("pads")?.unwrap_or_default(),
        strides: node.usizes("strides")?.unwrap_or_default(),
    });
    Ok(())
}

fn col2im(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Col2Im {
        dilations: node.usizes("dilations")?.unwrap_or_default(),
        pads: node.usizes("pads")?.unwrap_or_default(),
        strides: node.usizes("strides")?.unwrap_or_default(),
    });
    Ok(())
}

fn deform_conv(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::DeformConv(DeformConvAttrs {
        kernel_shape: node.usizes("kernel_shape")?.unwrap_or_default(),
        strides: node.usizes("strides")?.unwrap_or_default(),
        dilations: node.usizes("dilations")?.unwrap_or_default(),
        pads: node.usizes("pads")?.unwrap_or_default(),
        group: node.usize("group", 1)?,
        offset_group: node.usize("offset_group", 1)?,
    }));
    Ok(())
}
