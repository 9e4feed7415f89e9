//! One axis of a resize: where each output position samples the input (the coordinate
//! transform) and with which weights (nearest, linear, cubic, and antialiased filters).

use super::AxisPlan;
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::outer_axis_inner;
use crate::op::{CoordinateTransform, NearestMode, ResizeAttrs, ResizeMode};
use crate::op_err;
use crate::tensor::Tensor;

/// The `roi` input of `tf_crop_and_resize`: starts then ends, one pair per resized axis.
pub(super) struct Roi {
    values: Vec<f64>,
    dtype: DType,
    n_axes: usize,
}

/// The crop window of one axis, as fractions of the input extent.
#[derive(Clone, Copy, Debug)]
pub(super) struct AxisRoi {
    pub start: f64,
    pub end: f64,
    /// The roi's dtype: the reference does the roi's own arithmetic in it.
    dtype: DType,
}

impl Roi {
    /// The roi, if given and non-empty. Only `tf_crop_and_resize` reads it; other modes get
    /// `None` so that a placeholder roi of any length is harmless.
    pub fn from_input(
        t: Option<&Tensor>,
        mode: CoordinateTransform,
        n_axes: usize,
    ) -> Result<Option<Roi>, OpError> {
        if mode != CoordinateTransform::TfCropAndResize {
            return Ok(None);
        }
        let Some(t) = t.filter(|t| !t.is_empty()) else {
            return Err(op_err!("tf_crop_and_resize needs a non-empty roi input"));
        };
        if !t.dtype().is_float() {
            return Err(op_err!("roi must be a float tensor, got {}", t.dtype()));
        }
        if t.len() != 2 * n_axes {
            return Err(op_err!(
                "roi has {} values, expected {} (a start and an end for each of {n_axes} axes)",
                t.len(),
                2 * n_axes
            ));
        }
        Ok(Some(Roi {
            values: t.to_f64_vec(),
            dtype: t.dtype(),
            n_axes,
        }))
    }

    /// The window of the `k`-th resized axis.
    pub fn bounds(&self, k: usize) -> AxisRoi {
        AxisRoi {
            start: self.values[k],
            end: self.values[k + self.n_axes],
            dtype: self.dtype,
        }
    }
}

impl AxisRoi {
    /// Rounds an intermediate of roi arithmetic to the roi's dtype.
    fn round(&self, v: f64) -> f64 {
        match self.dtype {
            DType::F32 => v as f32 as f64,
            DType::F16 => half::f16::from_f64(v).to_f64(),
            DType::BF16 => half::bf16::from_f64(v).to_f64(),
            _ => v,
        }
    }
}

/// The weights of one output position, as a function of the fractional part of its source
/// coordinate (`ratio`, in `(0, 1]`: an exact integer coordinate has ratio 1).
#[derive(Clone, Copy, Debug)]
enum Filter {
    Nearest(NearestMode),
    Linear,
    Cubic {
        a: f64,
    },
    /// Triangle filter widened by `1 / scale` when downsampling.
    LinearAntialias {
        scale: f64,
    },
    /// Cubic filter widened by `1 / scale` when downsampling.
    CubicAntialias {
        a: f64,
        scale: f64,
    },
}

impl Filter {
    fn new(attrs: &ResizeAttrs, scale: f64) -> Filter {
        let a = attrs.cubic_coeff_a as f64;
        // Antialiasing only widens the filter when downsampling; nearest ignores it.
        let aa_scale = scale.min(1.0);
        match (attrs.mode, attrs.antialias) {
            (ResizeMode::Nearest, _) => Filter::Nearest(attrs.nearest_mode),
            (ResizeMode::Linear, false) => Filter::Linear,
            (ResizeMode::Linear, true) => Filter::LinearAntialias { scale: aa_scale },
            (ResizeMode::Cubic, false) => Filter::Cubic { a },
            (ResizeMode::Cubic, true) => Filter::CubicAntialias { a, scale: aa_scale },
        }
    }

    fn coeffs(self, ratio: f64) -> Vec<f64> {
        match self {
            Filter::Nearest(mode) => {
                let take_right = if ratio == 1.0 {
                    true
                } else {
                    match mode {
                        NearestMode::RoundPreferFloor => ratio > 0.5,
                        NearestMode::RoundPreferCeil => ratio >= 0.5,
                        NearestMode::Floor => false,
                        NearestMode::Ceil => true,
                    }
                };
                if take_right {
                    vec![0.0, 1.0]
                } else {
                    vec![1.0, 0.0]
                }
            }
            Filter::Linear => vec![1.0 - ratio, ratio],
            Filter::Cubic { a } => {
                let r1 = ratio + 1.0;
                let q = 1.0 - ratio;
                let q1 = q + 1.0;
                vec![
                    ((a * r1 - 5.0 * a) * r1 + 8.0 * a) * r1 - 4.0 * a,
                    ((a + 2.0) * ratio - (a + 3.0)) * ratio * ratio + 1.0,
                    ((a + 2.0) * q - (a + 3.0)) * q * q + 1.0,
                    ((a * q1 - 5.0 * a) * q1 + 8.0 * a) * q1 - 4.0 * a,
                ]
            }
            Filter::LinearAntialias { scale } => {
                let start = (-1.0 / scale).floor() as i64 + 1;
                let footprint = 2 - 2 * start;
                let c: Vec<f64> = (start..start + footprint)
                    .map(|i| (1.0 - ((i as f64 - ratio) * scale).abs()).clamp(0.0, 1.0))
                    .collect();
                normalized(c)
            }
            Filter::CubicAntialias { a, scale } => {
                let i_start = (-2.0 / scale).floor() as i64 + 1;
                let i_end = 2 - i_start;
                let c: Vec<f64> = (i_start..i_end)
                    .map(|i| cubic_kernel(scale * (i as f64 - ratio), a))
                    .collect();
                normalized(c)
            }
        }
    }
}

/// The Keys cubic convolution kernel with parameter `a`.
fn cubic_kernel(x: f64, a: f64) -> f64 {
    let x = x.abs();
    let x2 = x * x;
    let x3 = x * x2;
    if x <= 1.0 {
        (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
    } else if x < 2.0 {
        a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
    } else {
        0.0
    }
}

fn normalized(c: Vec<f64>) -> Vec<f64> {
    let sum: f64 = c.iter().sum();
    c.into_iter().map(|v| v / sum).collect()
}

/// Maps output position `y` of an axis to its source coordinate, and says whether it falls
/// outside the input (only `tf_crop_and_resize` extrapolates).
fn source_coord(
    mode: CoordinateTransform,
    y: f64,
    scale: f64,
    in_size: usize,
    out_size: usize,
    roi: Option<&AxisRoi>,
) -> Result<(f64, bool), OpError> {
    let in_w = in_size as f64;
    // The reference tests the unrounded output width `scale * in` against 1, not the size.
    let out_w = scale * in_w;
    let x = match mode {
        CoordinateTransform::AlignCorners => {
            if out_w == 1.0 {
                0.0
            } else {
                y * (in_w - 1.0) / (out_w - 1.0)
            }
        }
        CoordinateTransform::Asymmetric => y / scale,
        CoordinateTransform::TfCropAndResize => {
            let roi = roi.ok_or_else(|| op_err!("tf_crop_and_resize needs a roi"))?;
            let extent = roi.round(roi.end - roi.start);
            let x = if out_w == 1.0 {
                roi.round(roi.round(extent * (in_w - 1.0)) / 2.0)
            } else {
                y * extent * (in_w - 1.0) / (out_w - 1.0)
            };
            let x = x + roi.round(roi.start * (in_w - 1.0));
            return Ok((x, x < 0.0 || x > in_w - 1.0));
        }
        CoordinateTransform::PytorchHalfPixel => {
            if out_w == 1.0 {
                -0.5
            } else {
                (y + 0.5) / scale - 0.5
            }
        }
        CoordinateTransform::HalfPixel => (y + 0.5) / scale - 0.5,
        CoordinateTransform::HalfPixelSymmetric => {
            let adjustment = out_size as f64 / out_w;
            let center = in_w / 2.0;
            let offset = center * (1.0 - adjustment);
            offset + (y + 0.5) / scale - 0.5
        }
        CoordinateTransform::TfHalfPixelForNn => (y + 0.5) / scale,
    };
    Ok((x, false))
}

/// For each output position of one axis: the `n` input indices it reads (edge-clamped) and
/// their weights, or the extrapolation value.
pub(super) struct AxisTaps {
    n: usize,
    out_size: usize,
    index: Vec<usize>,
    weight: Vec<f64>,
    extrapolated: Vec<bool>,
    extrapolation_value: f64,
}

impl AxisTaps {
    /// Taps of an axis of `in_size > 0` elements resized as `plan` says.
    pub fn new(
        attrs: &ResizeAttrs,
        plan: &AxisPlan,
        in_size: usize,
        roi: Option<&AxisRoi>,
    ) -> Result<AxisTaps, OpError> {
        let filter = Filter::new(attrs, plan.scale);
        let mut taps = AxisTaps {
            n: 0,
            out_size: plan.size,
            index: Vec::new(),
            weight: Vec::new(),
            extrapolated: Vec::with_capacity(plan.size),
            extrapolation_value: attrs.extrapolation_value as f64,
        };
        let last = in_size as i64 - 1;
        for j in 0..plan.size {
            let (x, outside) = source_coord(
                attrs.coordinate_transformation_mode,
                j as f64,
                plan.scale,
                in_size,
                plan.size,
                roi,
            )?;
            let floor = x.floor();
            // Prefer the pixel left of an exact integer coordinate: its ratio is 1, not 0.
            let ratio = if x == floor { 1.0 } else { x - floor };
            let mut coeffs = filter.coeffs(ratio);
            let n = coeffs.len();
            taps.n = n;
            // The n input positions nearest `x`, ties to the smaller, as the reference picks
            // them in an edge-padded copy of the axis.
            let pad = n.div_ceil(2) as f64;
            let padded = x + pad;
            let p = padded.floor();
            let frac = padded - p;
            let half = (n / 2) as i64;
            let offset = if n.is_multiple_of(2) {
                if frac == 0.0 { -half } else { -half + 1 }
            } else {
                let base = -(((n - 1) / 2) as i64);
                if frac <= 0.5 { base } else { base + 1 }
            };
            let start = p as i64 + offset - pad as i64;
            if attrs.exclude_outside {
                for (k, c) in coeffs.iter_mut().enumerate() {
                    let idx = start + k as i64;
                    if idx < 0 || idx > last {
                        *c = 0.0;
                    }
                }
                let sum: f64 = coeffs.iter().sum();
                let sum = if sum == 0.0 { 1.0 } else { sum };
                for c in &mut coeffs {
                    *c /= sum;
                }
            }
            for (k, c) in coeffs.into_iter().enumerate() {
                taps.index.push((start + k as i64).clamp(0, last) as usize);
                taps.weight.push(c);
            }
            taps.extrapolated.push(outside);
        }
        Ok(taps)
    }

    /// Resizes `axis` of `data` (row-major, of `shape`) with these taps.
    pub fn apply(&self, data: &[f64], shape: &[usize], axis: usize) -> Vec<f64> {
        let (outer, in_size, inner) = outer_axis_inner(shape, axis);
        let mut out = vec![0.0; outer * self.out_size * inner];
        for o in 0..outer {
            let src = &data[o * in_size * inner..(o + 1) * in_size * inner];
            for j in 0..self.out_size {
                let dst = &mut out[(o * self.out_size + j) * inner..][..inner];
                if self.extrapolated[j] {
                    dst.fill(self.extrapolation_value);
                    continue;
                }
                for k in 0..self.n {
                    let w = self.weight[j * self.n + k];
                    let row = &src[self.index[j * self.n + k] * inner..][..inner];
                    for (d, s) in dst.iter_mut().zip(row) {
                        *d += s * w;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_coefficients_sum_to_one() {
        for ratio in [0.1, 0.5, 0.9, 1.0] {
            let c = Filter::Cubic { a: -0.75 }.coeffs(ratio);
            assert!((c.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn antialias_widens_the_filter_when_downsampling() {
        assert_eq!(Filter::LinearAntialias { scale: 1.0 }.coeffs(0.5).len(), 2);
        assert_eq!(Filter::LinearAntialias { scale: 0.5 }.coeffs(0.5).len(), 4);
        assert_eq!(
            Filter::CubicAntialias {
                a: -0.5,
                scale: 0.5
            }
            .coeffs(0.5)
            .len(),
            8
        );
    }

    #[test]
    fn half_pixel_maps_pixel_centres() {
        let (x, out) = source_coord(CoordinateTransform::HalfPixel, 0.0, 2.0, 4, 8, None).unwrap();
        assert_eq!((x, out), (-0.25, false));
    }
}
