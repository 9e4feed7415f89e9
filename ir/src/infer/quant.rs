//! Shape and dtype rules for quantization: QuantizeLinear, DequantizeLinear,
//! DynamicQuantizeLinear. Outputs keep `x`'s shape; scale and zero-point shapes are checked
//! against `x` where their dims are known.

use super::{Known, opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::quant::quantized_dtype;
use crate::op::QuantAttrs;
use crate::op_err;
use crate::shape::{Dim, TensorType, display_shape, normalize_axis};

/// Checks a scale or zero point of shape `p` against `x` of shape `x` for per-tensor, per-axis
/// or blocked quantization; unknown dims pass.
fn check_param(
    x: Option<&[Dim]>,
    p: Option<&[Dim]>,
    a: &QuantAttrs,
    name: &str,
) -> Result<(), OpError> {
    let (Some(x), Some(p)) = (x, p) else {
        return Ok(());
    };
    if p.iter().all(|d| *d == Dim::Static(1)) {
        return Ok(());
    }
    let ax = normalize_axis(a.axis, x.len())?;
    let mismatch = || {
        op_err!(
            "{name} of shape {} does not fit x of shape {} on axis {ax} (block_size {})",
            display_shape(p),
            display_shape(x),
            a.block_size
        )
    };
    if a.block_size == 0 {
        if p.len() != 1 {
            return Err(mismatch());
        }
        if let (Dim::Static(pd), Dim::Static(xd)) = (&p[0], &x[ax])
            && pd != xd
        {
            return Err(mismatch());
        }
        return Ok(());
    }
    if p.len() != x.len() {
        return Err(mismatch());
    }
    for (i, (pd, xd)) in p.iter().zip(x).enumerate() {
        if let (Dim::Static(pd), Dim::Static(xd)) = (pd, xd) {
            let fits = if i == ax {
                pd.saturating_mul(a.block_size) >= *xd
            } else {
                pd == xd
            };
            if !fits {
                return Err(mismatch());
            }
        }
    }
    Ok(())
}

/// inputs: x, y_scale, y_zero_point?.
pub fn quantize_linear(
    a: &QuantAttrs,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let scale = req(inputs, 1)?;
    let zero_point = opt(inputs, 2);
    let out = quantized_dtype(a, zero_point.map(|z| z.ty.dtype))?;
    if !scale.ty.dtype.is_float() {
        return Err(op_err!(
            "y_scale must be a float tensor, got {}",
            scale.ty.dtype
        ));
    }
    let x_shape = x.ty.shape.as_deref();
    check_param(x_shape, scale.ty.shape.as_deref(), a, "y_scale")?;
    if let Some(z) = zero_point {
        check_param(x_shape, z.ty.shape.as_deref(), a, "y_zero_point")?;
    }
    Ok(vec![TensorType {
        dtype: out,
        shape: x.ty.shape.clone(),
    }])
}

/// inputs: x, x_scale, x_zero_point?.
pub fn dequantize_linear(
    a: &QuantAttrs,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let scale = req(inputs, 1)?;
    if !scale.ty.dtype.is_float() {
        return Err(op_err!(
            "x_scale must be a float tensor, got {}",
            scale.ty.dtype
        ));
    }
    let x_shape = x.ty.shape.as_deref();
    check_param(x_shape, scale.ty.shape.as_deref(), a, "x_scale")?;
    if let Some(z) = opt(inputs, 2) {
        if !x.ty.dtype.is_float() && z.ty.dtype != x.ty.dtype {
            return Err(op_err!(
                "x_zero_point is {} but x is {}; they must match",
                z.ty.dtype,
                x.ty.dtype
            ));
        }
        check_param(x_shape, z.ty.shape.as_deref(), a, "x_zero_point")?;
    }
    Ok(vec![TensorType {
        dtype: a.output_dtype.unwrap_or(scale.ty.dtype),
        shape: x.ty.shape.clone(),
    }])
}

/// inputs: x; outputs: y (u8, x's shape), y_scale (x's dtype, scalar), y_zero_point (u8, scalar).
pub fn dynamic_quantize_linear(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    if !x.ty.dtype.is_float() {
        return Err(op_err!("x must be a float tensor, got {}", x.ty.dtype));
    }
    Ok(vec![
        TensorType {
            dtype: DType::U8,
            shape: x.ty.shape.clone(),
        },
        TensorType::new(x.ty.dtype, vec![]),
        TensorType::new(DType::U8, vec![]),
    ])
}
