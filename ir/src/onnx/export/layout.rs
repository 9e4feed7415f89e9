//! ONNX export of the layout ops: Reshape, Transpose, Flatten, Concat, Split, Pad, Shape,
//! ConstantOfShape, Trilu, DepthToSpace, SpaceToDepth, EyeLike (the others have no
//! attributes). Shapes, axes, split sizes and pads are inputs, as in the IR.

use super::cx::{Cx, Lowered, Spec};
use crate::dtype::DType;
use crate::error::Error;
use crate::op::{DepthToSpaceMode, PadMode};
use crate::tensor::Tensor;

pub(super) fn reshape(allowzero: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("Reshape").flag(
        "allowzero",
        allowzero,
        false,
    )))
}

pub(super) fn transpose(perm: Option<&[usize]>) -> Result<Lowered, Error> {
    let s = Spec::new("Transpose");
    Ok(Lowered::Node(match perm {
        Some(p) => {
            let p: Vec<i64> = p.iter().map(|&x| x as i64).collect();
            s.ints("perm", &p)
        }
        None => s,
    }))
}

pub(super) fn flatten(axis: i64) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("Flatten").int_or("axis", axis, 1)))
}

pub(super) fn concat(axis: i64) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("Concat").int("axis", axis)))
}

/// Split: without a `split` input, `num_outputs` (opset 18 on) says how many parts.
pub(super) fn split(cx: &Cx, axis: i64, num_outputs: usize) -> Result<Lowered, Error> {
    let s = Spec::new("Split").int_or("axis", axis, 0);
    Ok(Lowered::Node(if cx.input(1).is_none() {
        s.int("num_outputs", num_outputs as i64)
    } else {
        s
    }))
}

/// Pad. Opset < 11 models give the fill value as a float; ONNX wants it of the data's dtype.
pub(super) fn pad(cx: &mut Cx, mode: PadMode) -> Result<Lowered, Error> {
    let m = match mode {
        PadMode::Constant => "constant",
        PadMode::Reflect => "reflect",
        PadMode::Edge => "edge",
        PadMode::Wrap => "wrap",
    };
    let s = Spec::new("Pad").string_or("mode", m, "constant");
    let needs_cast = cx.input(2).is_some() && cx.input_dtype(2) != cx.input_dtype(0);
    if !needs_cast {
        return Ok(Lowered::Node(s));
    }
    let mut inputs = cx.input_names();
    let value = cx.emit1(
        Spec::new("CastLike"),
        vec![inputs[2].clone(), inputs[0].clone()],
    );
    inputs[2] = value;
    let out = cx.output_names();
    cx.emit(s, inputs, out);
    Ok(Lowered::Written)
}

pub(super) fn shape(start: i64, end: Option<i64>) -> Result<Lowered, Error> {
    let s = Spec::new("Shape").int_or("start", start, 0);
    Ok(Lowered::Node(match end {
        Some(e) => s.int("end", e),
        None => s,
    }))
}

/// ConstantOfShape; the value is written as the one-element 1-D tensor the spec asks for.
pub(super) fn constant_of_shape(cx: &Cx, value: &Tensor) -> Result<Lowered, Error> {
    let one = value
        .clone()
        .reshaped(vec![1])
        .map_err(|e| cx.error(format!("value: {}", e.0)))?;
    Ok(Lowered::Node(
        Spec::new("ConstantOfShape").tensor("value", &one),
    ))
}

pub(super) fn trilu(upper: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("Trilu").flag("upper", upper, true)))
}

/// DepthToSpace or SpaceToDepth; SpaceToDepth has a `mode` from opset 28.
pub(super) fn block_rearrange(
    op_type: &'static str,
    blocksize: usize,
    mode: DepthToSpaceMode,
) -> Result<Lowered, Error> {
    let s = Spec::new(op_type).int("blocksize", blocksize as i64);
    Ok(Lowered::Node(match mode {
        DepthToSpaceMode::Dcr => s,
        DepthToSpaceMode::Crd if op_type == "SpaceToDepth" => s.string("mode", "CRD").since(28),
        DepthToSpaceMode::Crd => s.string("mode", "CRD"),
    }))
}

pub(super) fn eye_like(dtype: Option<DType>, k: i64) -> Result<Lowered, Error> {
    let s = Spec::new("EyeLike").int_or("k", k, 0);
    Ok(Lowered::Node(match dtype {
        Some(d) => s.dtype("dtype", d),
        None => s,
    }))
}
