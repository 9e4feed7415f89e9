//! ONNX importers for: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.

use super::Registry;
use crate::dtype::DType;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{Op, QuantAttrs};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("QuantizeLinear", quantize_linear);
    reg.insert("DequantizeLinear", dequantize_linear);
    reg.insert("DynamicQuantizeLinear", dynamic_quantize_linear);
}

/// A dtype-code attribute where 0 (UNDEFINED, the spec's default) means "not given".
fn optional_dtype(node: &OnnxNode, name: &str) -> Result<Option<DType>, Error> {
    match node.int(name, 0)? {
        0 => Ok(None),
        _ => node.dtype_opt(name),
    }
}

/// The attributes of both ops; those an opset lacks take the spec's defaults (axis 1,
/// per-tensor or per-axis, saturating).
fn quant_attrs(node: &OnnxNode) -> Result<QuantAttrs, Error> {
    Ok(QuantAttrs {
        axis: node.int("axis", 1)?,
        block_size: node.usize("block_size", 0)?,
        saturate: node.bool("saturate", true)?,
        output_dtype: optional_dtype(node, "output_dtype")?,
    })
}

fn quantize_linear(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let op = Op::QuantizeLinear(quant_attrs(node)?);
    // `precision` (opset 23+) sets the type `x / y_scale` is computed in: cast both to it.
    let Some(precision) = optional_dtype(node, "precision")? else {
        e.pass(op);
        return Ok(());
    };
    let (Some(x), Some(scale)) = (e.input(0), e.input(1)) else {
        return Err(node.error("x and y_scale are required"));
    };
    let cast = Op::Cast {
        to: precision,
        saturate: true,
    };
    let x = e.node(cast.clone(), vec![Some(x)], 1)[0];
    let scale = e.node(cast, vec![Some(scale)], 1)[0];
    let zero_point = e.input(2);
    e.finish(op, vec![Some(x), Some(scale), zero_point]);
    Ok(())
}

fn dequantize_linear(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::DequantizeLinear(quant_attrs(node)?));
    Ok(())
}

fn dynamic_quantize_linear(_node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::DynamicQuantizeLinear);
    Ok(())
}
