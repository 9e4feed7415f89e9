//! ONNX export of Conv, ConvInteger, ConvTranspose, the pools and LRN.

use super::cx::{Cx, Lowered, Spec};
use crate::error::Error;
use crate::op::{AutoPad, ConvAttrs, ConvTransposeAttrs, PoolAttrs};

fn auto_pad(s: Spec, a: AutoPad) -> Spec {
    let v = match a {
        AutoPad::NotSet => return s,
        AutoPad::SameUpper => "SAME_UPPER",
        AutoPad::SameLower => "SAME_LOWER",
        AutoPad::Valid => "VALID",
    };
    s.string("auto_pad", v)
}

fn conv_attrs(s: Spec, a: &ConvAttrs) -> Spec {
    let s = match &a.kernel_shape {
        Some(k) if !k.is_empty() => s.sizes("kernel_shape", k),
        Some(_) | None => s,
    };
    let s = s
        .sizes("strides", &a.strides)
        .sizes("dilations", &a.dilations)
        .sizes("pads", &a.pads)
        .int_or("group", a.group as i64, 1);
    auto_pad(s, a.auto_pad)
}

/// Conv or ConvInteger.
pub(super) fn conv(op_type: &'static str, a: &ConvAttrs) -> Result<Lowered, Error> {
    Ok(Lowered::Node(conv_attrs(Spec::new(op_type), a)))
}

pub(super) fn conv_transpose(a: &ConvTransposeAttrs) -> Result<Lowered, Error> {
    let s = conv_attrs(Spec::new("ConvTranspose"), &a.conv)
        .sizes("output_padding", &a.output_padding)
        .sizes("output_shape", &a.output_shape);
    Ok(Lowered::Node(s))
}

/// Window attributes of the pools. Opset 22 made MaxPool and AveragePool ignore a window that
/// would start in the right padding under `ceil_mode`, as the IR does: ceil mode needs 22.
fn pool_attrs(s: Spec, a: &PoolAttrs) -> Spec {
    let s = if a.ceil_mode { s.since(22) } else { s };
    let s = s
        .sizes("kernel_shape", &a.kernel_shape)
        .sizes("strides", &a.strides)
        .sizes("dilations", &a.dilations)
        .sizes("pads", &a.pads)
        .flag("ceil_mode", a.ceil_mode, false);
    auto_pad(s, a.auto_pad)
}

pub(super) fn max_pool(a: &PoolAttrs, storage_order: i64) -> Result<Lowered, Error> {
    Ok(Lowered::Node(pool_attrs(Spec::new("MaxPool"), a).int_or(
        "storage_order",
        storage_order,
        0,
    )))
}

pub(super) fn average_pool(a: &PoolAttrs, count_include_pad: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(pool_attrs(Spec::new("AveragePool"), a).flag(
        "count_include_pad",
        count_include_pad,
        false,
    )))
}

/// `p` is an int attribute from opset 2 on; a fractional p only existed in LpPool-1.
fn lp_p(cx: &Cx, p: f32) -> Result<i64, Error> {
    if p.fract() != 0.0 || !(1.0..=i64::MAX as f32).contains(&p) {
        return Err(cx.error(format!(
            "p = {p} is not a positive integer, which the op's int attribute 'p' needs"
        )));
    }
    Ok(p as i64)
}

pub(super) fn lp_pool(cx: &Cx, a: &PoolAttrs, p: f32) -> Result<Lowered, Error> {
    let p = lp_p(cx, p)?;
    Ok(Lowered::Node(
        pool_attrs(Spec::new("LpPool"), a).int_or("p", p, 2),
    ))
}

pub(super) fn global_lp_pool(cx: &Cx, p: f32) -> Result<Lowered, Error> {
    let p = lp_p(cx, p)?;
    Ok(Lowered::Node(Spec::new("GlobalLpPool").int_or("p", p, 2)))
}

pub(super) fn lrn(alpha: f32, beta: f32, bias: f32, size: usize) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("LRN")
            .float_or("alpha", alpha, 1e-4)
            .float_or("beta", beta, 0.75)
            .float_or("bias", bias, 1.0)
            .int("size", size as i64),
    ))
}
