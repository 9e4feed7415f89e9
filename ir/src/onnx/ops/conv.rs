//! ONNX importers for: Conv, ConvInteger, ConvTranspose, the pools, LRN.

use super::Registry;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{AutoPad, ConvAttrs, ConvTransposeAttrs, Op, PoolAttrs};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Conv", conv);
    reg.insert("ConvTranspose", conv_transpose);
    reg.insert("ConvInteger", conv_integer);
    reg.insert("MaxPool", max_pool);
    reg.insert("AveragePool", average_pool);
    reg.insert("LpPool", lp_pool);
    reg.insert("GlobalAveragePool", global_average_pool);
    reg.insert("GlobalMaxPool", global_max_pool);
    reg.insert("GlobalLpPool", global_lp_pool);
    reg.insert("LRN", lrn);
}

fn auto_pad(n: &OnnxNode) -> Result<AutoPad, Error> {
    match n.string("auto_pad", "NOTSET")?.as_str() {
        "NOTSET" | "" => Ok(AutoPad::NotSet),
        "SAME_UPPER" => Ok(AutoPad::SameUpper),
        "SAME_LOWER" => Ok(AutoPad::SameLower),
        "VALID" => Ok(AutoPad::Valid),
        other => Err(n.bad_value("auto_pad", other)),
    }
}

fn list(n: &OnnxNode, name: &str) -> Result<Vec<usize>, Error> {
    Ok(n.usizes(name)?.unwrap_or_default())
}

fn conv_attrs(n: &OnnxNode) -> Result<ConvAttrs, Error> {
    let group = n.usize("group", 1)?;
    if group == 0 {
        return Err(n.attr_error("group", "must be positive"));
    }
    Ok(ConvAttrs {
        kernel_shape: n.usizes("kernel_shape")?,
        strides: list(n, "strides")?,
        dilations: list(n, "dilations")?,
        pads: list(n, "pads")?,
        auto_pad: auto_pad(n)?,
        group,
    })
}

fn conv(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Conv(conv_attrs(n)?));
    Ok(())
}

fn conv_integer(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::ConvInteger(conv_attrs(n)?));
    Ok(())
}

fn conv_transpose(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::ConvTranspose(ConvTransposeAttrs {
        conv: conv_attrs(n)?,
        output_padding: list(n, "output_padding")?,
        output_shape: list(n, "output_shape")?,
    }));
    Ok(())
}

/// Pool attributes; `dilations` (opset 10+, AveragePool 19+, LpPool 18+) and `ceil_mode`
/// default to their spec values when absent, which is what older opsets meant.
fn pool_attrs(n: &OnnxNode) -> Result<PoolAttrs, Error> {
    let kernel_shape = n
        .usizes("kernel_shape")?
        .ok_or_else(|| n.attr_error("kernel_shape", "is required"))?;
    Ok(PoolAttrs {
        kernel_shape,
        strides: list(n, "strides")?,
        dilations: list(n, "dilations")?,
        pads: list(n, "pads")?,
        auto_pad: auto_pad(n)?,
        ceil_mode: n.bool("ceil_mode", false)?,
    })
}

fn max_pool(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let storage_order = n.int("storage_order", 0)?;
    if !matches!(storage_order, 0 | 1) {
        return Err(n.bad_value("storage_order", storage_order));
    }
    e.pass(Op::MaxPool {
        pool: pool_attrs(n)?,
        storage_order,
    });
    Ok(())
}

fn average_pool(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::AveragePool {
        pool: pool_attrs(n)?,
        count_include_pad: n.bool("count_include_pad", false)?,
    });
    Ok(())
}

/// `p` is a float attribute in opset 1 and an int from opset 2 on; both default to 2.
fn lp_p(n: &OnnxNode) -> Result<f32, Error> {
    let p = if n.opset < 2 {
        n.float("p", 2.0)?
    } else {
        n.int("p", 2)? as f32
    };
    if p.is_nan() || p <= 0.0 {
        return Err(n.attr_error("p", format!("must be positive, got {p}")));
    }
    Ok(p)
}

fn lp_pool(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::LpPool {
        pool: pool_attrs(n)?,
        p: lp_p(n)?,
    });
    Ok(())
}

fn global_average_pool(_: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::GlobalAveragePool);
    Ok(())
}

fn global_max_pool(_: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::GlobalMaxPool);
    Ok(())
}

fn global_lp_pool(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::GlobalLpPool { p: lp_p(n)? });
    Ok(())
}

fn lrn(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let size = n
        .int_opt("size")?
        .ok_or_else(|| n.attr_error("size", "is required"))?;
    if size <= 0 {
        return Err(n.attr_error("size", format!("must be positive, got {size}")));
    }
    e.pass(Op::Lrn {
        alpha: n.float("alpha", 1e-4)?,
        beta: n.float("beta", 0.75)?,
        bias: n.float("bias", 1.0)?,
        size: size as usize,
    });
    Ok(())
}
