//! The `Resize` kernel (also `Upsample`), following the ONNX reference: output sizes from
//! `scales` or `sizes`, then separable interpolation one axis at a time in f64, then a
//! saturating cast back to the input's dtype.

mod filter;

use super::{opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::{AspectRatioPolicy, ResizeAttrs};
use crate::op_err;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;
use filter::{AxisTaps, Roi};
use half::{bf16, f16};

/// What the caller asked the output to be, for the resized axes (in `axes` order).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Request {
    /// Scale factors, as f32 values widened to f64.
    Scales(Vec<f64>),
    Sizes(Vec<i64>),
}

/// The output size and the coordinate scale of one resized axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AxisPlan {
    pub size: usize,
    pub scale: f64,
}

/// The axes `scales`, `sizes` and `roi` refer to, in their order: the `axes` attribute resolved
/// against `rank`, or every axis.
pub(crate) fn resize_axes(a: &ResizeAttrs, rank: usize) -> Result<Vec<usize>, OpError> {
    let Some(axes) = &a.axes else {
        return Ok((0..rank).collect());
    };
    let mut out = Vec::with_capacity(axes.len());
    for &ax in axes {
        let n = normalize_axis(ax, rank)?;
        if out.contains(&n) {
            return Err(op_err!("axis {ax} is repeated in axes {axes:?}"));
        }
        out.push(n);
    }
    Ok(out)
}

/// Reads `scales` (input 2) and `sizes` (input 3), of which exactly one must be given and
/// non-empty, and checks its length against the number of resized axes.
pub(crate) fn request(
    scales: Option<&Tensor>,
    sizes: Option<&Tensor>,
    n_axes: usize,
) -> Result<Request, OpError> {
    let scales = scales.filter(|t| !t.is_empty());
    let sizes = sizes.filter(|t| !t.is_empty());
    let req = match (scales, sizes) {
        (Some(_), Some(_)) => {
            return Err(op_err!(
                "scales and sizes are both given; exactly one may be"
            ));
        }
        (None, None) => return Err(op_err!("one of scales or sizes must be given")),
        (Some(s), None) => {
            if !s.dtype().is_float() {
                return Err(op_err!("scales must be a float tensor, got {}", s.dtype()));
            }
            Request::Scales(s.to_f64_vec())
        }
        (None, Some(s)) => Request::Sizes(s.to_i64_vec().map_err(|e| op_err!("sizes: {e}"))?),
    };
    let (name, len) = match &req {
        Request::Scales(v) => ("scales", v.len()),
        Request::Sizes(v) => ("sizes", v.len()),
    };
    if len != n_axes {
        return Err(op_err!(
            "{name} has {len} values, but {n_axes} axes are resized"
        ));
    }
    Ok(req)
}

/// The output size of an axis of size `dim` scaled by `scale`: `floor(scale * dim)`.
pub(crate) fn scaled_size(scale: f64, dim: usize) -> Result<usize, OpError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(op_err!("scale {scale} must be positive and finite"));
    }
    let size = (scale * dim as f64).floor();
    if size >= (1u64 << 53) as f64 {
        return Err(op_err!("scale {scale} makes axis of size {dim} too large"));
    }
    Ok(size as usize)
}

/// Output sizes and coordinate scales of the resized axes, whose input sizes are `dims`, as the
/// reference computes them: from scales, `floor(scale * dim)`; from sizes, `size / dim` as the
/// scale, or with a `keep_aspect_ratio_policy` one common scale and `round(scale * dim)` sizes.
pub(crate) fn plan(
    policy: AspectRatioPolicy,
    dims: &[usize],
    request: &Request,
) -> Result<Vec<AxisPlan>, OpError> {
    match request {
        Request::Scales(scales) => dims
            .iter()
            .zip(scales)
            .map(|(&dim, &scale)| {
                Ok(AxisPlan {
                    size: scaled_size(scale, dim)?,
                    scale,
                })
            })
            .collect(),
        Request::Sizes(sizes) => {
            let mut ratios = Vec::with_capacity(dims.len());
            for (&dim, &size) in dims.iter().zip(sizes) {
                if size < 0 {
                    return Err(op_err!("sizes value {size} is negative"));
                }
                if dim == 0 {
                    return Err(op_err!(
                        "cannot derive a scale from sizes for an axis of size 0"
                    ));
                }
                ratios.push((size as usize, size as f64 / dim as f64));
            }
            let common = match policy {
                AspectRatioPolicy::Stretch => {
                    return Ok(ratios
                        .into_iter()
                        .map(|(size, scale)| AxisPlan { size, scale })
                        .collect());
                }
                AspectRatioPolicy::NotLarger => {
                    ratios.iter().map(|r| r.1).fold(f64::INFINITY, f64::min)
                }
                AspectRatioPolicy::NotSmaller => ratios.iter().map(|r| r.1).fold(0.0, f64::max),
            };
            dims.iter()
                .map(|&dim| {
                    // The reference rounds half up: int(x + 0.5).
                    let size = (common * dim as f64 + 0.5).floor();
                    if !size.is_finite() || size >= (1u64 << 53) as f64 {
                        return Err(op_err!("sizes {sizes:?} give an output too large"));
                    }
                    Ok(AxisPlan {
                        size: size as usize,
                        scale: common,
                    })
                })
                .collect()
        }
    }
}

/// inputs: x, roi?, scales?, sizes?.
pub fn resize(a: &ResizeAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let axes = resize_axes(a, x.rank())?;
    let request = request(opt(inputs, 2), opt(inputs, 3), axes.len())?;
    let dims: Vec<usize> = axes.iter().map(|&ax| x.shape()[ax]).collect();
    let plans = plan(a.keep_aspect_ratio_policy, &dims, &request)?;
    let roi = Roi::from_input(opt(inputs, 1), a.coordinate_transformation_mode, axes.len())?;

    let mut shape = x.shape().to_vec();
    let mut data = x.to_f64_vec();
    for (k, (&axis, p)) in axes.iter().zip(&plans).enumerate() {
        let bounds = roi.as_ref().map(|r| r.bounds(k));
        let in_size = shape[axis];
        let trivial_roi = bounds.is_none_or(|r| is_close(r.start, 0.0) && is_close(r.end, 1.0));
        if is_close(p.scale, 1.0) && p.size == in_size && trivial_roi {
            continue;
        }
        if p.size == 0 {
            shape[axis] = 0;
            data.clear();
            continue;
        }
        if in_size == 0 {
            return Err(op_err!(
                "cannot resize axis {axis} of size 0 to size {}",
                p.size
            ));
        }
        let taps = AxisTaps::new(a, p, in_size, bounds.as_ref())?;
        data = taps.apply(&data, &shape, axis);
        shape[axis] = p.size;
    }
    saturate_to(x.dtype(), &mut data);
    Ok(vec![Tensor::from_f64(x.dtype(), shape, &data)?])
}

/// Python's `math.isclose` with its default relative tolerance.
fn is_close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Clamps interpolated values into the range of `dtype` as the reference's `saturate_cast`
/// does: integers round half to even and clip; floats clip to the largest finite magnitude.
fn saturate_to(dtype: DType, values: &mut [f64]) {
    let (lo, hi) = match dtype {
        DType::F32 => (f32::MIN as f64, f32::MAX as f64),
        DType::F16 => (f16::MIN.to_f64(), f16::MAX.to_f64()),
        DType::BF16 => (bf16::MIN.to_f64(), bf16::MAX.to_f64()),
        _ => match dtype.int_range() {
            Some((lo, hi)) => {
                for v in values.iter_mut() {
                    *v = v.round_ties_even().clamp(lo as f64, hi as f64);
                }
                return;
            }
            // f64 needs no clipping; narrow floats saturate when encoded.
            None => return,
        },
    };
    for v in values.iter_mut() {
        *v = v.clamp(lo, hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{CoordinateTransform, NearestMode, ResizeMode};

    fn attrs(mode: ResizeMode, ct: CoordinateTransform) -> ResizeAttrs {
        ResizeAttrs {
            mode,
            coordinate_transformation_mode: ct,
            nearest_mode: NearestMode::RoundPreferFloor,
            cubic_coeff_a: -0.75,
            exclude_outside: false,
            extrapolation_value: 0.0,
            antialias: false,
            axes: None,
            keep_aspect_ratio_policy: AspectRatioPolicy::Stretch,
        }
    }

    fn run(a: &ResizeAttrs, x: &Tensor, scales: &[f32]) -> Tensor {
        let s = Tensor::from_f32(vec![scales.len()], scales.to_vec()).unwrap();
        resize(a, &[Some(x), None, Some(&s), None])
            .unwrap()
            .remove(0)
    }

    #[test]
    fn nearest_floor_asymmetric_upsampling_repeats_elements() {
        let x = Tensor::from_f32(vec![1, 2], vec![1.0, 2.0]).unwrap();
        let mut a = attrs(ResizeMode::Nearest, CoordinateTransform::Asymmetric);
        a.nearest_mode = NearestMode::Floor;
        let y = run(&a, &x, &[1.0, 3.0]);
        assert_eq!(y.shape(), &[1, 6]);
        assert_eq!(y.as_f32().unwrap(), &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn linear_align_corners_interpolates_between_ends() {
        let x = Tensor::from_f32(vec![3], vec![0.0, 2.0, 4.0]).unwrap();
        let a = attrs(ResizeMode::Linear, CoordinateTransform::AlignCorners);
        let s = Tensor::from_i64(vec![1], vec![5]).unwrap();
        let y = resize(&a, &[Some(&x), None, None, Some(&s)])
            .unwrap()
            .remove(0);
        assert_eq!(y.as_f32().unwrap(), &[0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn integer_outputs_round_and_saturate() {
        let x = Tensor::from_i128(DType::U8, vec![2], &[0, 255]).unwrap();
        let a = attrs(ResizeMode::Cubic, CoordinateTransform::HalfPixel);
        let y = run(&a, &x, &[4.0]);
        let v = y.to_i128_vec();
        assert_eq!(v.len(), 8);
        assert!(v.iter().all(|&e| (0..=255).contains(&e)));
        assert_eq!(v[0], 0);
        assert_eq!(v[7], 255);
    }

    #[test]
    fn sizes_with_not_larger_policy_keep_the_aspect_ratio() {
        let p = plan(
            AspectRatioPolicy::NotLarger,
            &[4, 4],
            &Request::Sizes(vec![7, 8]),
        )
        .unwrap();
        assert_eq!(p.iter().map(|a| a.size).collect::<Vec<_>>(), vec![7, 7]);
        assert_eq!(p[1].scale, 7.0 / 4.0);
    }

    #[test]
    fn both_or_neither_request_is_an_error() {
        let s = Tensor::from_f32(vec![1], vec![2.0]).unwrap();
        let z = Tensor::from_i64(vec![1], vec![2]).unwrap();
        assert!(request(Some(&s), Some(&z), 1).is_err());
        assert!(request(None, None, 1).is_err());
        let empty = Tensor::from_f32(vec![0], vec![]).unwrap();
        assert_eq!(
            request(Some(&empty), Some(&z), 1).unwrap(),
            Request::Sizes(vec![2])
        );
        assert!(request(Some(&s), None, 2).is_err());
    }
}
