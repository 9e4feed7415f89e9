//! ONNX importers for: Reshape, Transpose, Squeeze/Unsqueeze, Flatten, Concat, Split, Slice,
//! Expand, Tile, Pad, Shape, Size, ConstantOfShape, Range, Identity, Trilu, DepthToSpace,
//! SpaceToDepth, EyeLike. Attributes that later opsets turned into inputs (shape, axes, split,
//! starts/ends, pads) become constant inputs.

use super::Registry;
use crate::error::Error;
use crate::graph::ValueId;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{DepthToSpaceMode, Op, PadMode};
use crate::tensor::Tensor;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Reshape", reshape);
    reg.insert("Transpose", transpose);
    reg.insert("Squeeze", squeeze);
    reg.insert("Unsqueeze", unsqueeze);
    reg.insert("Flatten", flatten);
    reg.insert("Concat", concat);
    reg.insert("Split", split);
    reg.insert("Slice", slice);
    reg.insert("Expand", |_, e| {
        e.pass(Op::Expand);
        Ok(())
    });
    reg.insert("Tile", tile);
    reg.insert("Pad", pad);
    reg.insert("Shape", shape);
    reg.insert("Size", |_, e| {
        e.pass(Op::Size);
        Ok(())
    });
    reg.insert("ConstantOfShape", constant_of_shape);
    // Range's `stash_type` (opset 27) needs no handling: the kernel computes in f64.
    reg.insert("Range", |_, e| {
        e.pass(Op::Range);
        Ok(())
    });
    reg.insert("Identity", |_, e| {
        e.pass(Op::Identity);
        Ok(())
    });
    reg.insert("Trilu", |n, e| {
        e.pass(Op::Trilu {
            upper: n.bool("upper", true)?,
        });
        Ok(())
    });
    reg.insert("DepthToSpace", depth_to_space);
    reg.insert("SpaceToDepth", space_to_depth);
    reg.insert("EyeLike", eye_like);
}

/// A 1-D i64 constant holding an attribute's values.
fn ints_constant(
    n: &OnnxNode,
    e: &mut Emitter,
    attr: &str,
    values: Vec<i64>,
) -> Result<ValueId, Error> {
    let t =
        Tensor::from_i64(vec![values.len()], values).map_err(|err| n.attr_error(attr, err.0))?;
    Ok(e.constant(t))
}

/// A required ints attribute.
fn required_ints(n: &OnnxNode, attr: &str) -> Result<Vec<i64>, Error> {
    n.ints(attr)?
        .ok_or_else(|| n.attr_error(attr, "is required"))
}

/// The node's inputs with attribute-born constant inputs appended after input 0.
fn data_and(e: &Emitter, extra: impl IntoIterator<Item = Option<ValueId>>) -> Vec<Option<ValueId>> {
    std::iter::once(e.input(0)).chain(extra).collect()
}

fn reshape(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if n.opset < 5 {
        let target = required_ints(n, "shape")?;
        let c = ints_constant(n, e, "shape", target)?;
        let inputs = data_and(e, [Some(c)]);
        e.finish(Op::Reshape { allowzero: false }, inputs);
        return Ok(());
    }
    e.pass(Op::Reshape {
        allowzero: n.bool("allowzero", false)?,
    });
    Ok(())
}

fn transpose(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Transpose {
        perm: n.usizes("perm")?,
    });
    Ok(())
}

fn squeeze(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if n.opset < 13 {
        // An empty `axes` attribute meant "every size-1 axis", like an absent one.
        let axes = n.ints("axes")?.filter(|a| !a.is_empty());
        let axes = axes.map(|a| ints_constant(n, e, "axes", a)).transpose()?;
        let inputs = data_and(e, axes.map(Some));
        e.finish(Op::Squeeze, inputs);
        return Ok(());
    }
    e.pass(Op::Squeeze);
    Ok(())
}

fn unsqueeze(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if n.opset < 13 {
        let axes = required_ints(n, "axes")?;
        let c = ints_constant(n, e, "axes", axes)?;
        let inputs = data_and(e, [Some(c)]);
        e.finish(Op::Unsqueeze, inputs);
        return Ok(());
    }
    e.pass(Op::Unsqueeze);
    Ok(())
}

fn flatten(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Flatten {
        axis: n.int("axis", 1)?,
    });
    Ok(())
}

fn concat(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    // Opset 1-3 default the axis to 1; from opset 4 it is required.
    let axis = match (n.int_opt("axis")?, n.opset < 4) {
        (Some(a), _) => a,
        (None, true) => 1,
        (None, false) => return Err(n.attr_error("axis", "is required")),
    };
    e.pass(Op::Concat { axis });
    Ok(())
}

fn split(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let axis = n.int("axis", 0)?;
    let num_outputs = match n.int_opt("num_outputs")? {
        Some(k) if k as usize == e.n_outputs() => e.n_outputs(),
        Some(k) => {
            return Err(n.attr_error(
                "num_outputs",
                format!("is {k}, but the node has {} outputs", e.n_outputs()),
            ));
        }
        None => e.n_outputs(),
    };
    let op = Op::Split { axis, num_outputs };
    match n.ints("split")? {
        Some(sizes) if n.opset < 13 => {
            let c = ints_constant(n, e, "split", sizes)?;
            let inputs = data_and(e, [Some(c)]);
            e.finish(op, inputs);
        }
        _ => e.pass(op),
    }
    Ok(())
}

fn slice(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if n.opset < 10 {
        let starts = required_ints(n, "starts")?;
        let ends = required_ints(n, "ends")?;
        let starts = ints_constant(n, e, "starts", starts)?;
        let ends = ints_constant(n, e, "ends", ends)?;
        let axes = n
            .ints("axes")?
            .map(|a| ints_constant(n, e, "axes", a))
            .transpose()?;
        let inputs = data_and(e, [Some(starts), Some(ends), axes]);
        e.finish(Op::Slice, inputs);
        return Ok(());
    }
    e.pass(Op::Slice);
    Ok(())
}

fn tile(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if n.opset >= 6 {
        e.pass(Op::Tile);
        return Ok(());
    }
    // Tile-1 repeats along one axis given by inputs: `tiles` copies concatenated on `axis`.
    let scalar_input = |i: usize, what: &str| -> Result<i64, Error> {
        let t = e
            .input(i)
            .and_then(|v| e.constant_of(v))
            .ok_or_else(|| n.error(format!("Tile-1 needs a constant '{what}' input")))?;
        match t.to_i64_vec().map_err(|err| n.error(err.0))?.as_slice() {
            [v] => Ok(*v),
            v => Err(n.error(format!("'{what}' must hold one value, got {}", v.len()))),
        }
    };
    let (tiles, axis) = (scalar_input(1, "tiles")?, scalar_input(2, "axis")?);
    if tiles < 1 {
        return Err(n.error(format!("tiles must be positive, got {tiles}")));
    }
    let inputs = vec![e.input(0); tiles as usize];
    e.finish(Op::Concat { axis }, inputs);
    Ok(())
}

fn pad(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let mode = match n.string("mode", "constant")?.as_str() {
        "constant" => PadMode::Constant,
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        "wrap" => PadMode::Wrap,
        other => return Err(n.bad_value("mode", other)),
    };
    if n.opset >= 11 {
        e.pass(Op::Pad { mode });
        return Ok(());
    }
    // Opset 1 calls the attribute `paddings`, opset 2-10 `pads`; `value` is a float that the
    // kernel casts to the data's dtype.
    let attr = if n.opset < 2 { "paddings" } else { "pads" };
    let pads = required_ints(n, attr)?;
    let pads = ints_constant(n, e, attr, pads)?;
    let value = e.constant(Tensor::scalar_f32(n.float("value", 0.0)?));
    let inputs = data_and(e, [Some(pads), Some(value)]);
    e.finish(Op::Pad { mode }, inputs);
    Ok(())
}

fn shape(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Shape {
        start: n.int("start", 0)?,
        end: n.int_opt("end")?,
    });
    Ok(())
}

fn constant_of_shape(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let value = n
        .tensor("value")?
        .unwrap_or_else(|| Tensor::scalar_f32(0.0));
    if value.len() != 1 {
        return Err(n.attr_error(
            "value",
            format!("must hold one element, got {}", value.len()),
        ));
    }
    e.pass(Op::ConstantOfShape { value });
    Ok(())
}

/// The `mode` attribute of DepthToSpace/SpaceToDepth (absent before opset 11 / 28: DCR).
fn block_mode(n: &OnnxNode) -> Result<DepthToSpaceMode, Error> {
    match n.string("mode", "DCR")?.as_str() {
        "DCR" => Ok(DepthToSpaceMode::Dcr),
        "CRD" => Ok(DepthToSpaceMode::Crd),
        other => Err(n.bad_value("mode", other)),
    }
}

fn blocksize(n: &OnnxNode) -> Result<usize, Error> {
    match n.int_opt("blocksize")? {
        Some(b) if b > 0 => Ok(b as usize),
        Some(b) => Err(n.attr_error("blocksize", format!("must be positive, got {b}"))),
        None => Err(n.attr_error("blocksize", "is required")),
    }
}

fn depth_to_space(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::DepthToSpace {
        blocksize: blocksize(n)?,
        mode: block_mode(n)?,
    });
    Ok(())
}

fn space_to_depth(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::SpaceToDepth {
        blocksize: blocksize(n)?,
        mode: block_mode(n)?,
    });
    Ok(())
}

fn eye_like(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::EyeLike {
        dtype: n.dtype_opt("dtype")?,
        k: n.int("k", 0)?,
    });
    Ok(())
}
