//! What an op importer sees: [`OnnxNode`] (typed attribute access with ONNX defaults) and
//! [`Emitter`] (adds the node, or the few nodes and constants a decomposition needs, to the
//! graph).

use super::proto::{AttributeProto, NodeProto, attribute_proto::AttributeType};
use super::tensor::{dtype_from_onnx, onnx_type_name, tensor_from_proto};
use crate::dtype::DType;
use crate::error::Error;
use crate::graph::{Graph, ValueId};
use crate::op::Op;
use crate::tensor::Tensor;
use std::path::Path;
use std::sync::Arc;

/// One ONNX node being imported.
pub struct OnnxNode<'a> {
    pub proto: &'a NodeProto,
    /// A name for messages: the node's name, or one derived from its first output.
    pub name: String,
    /// The opset version of the node's domain in this model.
    pub opset: i64,
    pub(super) base_dir: Option<&'a Path>,
}

impl OnnxNode<'_> {
    pub fn op_type(&self) -> &str {
        &self.proto.op_type
    }

    /// An attribute error at this node.
    pub fn attr_error(&self, attr: &str, msg: impl Into<String>) -> Error {
        Error::Attribute {
            node: self.name.clone(),
            op: self.proto.op_type.clone(),
            attr: attr.to_string(),
            msg: msg.into(),
        }
    }

    /// An error at this node not tied to one attribute.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::Node {
            node: self.name.clone(),
            op: self.proto.op_type.clone(),
            msg: msg.into(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.proto.attribute.iter().any(|a| a.name == name)
    }

    fn get(&self, name: &str, want: AttributeType) -> Result<Option<&AttributeProto>, Error> {
        let Some(a) = self.proto.attribute.iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        if a.r#type != want as i32 {
            let got = AttributeType::try_from(a.r#type)
                .map(|t| t.as_str_name().to_lowercase())
                .unwrap_or_else(|_| format!("type {}", a.r#type));
            return Err(self.attr_error(
                name,
                format!("expected {}, got {got}", want.as_str_name().to_lowercase()),
            ));
        }
        Ok(Some(a))
    }

    pub fn int_opt(&self, name: &str) -> Result<Option<i64>, Error> {
        Ok(self.get(name, AttributeType::Int)?.map(|a| a.i))
    }

    pub fn int(&self, name: &str, default: i64) -> Result<i64, Error> {
        Ok(self.int_opt(name)?.unwrap_or(default))
    }

    pub fn bool(&self, name: &str, default: bool) -> Result<bool, Error> {
        Ok(self.int_opt(name)?.map_or(default, |v| v != 0))
    }

    /// A non-negative int attribute.
    pub fn usize(&self, name: &str, default: usize) -> Result<usize, Error> {
        match self.int_opt(name)? {
            None => Ok(default),
            Some(v) if v >= 0 => Ok(v as usize),
            Some(v) => Err(self.attr_error(name, format!("must be non-negative, got {v}"))),
        }
    }

    pub fn float_opt(&self, name: &str) -> Result<Option<f32>, Error> {
        Ok(self.get(name, AttributeType::Float)?.map(|a| a.f))
    }

    pub fn float(&self, name: &str, default: f32) -> Result<f32, Error> {
        Ok(self.float_opt(name)?.unwrap_or(default))
    }

    pub fn string_opt(&self, name: &str) -> Result<Option<String>, Error> {
        self.get(name, AttributeType::String)?
            .map(|a| {
                String::from_utf8(a.s.clone())
                    .map_err(|_| self.attr_error(name, "is not valid UTF-8"))
            })
            .transpose()
    }

    pub fn string(&self, name: &str, default: &str) -> Result<String, Error> {
        Ok(self
            .string_opt(name)?
            .unwrap_or_else(|| default.to_string()))
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, Error> {
        Ok(self.get(name, AttributeType::Ints)?.map(|a| a.ints.clone()))
    }

    /// A list of non-negative ints.
    pub fn usizes(&self, name: &str) -> Result<Option<Vec<usize>>, Error> {
        self.ints(name)?
            .map(|v| {
                v.iter()
                    .map(|&x| {
                        usize::try_from(x).map_err(|_| {
                            self.attr_error(name, format!("must be non-negative, got {x}"))
                        })
                    })
                    .collect()
            })
            .transpose()
    }

    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, Error> {
        Ok(self
            .get(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    pub fn tensor(&self, name: &str) -> Result<Option<Tensor>, Error> {
        self.get(name, AttributeType::Tensor)?
            .map(|a| {
                let t =
                    a.t.as_ref()
                        .ok_or_else(|| self.attr_error(name, "tensor attribute holds no tensor"))?;
                tensor_from_proto(t, self.base_dir)
                    .map_err(|e| self.attr_error(name, e.to_string()))
            })
            .transpose()
    }

    /// An attribute holding an ONNX dtype code (`to`, `dtype`, `output_dtype`...).
    pub fn dtype_opt(&self, name: &str) -> Result<Option<DType>, Error> {
        self.int_opt(name)?
            .map(|code| {
                dtype_from_onnx(code as i32).ok_or_else(|| {
                    self.attr_error(
                        name,
                        format!(
                            "element type {} is not supported",
                            onnx_type_name(code as i32)
                        ),
                    )
                })
            })
            .transpose()
    }

    /// An error for an attribute value outside the set the op accepts.
    pub fn bad_value(&self, name: &str, value: impl std::fmt::Display) -> Error {
        self.attr_error(name, format!("unsupported value '{value}'"))
    }
}

/// Adds what one ONNX node becomes to the graph.
///
/// Call [`Emitter::finish`] (or [`Emitter::pass`]) exactly once, with the node that produces the
/// ONNX node's declared outputs; [`Emitter::node`] and [`Emitter::constant`] add intermediate
/// nodes and constants before it.
pub struct Emitter<'a> {
    pub(super) graph: &'a mut Graph,
    pub(super) inputs: Vec<Option<ValueId>>,
    pub(super) output_names: Vec<String>,
    pub(super) node_name: String,
    pub(super) finished: bool,
    pub(super) count: usize,
}

impl Emitter<'_> {
    /// The node's inputs (`None` for an omitted optional input).
    pub fn inputs(&self) -> &[Option<ValueId>] {
        &self.inputs
    }

    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }

    pub fn n_inputs(&self) -> usize {
        self.inputs.len()
    }

    pub fn n_outputs(&self) -> usize {
        self.output_names.len()
    }

    /// The tensor of a constant value (an initializer or `Constant` output), if it is one.
    pub fn constant_of(&self, v: ValueId) -> Option<&Arc<Tensor>> {
        self.graph.constant(v)
    }

    /// Adds a constant and returns its value.
    pub fn constant(&mut self, t: Tensor) -> ValueId {
        self.count += 1;
        let name = format!("{}/const{}", self.node_name, self.count);
        self.graph.add_constant(name, t)
    }

    /// Adds an intermediate node with `n_outputs` fresh outputs.
    pub fn node(&mut self, op: Op, inputs: Vec<Option<ValueId>>, n_outputs: usize) -> Vec<ValueId> {
        self.count += 1;
        let name = format!("{}/{}", self.node_name, self.count);
        let names = (0..n_outputs).map(|k| format!("{name}:{k}")).collect();
        let id = self.graph.add_node(name, op, inputs, names);
        self.graph.node(id).outputs.clone()
    }

    /// Adds the node producing the ONNX node's declared outputs.
    pub fn finish(&mut self, op: Op, inputs: Vec<Option<ValueId>>) {
        let names = self.output_names.clone();
        self.graph
            .add_node(self.node_name.clone(), op, inputs, names);
        self.finished = true;
    }

    /// [`Emitter::finish`] with the ONNX node's own inputs.
    pub fn pass(&mut self, op: Op) {
        let inputs = self.inputs.clone();
        self.finish(op, inputs);
    }
}
