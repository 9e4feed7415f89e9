//! The quantized matmuls: MatMulInteger (i32 accumulation of zero-point-shifted 8-bit inputs)
//! and QLinearMatMul (the same, requantized with scales, half-to-even rounding and saturation).
//!
//! Zero points and scales are per tensor (one element), per row of `a` (1-D of length M), per
//! column of `b` (1-D of length N), or any shape that broadcasts against the operand.

use super::matmul::MatmulPlan;
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::broadcast_indices;
use crate::interp::{opt, req};
use crate::op_bail;
use crate::tensor::Tensor;
use half::{bf16, f16};

/// Which operand a zero point or scale belongs to: `a`'s 1-D form is per row, `b`'s per column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

/// The shape a zero point or scale takes for broadcasting against its operand (or the output):
/// a 1-D per-row vector of `a` becomes a column `[M, 1]`.
fn param_shape(param: &Tensor, side: Side, operand: &[usize]) -> Vec<usize> {
    let shape = param.shape();
    if param.len() == 1 {
        return vec![];
    }
    if side == Side::A
        && shape.len() == 1
        && operand.len() >= 2
        && shape[0] == operand[operand.len() - 2]
    {
        return vec![shape[0], 1];
    }
    shape.to_vec()
}

/// For each element of a tensor of shape `target`, the element of `param` that applies to it.
fn param_indices(
    param: &Tensor,
    side: Side,
    operand: &[usize],
    target: &[usize],
    name: &str,
) -> Result<Vec<usize>, OpError> {
    let shape = param_shape(param, side, operand);
    let fits = shape.len() <= target.len()
        && shape
            .iter()
            .rev()
            .zip(target.iter().rev())
            .all(|(&p, &t)| p == t || p == 1);
    if !fits {
        op_bail!(
            "{name} of shape {:?} does not fit its operand of shape {operand:?} (per tensor, per {} or broadcastable)",
            param.shape(),
            if side == Side::A { "row" } else { "column" }
        );
    }
    Ok(broadcast_indices(&shape, target))
}

fn check_8bit(name: &str, t: &Tensor) -> Result<(), OpError> {
    if !matches!(t.dtype(), DType::U8 | DType::I8) {
        op_bail!("{name} must be u8 or i8, got {}", t.dtype());
    }
    Ok(())
}

/// `x - zero_point` as i32, elementwise.
fn shifted(
    x: &Tensor,
    zero_point: Option<&Tensor>,
    side: Side,
    name: &str,
) -> Result<Vec<i32>, OpError> {
    let values: Vec<i32> = x.to_i128_vec().iter().map(|&v| v as i32).collect();
    let Some(zp) = zero_point else {
        return Ok(values);
    };
    if zp.dtype() != x.dtype() {
        op_bail!("{name} is {}, its operand is {}", zp.dtype(), x.dtype());
    }
    let zps: Vec<i32> = zp.to_i128_vec().iter().map(|&v| v as i32).collect();
    let idx = param_indices(zp, side, x.shape(), x.shape(), name)?;
    Ok(values.iter().zip(&idx).map(|(&v, &i)| v - zps[i]).collect())
}

pub fn matmul_integer(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let a = req(inputs, 0)?;
    let b = req(inputs, 1)?;
    check_8bit("A", a)?;
    check_8bit("B", b)?;
    let plan = MatmulPlan::new(a.shape(), b.shape())?;
    let a32 = shifted(a, opt(inputs, 2), Side::A, "a_zero_point")?;
    let b32 = shifted(b, opt(inputs, 3), Side::B, "b_zero_point")?;
    let product: Vec<i128> = plan.run(&a32, &b32).iter().map(|&x| x as i128).collect();
    Ok(vec![Tensor::from_i128(
        DType::I32,
        plan.out_shape,
        &product,
    )?])
}

/// `x` rounded to a float dtype's precision, as arithmetic in that dtype would leave it.
fn round_to(dtype: DType, x: f64) -> f64 {
    match dtype {
        DType::F32 => x as f32 as f64,
        DType::F16 => f16::from_f64(x).to_f64(),
        DType::BF16 => bf16::from_f64(x).to_f64(),
        _ => x,
    }
}

pub fn qlinear_matmul(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let a = req(inputs, 0)?;
    let a_scale = req(inputs, 1)?;
    let a_zp = opt(inputs, 2);
    let b = req(inputs, 3)?;
    let b_scale = req(inputs, 4)?;
    let b_zp = opt(inputs, 5);
    let y_scale = req(inputs, 6)?;
    let y_zp = opt(inputs, 7);
    check_8bit("a", a)?;
    check_8bit("b", b)?;
    let out_dtype = y_zp.map_or(a.dtype(), |z| z.dtype());
    check_8bit("y_zero_point", &Tensor::zeros(out_dtype, vec![]))?;
    let scale_dtype = a_scale.dtype();
    for (name, s) in [
        ("a_scale", a_scale),
        ("b_scale", b_scale),
        ("y_scale", y_scale),
    ] {
        if !s.dtype().is_float() {
            op_bail!("{name} must be a float tensor, got {}", s.dtype());
        }
        if s.dtype() != scale_dtype {
            op_bail!("{name} is {}, a_scale is {scale_dtype}", s.dtype());
        }
    }
    let plan = MatmulPlan::new(a.shape(), b.shape())?;
    let a32 = shifted(a, a_zp, Side::A, "a_zero_point")?;
    let b32 = shifted(b, b_zp, Side::B, "b_zero_point")?;
    let acc = plan.run(&a32, &b32);
    let out_shape = &plan.out_shape;
    // Scales index the output: a's per-row scales follow its rows, b's per-column its columns.
    let a_s = a_scale.to_f64_vec();
    let b_s = b_scale.to_f64_vec();
    let y_s = y_scale.to_f64_vec();
    let a_idx = param_indices(a_scale, Side::A, a.shape(), out_shape, "a_scale")?;
    let b_idx = param_indices(b_scale, Side::B, b.shape(), out_shape, "b_scale")?;
    let y_idx = param_indices(y_scale, Side::A, out_shape, out_shape, "y_scale")?;
    let (y_z, y_zi) = match y_zp {
        Some(z) => (
            z.to_f64_vec(),
            param_indices(z, Side::A, out_shape, out_shape, "y_zero_point")?,
        ),
        None => (vec![0.0], vec![0; acc.len()]),
    };
    let (lo, hi) = out_dtype
        .int_range()
        .map_or((0.0, 0.0), |(l, h)| (l as f64, h as f64));
    let out: Vec<i128> = (0..acc.len())
        .map(|e| {
            let multiplier = round_to(
                scale_dtype,
                round_to(scale_dtype, a_s[a_idx[e]] * b_s[b_idx[e]]) / y_s[y_idx[e]],
            );
            let v = (acc[e] as f64 * multiplier + y_z[y_zi[e]]).round_ties_even();
            v.clamp(lo, hi) as i128
        })
        .collect();
    Ok(vec![Tensor::from_i128(out_dtype, plan.out_shape, &out)?])
}
