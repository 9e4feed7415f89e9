//! ONNX import in pure Rust: `ModelProto` bytes to a checked, typed [`Graph`].
//!
//! The default domain (`""` / `ai.onnx`) is supported at opsets 1 to [`MAX_OPSET`]. Ops are
//! registered one line each in the per-family files under `ops/`. Nodes may appear in any
//! order; they are sorted topologically and a cycle is an error. Every failure is an
//! [`Error`] naming the node, op or tensor involved: import never panics on bad bytes.

mod control;
pub mod export;
mod graph;
mod node;
pub mod ops;
pub mod proto;
mod tensor;
#[cfg(test)]
mod test_protos;

pub use export::{ExportOptions, export_model, export_model_with, export_proto, export_proto_with};
pub use node::{Emitter, OnnxNode};
pub use tensor::{dtype_from_onnx, dtype_to_onnx, tensor_from_proto, tensor_to_proto};

use crate::error::Error;
use crate::graph::Graph;
use crate::infer;
use crate::shape::{Dim, TensorType};
use crate::tensor::Tensor;
use prost::Message;
use proto::{ModelProto, NodeProto, TypeProto, ValueInfoProto, type_proto};
use std::path::Path;

/// The newest default-domain opset tenfold imports.
pub const MAX_OPSET: i64 = 28;

/// Imports a model from bytes. `base_dir` is the model's folder, for external data.
pub fn import_model(bytes: &[u8], base_dir: Option<&Path>) -> Result<Graph, Error> {
    if bytes.is_empty() {
        return Err(Error::Decode("the file is empty".into()));
    }
    let model = ModelProto::decode(bytes).map_err(|e| Error::Decode(e.to_string()))?;
    import_proto(&model, base_dir)
}

/// Decodes a serialized `TensorProto` (an ONNX test-data `.pb` file).
pub fn tensor_from_bytes(bytes: &[u8]) -> Result<(String, Tensor), Error> {
    let p = proto::TensorProto::decode(bytes)
        .map_err(|e| Error::Decode(format!("not a TensorProto: {e}")))?;
    let t = tensor_from_proto(&p, None)?;
    Ok((p.name, t))
}

/// Imports a decoded model.
pub fn import_proto(model: &ModelProto, base_dir: Option<&Path>) -> Result<Graph, Error> {
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Decode("the model has no graph".into()))?;
    if model.ir_version <= 0 {
        return Err(Error::Decode(format!(
            "ir_version {} is not valid",
            model.ir_version
        )));
    }
    let opset = default_opset(model, g)?;
    let registry = ops::registry();
    let cx = graph::ModelCx {
        model,
        opset,
        base_dir,
        registry: &registry,
    };
    let mut graph = graph::import_graph(&cx, g, None)?;
    graph.validate()?;
    infer::infer_graph(&mut graph)?;
    check_declared_outputs(&graph, &g.output)?;
    Ok(graph)
}

/// The default domain's opset. A model whose nodes all belong to other domains need not import
/// it; those nodes are then reported as unsupported ops of their domain.
fn default_opset(model: &ModelProto, g: &proto::GraphProto) -> Result<i64, Error> {
    let declared = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version);
    let uses_default = g
        .node
        .iter()
        .any(|n| n.domain.is_empty() || n.domain == "ai.onnx");
    let v = match declared {
        Some(v) => v,
        None if !uses_default => return Ok(MAX_OPSET),
        None => {
            return Err(Error::Model(
                "the model imports no opset of the default ONNX domain".into(),
            ));
        }
    };
    if !(1..=MAX_OPSET).contains(&v) {
        return Err(Error::Model(format!(
            "the model needs opset {v} of the default ONNX domain; tenfold supports opsets 1 to {MAX_OPSET}"
        )));
    }
    Ok(v)
}

/// The declared type of a graph input.
pub(crate) fn value_type(v: &ValueInfoProto) -> Result<TensorType, Error> {
    let err = |msg: &str| Error::Model(format!("graph input '{}': {msg}", v.name));
    let ty: &TypeProto = v.r#type.as_ref().ok_or_else(|| err("has no type"))?;
    let Some(type_proto::Value::TensorType(t)) = &ty.value else {
        return Err(err("sequence, map and optional inputs are not supported"));
    };
    let dtype = dtype_from_onnx(t.elem_type).ok_or_else(|| {
        err(&format!(
            "element type {} is not supported",
            tensor::onnx_type_name(t.elem_type)
        ))
    })?;
    let shape = t.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .enumerate()
            .map(|(i, d)| match &d.value {
                Some(proto::tensor_shape_proto::dimension::Value::DimValue(n)) if *n >= 0 => {
                    Dim::Static(*n as usize)
                }
                Some(proto::tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => {
                    Dim::Symbolic(p.clone())
                }
                _ => Dim::Symbolic(format!("{}_dim{i}", v.name)),
            })
            .collect()
    });
    Ok(TensorType { dtype, shape })
}

/// The value of a `Constant` node.
pub(crate) fn constant_value(
    n: &NodeProto,
    name: &str,
    opset: i64,
    base_dir: Option<&Path>,
) -> Result<Tensor, Error> {
    let node = OnnxNode {
        proto: n,
        name: name.to_string(),
        opset,
        base_dir,
    };
    if let Some(t) = node.tensor("value")? {
        return Ok(t);
    }
    let err = |e: crate::error::OpError| node.error(e.0);
    if let Some(v) = node.float_opt("value_float")? {
        return Ok(Tensor::scalar_f32(v));
    }
    if let Some(v) = node.floats("value_floats")? {
        return Tensor::from_f32(vec![v.len()], v).map_err(err);
    }
    if let Some(v) = node.int_opt("value_int")? {
        return Ok(Tensor::scalar_i64(v));
    }
    if let Some(v) = node.ints("value_ints")? {
        return Tensor::from_i64(vec![v.len()], v).map_err(err);
    }
    Err(node
        .error("Constant has no supported value attribute (value, value_float(s), value_int(s))"))
}

/// Checks inferred output dtypes against the model's declared ones.
fn check_declared_outputs(graph: &Graph, declared: &[ValueInfoProto]) -> Result<(), Error> {
    for (&id, d) in graph.outputs.iter().zip(declared) {
        let Some(type_proto::Value::TensorType(t)) =
            d.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            continue;
        };
        let (Some(want), Some(got)) = (dtype_from_onnx(t.elem_type), graph.value(id).ty.as_ref())
        else {
            continue;
        };
        if t.elem_type != 0 && want != got.dtype {
            return Err(Error::Model(format!(
                "graph output '{}' is declared {want} but computes {}",
                d.name, got.dtype
            )));
        }
    }
    Ok(())
}
