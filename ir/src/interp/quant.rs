//! Quantization kernels: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
//!
//! Arithmetic follows the ONNX reference's numpy types: the quotient `x / scale` is rounded to
//! the promoted float type of `x` and `scale`, and dequantization works in f32 (f64 when an
//! i32 zero point promotes it), so results match bit for bit.

use super::util::outer_axis_inner;
use super::{opt, req};
use crate::convert::encode_f64;
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::QuantAttrs;
use crate::op_err;
use crate::shape::normalize_axis;
use crate::tensor::{Tensor, checked_numel};
use half::{bf16, f16};

/// For each element of `x` (of `x_shape`), the flat index of its scale or zero point in
/// `param` (of `param_shape`): per tensor (a scalar or one element), per axis (1-D, one per
/// index of `axis`), or blocked (`x`'s rank, `block_size` consecutive indices of `axis` share
/// one entry).
pub(crate) fn param_indices(
    x_shape: &[usize],
    param_shape: &[usize],
    axis: i64,
    block_size: usize,
    name: &str,
) -> Result<Vec<usize>, OpError> {
    let n = checked_numel(x_shape)?;
    if param_shape.iter().product::<usize>() == 1 {
        return Ok(vec![0; n]);
    }
    let ax = normalize_axis(axis, x_shape.len())?;
    let (_, dim, inner) = outer_axis_inner(x_shape, ax);
    if block_size == 0 {
        if param_shape != [dim] {
            return Err(op_err!(
                "{name} of shape {param_shape:?} does not match axis {ax} (size {dim}) of x {x_shape:?}: per-axis parameters are 1-D with one value per index"
            ));
        }
        return Ok((0..n).map(|f| (f / inner) % dim).collect());
    }
    let blocks = param_shape.get(ax).copied().unwrap_or(0);
    let same_other_dims = param_shape.len() == x_shape.len()
        && param_shape
            .iter()
            .zip(x_shape)
            .enumerate()
            .all(|(i, (p, d))| i == ax || p == d);
    if !same_other_dims || blocks.saturating_mul(block_size) < dim {
        return Err(op_err!(
            "{name} of shape {param_shape:?} does not block x {x_shape:?} on axis {ax} with block_size {block_size}: it must match x except on axis {ax}, where it needs ceil({dim} / {block_size}) entries"
        ));
    }
    Ok((0..n)
        .map(|f| {
            let outer = f / (dim * inner);
            let a = (f / inner) % dim;
            let i = f % inner;
            (outer * blocks + a / block_size) * inner + i
        })
        .collect())
}

/// Rounds `v` to `dtype` and back, as numpy's arithmetic in that type would leave it
/// (16-bit floats compute in f32 first).
fn round_to(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F32 => v as f32 as f64,
        DType::F16 => f16::from_f32(v as f32).to_f64(),
        DType::BF16 => bf16::from_f32(v as f32).to_f64(),
        _ => v,
    }
}

/// The float type numpy divides `x` by `scale` in.
fn quotient_dtype(x: DType, scale: DType) -> DType {
    if x == scale && matches!(x, DType::F16 | DType::BF16 | DType::F32 | DType::F64) {
        x
    } else if x == DType::F64 || scale == DType::F64 || !x.is_float() {
        // numpy promotes integers divided by any float to f64.
        DType::F64
    } else {
        DType::F32
    }
}

/// Whether `dtype` is one QuantizeLinear may produce.
fn is_quantized_type(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::I2
            | DType::U2
            | DType::I4
            | DType::U4
            | DType::I8
            | DType::U8
            | DType::I16
            | DType::U16
            | DType::F8E4M3FN
            | DType::F8E4M3FNUZ
            | DType::F8E5M2
            | DType::F8E5M2FNUZ
            | DType::F4E2M1
    )
}

/// The dtype QuantizeLinear produces: the zero point's, else `output_dtype`, else u8.
pub(crate) fn quantized_dtype(a: &QuantAttrs, zero_point: Option<DType>) -> Result<DType, OpError> {
    let out = match (zero_point, a.output_dtype) {
        (Some(z), Some(o)) if z != o => {
            return Err(op_err!(
                "output_dtype {o} differs from the zero point's dtype {z}"
            ));
        }
        (Some(z), _) => z,
        (None, Some(o)) => o,
        (None, None) => DType::U8,
    };
    if !is_quantized_type(out) {
        return Err(op_err!(
            "{out} is not a quantized type QuantizeLinear can produce"
        ));
    }
    Ok(out)
}

/// inputs: x, y_scale, y_zero_point?.
pub fn quantize_linear(a: &QuantAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let scale = req(inputs, 1)?;
    let zero_point = opt(inputs, 2);
    let out = quantized_dtype(a, zero_point.map(Tensor::dtype))?;
    if !scale.dtype().is_float() {
        return Err(op_err!(
            "y_scale must be a float tensor, got {}",
            scale.dtype()
        ));
    }
    let s_idx = param_indices(x.shape(), scale.shape(), a.axis, a.block_size, "y_scale")?;
    let scales = scale.to_f64_vec();
    let div = quotient_dtype(x.dtype(), scale.dtype());
    let q: Vec<f64> = x
        .to_f64_vec()
        .iter()
        .zip(&s_idx)
        .map(|(&v, &i)| round_to(div, v / scales[i]))
        .collect();
    let z_idx = zero_point
        .map(|z| param_indices(x.shape(), z.shape(), a.axis, a.block_size, "y_zero_point"))
        .transpose()?;
    let shape = x.shape().to_vec();

    if let Some((lo, hi)) = out.int_range() {
        let zeros = zero_point.map(Tensor::to_i128_vec);
        let y: Vec<i128> = q
            .iter()
            .enumerate()
            .map(|(f, &v)| {
                // `as` saturates and sends NaN to 0, so NaN quantizes to the zero point.
                let r = v.round_ties_even() as i128;
                let z = match (&zeros, &z_idx) {
                    (Some(zs), Some(idx)) => zs[idx[f]],
                    _ => 0,
                };
                (r + z).clamp(lo, hi)
            })
            .collect();
        return Ok(vec![Tensor::from_i128(out, shape, &y)?]);
    }
    if out == DType::F4E2M1 {
        // FP4 adds its (float) zero point before rounding; it always saturates.
        let q: Vec<f64> = match (zero_point, &z_idx) {
            (Some(z), Some(idx)) => {
                let zs = z.to_f64_vec();
                q.iter()
                    .zip(idx)
                    .map(|(&v, &i)| round_to(div, v + zs[i]))
                    .collect()
            }
            _ => q,
        };
        return Ok(vec![Tensor::new(out, shape, encode_f64(out, &q, true))?]);
    }
    // 8-bit floats: the zero point must be zero and is not added.
    Ok(vec![Tensor::new(
        out,
        shape,
        encode_f64(out, &q, a.saturate),
    )?])
}

/// inputs: x, x_scale, x_zero_point?.
pub fn dequantize_linear(
    a: &QuantAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let scale = req(inputs, 1)?;
    let zero_point = opt(inputs, 2);
    if !scale.dtype().is_float() {
        return Err(op_err!(
            "x_scale must be a float tensor, got {}",
            scale.dtype()
        ));
    }
    let out = a.output_dtype.unwrap_or(scale.dtype());
    let s_idx = param_indices(x.shape(), scale.shape(), a.axis, a.block_size, "x_scale")?;
    let scales = scale.to_f64_vec();
    let xs = x.to_f64_vec();

    // Float inputs carry no offset: an 8-bit float zero point must be all zeros.
    let zero_point = match zero_point {
        Some(z) if x.dtype().is_float() => {
            if z.to_f64_vec().iter().any(|&v| v != 0.0) {
                return Err(op_err!(
                    "x_zero_point must be zero for {} inputs",
                    x.dtype()
                ));
            }
            None
        }
        Some(z) if z.dtype() != x.dtype() => {
            return Err(op_err!(
                "x_zero_point is {} but x is {}; they must match",
                z.dtype(),
                x.dtype()
            ));
        }
        other => other,
    };
    // numpy: f32(x) - zero_point stays f32, except that an i32 zero point promotes to f64.
    let wide = zero_point.is_some_and(|z| z.dtype() == DType::I32);
    let work = if wide { DType::F64 } else { DType::F32 };
    let shifted: Vec<f64> = match zero_point {
        Some(z) => {
            let z_idx = param_indices(x.shape(), z.shape(), a.axis, a.block_size, "x_zero_point")?;
            let zs = z.to_f64_vec();
            xs.iter()
                .zip(&z_idx)
                .map(|(&v, &i)| round_to(work, round_to(DType::F32, v) - zs[i]))
                .collect()
        }
        None => xs.iter().map(|&v| round_to(DType::F32, v)).collect(),
    };
    let y: Vec<f64> = shifted
        .iter()
        .zip(&s_idx)
        .map(|(&v, &i)| round_to(work, v * scales[i]))
        .collect();
    Ok(vec![Tensor::from_f64(out, x.shape().to_vec(), &y)?])
}

/// inputs: x; outputs: y (u8), y_scale (x's dtype), y_zero_point (u8), per the spec formula in
/// f32.
pub fn dynamic_quantize_linear(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    if !x.dtype().is_float() {
        return Err(op_err!("x must be a float tensor, got {}", x.dtype()));
    }
    let xs = x.to_f32_vec();
    let (qmin, qmax) = (0.0f32, 255.0f32);
    // The range always includes 0, so that 0 quantizes exactly.
    let max = xs.iter().copied().fold(0.0f32, f32::max);
    let min = xs.iter().copied().fold(0.0f32, f32::min);
    let scale = (if max == min { 1.0 } else { max - min }) / (qmax - qmin);
    let initial_zero_point = qmin - min / scale;
    let zero_point = initial_zero_point.clamp(qmin, qmax).round_ties_even();
    let y: Vec<i128> = xs
        .iter()
        .map(|&v| ((v / scale).round_ties_even() + zero_point).clamp(qmin, qmax) as i128)
        .collect();
    Ok(vec![
        Tensor::from_i128(DType::U8, x.shape().to_vec(), &y)?,
        Tensor::from_f64(x.dtype(), vec![], &[scale as f64])?,
        Tensor::from_i128(DType::U8, vec![], &[zero_point as i128])?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(axis: i64, block_size: usize) -> QuantAttrs {
        QuantAttrs {
            axis,
            block_size,
            saturate: true,
            output_dtype: None,
        }
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates() {
        let x = Tensor::from_f32(vec![5], vec![0.5, 1.5, 2.5, -3.0, 1000.0]).unwrap();
        let s = Tensor::scalar_f32(1.0);
        let z = Tensor::from_i128(DType::I8, vec![], &[0]).unwrap();
        let y = quantize_linear(&attrs(1, 0), &[Some(&x), Some(&s), Some(&z)]).unwrap();
        assert_eq!(y[0].dtype(), DType::I8);
        assert_eq!(y[0].to_i128_vec(), vec![0, 2, 2, -3, 127]);
    }

    #[test]
    fn per_axis_and_blocked_parameters_index_the_right_entries() {
        assert_eq!(
            param_indices(&[2, 3], &[3], 1, 0, "s").unwrap(),
            vec![0, 1, 2, 0, 1, 2]
        );
        assert_eq!(
            param_indices(&[2, 3], &[2], 0, 0, "s").unwrap(),
            vec![0, 0, 0, 1, 1, 1]
        );
        assert_eq!(
            param_indices(&[1, 5], &[1, 3], 1, 2, "s").unwrap(),
            vec![0, 0, 1, 1, 2]
        );
        assert!(param_indices(&[1, 5], &[1, 2], 1, 2, "s").is_err());
        assert!(param_indices(&[2, 3], &[4], 1, 0, "s").is_err());
    }

    #[test]
    fn dequantize_subtracts_the_zero_point_then_scales() {
        let x = Tensor::from_i128(DType::U8, vec![3], &[0, 128, 255]).unwrap();
        let s = Tensor::scalar_f32(2.0);
        let z = Tensor::from_i128(DType::U8, vec![], &[128]).unwrap();
        let y = dequantize_linear(&attrs(1, 0), &[Some(&x), Some(&s), Some(&z)]).unwrap();
        assert_eq!(y[0].as_f32().unwrap(), &[-256.0, 0.0, 254.0]);
    }

    #[test]
    fn dynamic_quantization_covers_zero() {
        let x = Tensor::from_f32(vec![3], vec![1.0, 2.0, 2.55]).unwrap();
        let out = dynamic_quantize_linear(&[Some(&x)]).unwrap();
        assert_eq!(out[2].to_i128_vec(), vec![0]);
        assert_eq!(out[0].to_i128_vec(), vec![100, 200, 255]);
    }
}
