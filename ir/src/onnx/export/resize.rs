//! ONNX export of Resize (the opset 13+ form, with `roi`, `scales` and `sizes` inputs; models
//! from Upsample and Resize-10 were imported into this form).

use super::cx::{Cx, Lowered, Spec};
use crate::error::Error;
use crate::op::{AspectRatioPolicy, CoordinateTransform, NearestMode, ResizeAttrs, ResizeMode};

pub(super) fn resize(cx: &Cx, a: &ResizeAttrs) -> Result<Lowered, Error> {
    let (transform, nearest) = modern_transform(cx, a)?;
    let mode = match a.mode {
        ResizeMode::Nearest => "nearest",
        ResizeMode::Linear => "linear",
        ResizeMode::Cubic => "cubic",
    };
    let ct = match transform {
        CoordinateTransform::HalfPixel => "half_pixel",
        CoordinateTransform::HalfPixelSymmetric => "half_pixel_symmetric",
        CoordinateTransform::PytorchHalfPixel => "pytorch_half_pixel",
        CoordinateTransform::AlignCorners => "align_corners",
        CoordinateTransform::Asymmetric => "asymmetric",
        CoordinateTransform::TfCropAndResize => "tf_crop_and_resize",
        CoordinateTransform::TfHalfPixelForNn => {
            return Err(cx.error("coordinate_transformation_mode tf_half_pixel_for_nn"));
        }
    };
    let nm = match nearest {
        NearestMode::RoundPreferFloor => "round_prefer_floor",
        NearestMode::RoundPreferCeil => "round_prefer_ceil",
        NearestMode::Floor => "floor",
        NearestMode::Ceil => "ceil",
    };
    let policy = match a.keep_aspect_ratio_policy {
        AspectRatioPolicy::Stretch => "stretch",
        AspectRatioPolicy::NotLarger => "not_larger",
        AspectRatioPolicy::NotSmaller => "not_smaller",
    };
    let mut s = Spec::new("Resize")
        .string_or("mode", mode, "nearest")
        .string_or("coordinate_transformation_mode", ct, "half_pixel")
        .float_or("cubic_coeff_a", a.cubic_coeff_a, -0.75)
        .flag("exclude_outside", a.exclude_outside, false)
        .float_or("extrapolation_value", a.extrapolation_value, 0.0)
        .flag("antialias", a.antialias, false)
        .string_or("keep_aspect_ratio_policy", policy, "stretch");
    if a.mode == ResizeMode::Nearest {
        s = s.string_or("nearest_mode", nm, "round_prefer_floor");
    }
    if let Some(axes) = &a.axes {
        s = s.ints("axes", axes);
    }
    Ok(Lowered::Node(s))
}

/// The coordinate transform and nearest mode to write. `tf_half_pixel_for_nn` (opsets 11-12
/// only) samples at `c = (y + 0.5) / scale`, which is `half_pixel`'s coordinate plus 0.5: its
/// `floor(c)` is `half_pixel` with `round_prefer_ceil`, its `round_prefer_floor(c)` is
/// `half_pixel` with `ceil`; the other two roundings have no equivalent.
fn modern_transform(cx: &Cx, a: &ResizeAttrs) -> Result<(CoordinateTransform, NearestMode), Error> {
    if a.coordinate_transformation_mode != CoordinateTransform::TfHalfPixelForNn {
        return Ok((a.coordinate_transformation_mode, a.nearest_mode));
    }
    let nearest = match (a.mode, a.nearest_mode) {
        (ResizeMode::Nearest, NearestMode::Floor) => NearestMode::RoundPreferCeil,
        (ResizeMode::Nearest, NearestMode::RoundPreferFloor) => NearestMode::Ceil,
        (ResizeMode::Nearest, NearestMode::Ceil | NearestMode::RoundPreferCeil)
        | (ResizeMode::Linear | ResizeMode::Cubic, _) => {
            return Err(cx.error(
                "coordinate_transformation_mode tf_half_pixel_for_nn exists only in opsets 11-12 \
                 and has no equivalent here (only nearest mode with floor or round_prefer_floor \
                 rounding has one)",
            ));
        }
    };
    Ok((CoordinateTransform::HalfPixel, nearest))
}
