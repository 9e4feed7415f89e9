//! ONNX importers for Resize (opsets 10 to 19) and the older Upsample (opsets 1 to 10), all
//! imported as `Op::Resize` with inputs `x, roi?, scales?, sizes?`.
//!
//! Resize-10 and Upsample predate the coordinate attributes; they sample at `x_out / scale`
//! and round nearest coordinates down, which is what the ONNX version converter pins when it
//! upgrades them (`asymmetric`, nearest_mode `floor`).

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{AspectRatioPolicy, CoordinateTransform, NearestMode, Op, ResizeAttrs, ResizeMode};
use crate::tensor::Tensor;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Resize", resize);
    reg.insert("Upsample", upsample);
}

fn mode(node: &OnnxNode) -> Result<ResizeMode, Error> {
    let m = node.string("mode", "nearest")?;
    match m.as_str() {
        "nearest" => Ok(ResizeMode::Nearest),
        // Upsample-1 spells linear "bilinear".
        "linear" | "bilinear" => Ok(ResizeMode::Linear),
        "cubic" if node.op_type() == "Resize" && node.opset >= 11 => Ok(ResizeMode::Cubic),
        _ => Err(node.bad_value("mode", m)),
    }
}

/// The attributes of Resize-10 and Upsample.
fn legacy_attrs(node: &OnnxNode) -> Result<ResizeAttrs, Error> {
    Ok(ResizeAttrs {
        mode: mode(node)?,
        coordinate_transformation_mode: CoordinateTransform::Asymmetric,
        nearest_mode: NearestMode::Floor,
        cubic_coeff_a: -0.75,
        exclude_outside: false,
        extrapolation_value: 0.0,
        antialias: false,
        axes: None,
        keep_aspect_ratio_policy: AspectRatioPolicy::Stretch,
    })
}

fn resize(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if node.opset < 11 {
        let attrs = legacy_attrs(node)?;
        let (x, scales) = (e.input(0), e.input(1));
        e.finish(Op::Resize(attrs), vec![x, None, scales, None]);
        return Ok(());
    }
    let ct = node.string("coordinate_transformation_mode", "half_pixel")?;
    let coordinate_transformation_mode = match ct.as_str() {
        "half_pixel" => CoordinateTransform::HalfPixel,
        "half_pixel_symmetric" => CoordinateTransform::HalfPixelSymmetric,
        "pytorch_half_pixel" => CoordinateTransform::PytorchHalfPixel,
        "align_corners" => CoordinateTransform::AlignCorners,
        "asymmetric" => CoordinateTransform::Asymmetric,
        "tf_crop_and_resize" => CoordinateTransform::TfCropAndResize,
        "tf_half_pixel_for_nn" => CoordinateTransform::TfHalfPixelForNn,
        _ => return Err(node.bad_value("coordinate_transformation_mode", ct)),
    };
    let nm = node.string("nearest_mode", "round_prefer_floor")?;
    let nearest_mode = match nm.as_str() {
        "round_prefer_floor" => NearestMode::RoundPreferFloor,
        "round_prefer_ceil" => NearestMode::RoundPreferCeil,
        "floor" => NearestMode::Floor,
        "ceil" => NearestMode::Ceil,
        _ => return Err(node.bad_value("nearest_mode", nm)),
    };
    let policy = node.string("keep_aspect_ratio_policy", "stretch")?;
    let keep_aspect_ratio_policy = match policy.as_str() {
        "stretch" => AspectRatioPolicy::Stretch,
        "not_larger" => AspectRatioPolicy::NotLarger,
        "not_smaller" => AspectRatioPolicy::NotSmaller,
        _ => return Err(node.bad_value("keep_aspect_ratio_policy", policy)),
    };
    let attrs = ResizeAttrs {
        mode: mode(node)?,
        coordinate_transformation_mode,
        nearest_mode,
        cubic_coeff_a: node.float("cubic_coeff_a", -0.75)?,
        exclude_outside: node.bool("exclude_outside", false)?,
        extrapolation_value: node.float("extrapolation_value", 0.0)?,
        antialias: node.bool("antialias", false)?,
        axes: node.ints("axes")?,
        keep_aspect_ratio_policy,
    };
    e.pass(Op::Resize(attrs));
    Ok(())
}

fn upsample(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let attrs = legacy_attrs(node)?;
    let x = e.input(0);
    let scales = if node.opset >= 9 {
        e.input(1)
    } else if node.opset >= 7 {
        let s = node
            .floats("scales")?
            .ok_or_else(|| node.attr_error("scales", "is required"))?;
        let t =
            Tensor::from_f32(vec![s.len()], s).map_err(|err| node.attr_error("scales", err.0))?;
        Some(e.constant(t))
    } else {
        // Upsample-1 scales the last two axes of an NCHW tensor.
        let h = node
            .float_opt("height_scale")?
            .ok_or_else(|| node.attr_error("height_scale", "is required"))?;
        let w = node
            .float_opt("width_scale")?
            .ok_or_else(|| node.attr_error("width_scale", "is required"))?;
        let t = Tensor::from_f32(vec![4], vec![1.0, 1.0, h, w])
            .map_err(|err| node.attr_error("height_scale", err.0))?;
        Some(e.constant(t))
    };
    e.finish(Op::Resize(attrs), vec![x, None, scales, None]);
    Ok(())
}
