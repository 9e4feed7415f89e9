//! What an op exporter sees: [`Cx`] (the IR node being written, its value names and types, and
//! a way to add nodes and initializers) and [`Spec`] (an ONNX op type with its attributes and
//! the opset it needs).

use super::Writer;
use crate::dtype::DType;
use crate::error::Error;
use crate::graph::{Node, ValueId};
use crate::onnx::proto::attribute_proto::AttributeType;
use crate::onnx::proto::{AttributeProto, NodeProto};
use crate::onnx::{dtype_to_onnx, tensor_to_proto};
use crate::shape::TensorType;
use crate::tensor::Tensor;

/// The opset every exported model imports at least.
pub const BASE_OPSET: i64 = 21;

/// An ONNX op type, its attributes, and the default-domain opset it needs.
#[derive(Clone, Debug)]
pub struct Spec {
    pub op_type: &'static str,
    pub attrs: Vec<AttributeProto>,
    pub opset: i64,
}

impl Spec {
    pub fn new(op_type: &'static str) -> Spec {
        Spec {
            op_type,
            attrs: Vec::new(),
            opset: BASE_OPSET,
        }
    }

    /// Raises the opset this node needs to at least `opset`.
    pub fn since(mut self, opset: i64) -> Spec {
        self.opset = self.opset.max(opset);
        self
    }

    fn push(
        mut self,
        name: &str,
        ty: AttributeType,
        fill: impl FnOnce(&mut AttributeProto),
    ) -> Spec {
        let mut a = AttributeProto {
            name: name.to_string(),
            r#type: ty as i32,
            ..AttributeProto::default()
        };
        fill(&mut a);
        self.attrs.push(a);
        self
    }

    pub fn int(self, name: &str, v: i64) -> Spec {
        self.push(name, AttributeType::Int, |a| a.i = v)
    }

    /// An int attribute, written only when it differs from the spec's default.
    pub fn int_or(self, name: &str, v: i64, default: i64) -> Spec {
        if v == default {
            self
        } else {
            self.int(name, v)
        }
    }

    /// A 0/1 attribute, written only when it differs from the spec's default.
    pub fn flag(self, name: &str, v: bool, default: bool) -> Spec {
        self.int_or(name, v as i64, default as i64)
    }

    pub fn float(self, name: &str, v: f32) -> Spec {
        self.push(name, AttributeType::Float, |a| a.f = v)
    }

    /// A float attribute, written only when its bits differ from the spec's default.
    pub fn float_or(self, name: &str, v: f32, default: f32) -> Spec {
        if v.to_bits() == default.to_bits() {
            self
        } else {
            self.float(name, v)
        }
    }

    pub fn string(self, name: &str, v: &str) -> Spec {
        self.push(name, AttributeType::String, |a| a.s = v.as_bytes().to_vec())
    }

    /// A string attribute, written only when it differs from the spec's default.
    pub fn string_or(self, name: &str, v: &str, default: &str) -> Spec {
        if v == default {
            self
        } else {
            self.string(name, v)
        }
    }

    pub fn ints(self, name: &str, v: &[i64]) -> Spec {
        self.push(name, AttributeType::Ints, |a| a.ints = v.to_vec())
    }

    /// A list of sizes, written only when non-empty (empty means the spec default).
    pub fn sizes(self, name: &str, v: &[usize]) -> Spec {
        if v.is_empty() {
            self
        } else {
            let v: Vec<i64> = v.iter().map(|&x| x as i64).collect();
            self.ints(name, &v)
        }
    }

    pub fn floats(self, name: &str, v: &[f32]) -> Spec {
        self.push(name, AttributeType::Floats, |a| a.floats = v.to_vec())
    }

    pub fn strings(self, name: &str, v: &[&str]) -> Spec {
        self.push(name, AttributeType::Strings, |a| {
            a.strings = v.iter().map(|s| s.as_bytes().to_vec()).collect()
        })
    }

    pub fn tensor(self, name: &str, t: &Tensor) -> Spec {
        self.push(name, AttributeType::Tensor, |a| {
            a.t = Some(tensor_to_proto("", t))
        })
    }

    /// An attribute holding an ONNX dtype code.
    pub fn dtype(self, name: &str, d: DType) -> Spec {
        self.int(name, dtype_to_onnx(d) as i64)
    }
}

/// What an op exporter did.
pub enum Lowered {
    /// One ONNX node with the IR node's inputs and outputs.
    Node(Spec),
    /// The exporter wrote the node(s) itself through [`Cx::emit`].
    Written,
}

/// The IR node being exported, with access to the model being written.
pub struct Cx<'a, 'g> {
    pub(super) w: &'a mut Writer<'g>,
    pub(super) node: &'g Node,
    /// Fresh names handed out so far.
    pub(super) count: usize,
    /// ONNX nodes written so far.
    pub(super) emitted: usize,
}

impl<'g> Cx<'_, 'g> {
    /// An error at this node.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::Node {
            node: self.node.name.clone(),
            op: self.node.op.name().to_string(),
            msg: format!("cannot export to ONNX: {}", msg.into()),
        }
    }

    pub fn n_inputs(&self) -> usize {
        self.node.inputs.len()
    }

    pub fn n_outputs(&self) -> usize {
        self.node.outputs.len()
    }

    /// Input `i`, `None` when omitted or absent.
    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.node.inputs.get(i).copied().flatten()
    }

    /// The ONNX name of input `i` ("" when omitted).
    pub fn input_name(&self, i: usize) -> String {
        self.input(i)
            .map_or_else(String::new, |v| self.w.names[v.index()].clone())
    }

    /// The ONNX names of every input, omitted ones as "".
    pub fn input_names(&self) -> Vec<String> {
        (0..self.n_inputs()).map(|i| self.input_name(i)).collect()
    }

    /// The ONNX name of output `k` ("" when the node has no such output).
    pub fn output_name(&self, k: usize) -> String {
        self.node
            .outputs
            .get(k)
            .map_or_else(String::new, |v| self.w.names[v.index()].clone())
    }

    pub fn output_names(&self) -> Vec<String> {
        (0..self.n_outputs()).map(|k| self.output_name(k)).collect()
    }

    /// The inferred type of input `i`.
    pub fn input_type(&self, i: usize) -> Option<&'g TensorType> {
        self.input(i)
            .and_then(|v| self.w.graph.value(v).ty.as_ref())
    }

    pub fn input_dtype(&self, i: usize) -> Option<DType> {
        self.input_type(i).map(|t| t.dtype)
    }

    pub fn input_rank(&self, i: usize) -> Option<usize> {
        self.input_type(i).and_then(|t| t.rank())
    }

    /// A fresh value name for an intermediate result of this node.
    pub fn fresh(&mut self) -> String {
        self.count += 1;
        let base = format!("{}/{}", self.first_output_base(), self.count);
        self.w.unique_value_name(base)
    }

    fn first_output_base(&self) -> String {
        match self.node.outputs.first() {
            Some(v) => self.w.names[v.index()].clone(),
            None => self.node.name.clone(),
        }
    }

    /// Adds an initializer holding `t` and returns its name.
    pub fn constant(&mut self, t: &Tensor) -> String {
        let name = self.fresh();
        self.w.initializers.push(tensor_to_proto(&name, t));
        name
    }

    /// A 1-D i64 initializer.
    pub fn ints_constant(&mut self, v: &[i64]) -> Result<String, Error> {
        let t = Tensor::from_i64(vec![v.len()], v.to_vec()).map_err(|e| self.error(e.0))?;
        Ok(self.constant(&t))
    }

    /// Writes one ONNX node (trailing omitted inputs are dropped).
    pub fn emit(&mut self, spec: Spec, inputs: Vec<String>, outputs: Vec<String>) {
        let name = if self.emitted == 0 {
            self.node.name.clone()
        } else {
            format!("{}/{}{}", self.node.name, spec.op_type, self.emitted)
        };
        self.emitted += 1;
        let name = self.w.unique_node_name(name);
        let g = self.w.graph;
        let dtypes = self
            .node
            .inputs
            .iter()
            .flatten()
            .chain(&self.node.outputs)
            .filter_map(|&v| g.value(v).ty.as_ref().map(|t| t.dtype));
        let typed = dtypes
            .map(|d| super::opset::for_dtype(spec.op_type, d))
            .max()
            .unwrap_or(BASE_OPSET);
        self.w.opset = self.w.opset.max(spec.opset).max(typed);
        let mut inputs = inputs;
        while inputs.last().is_some_and(String::is_empty) {
            inputs.pop();
        }
        self.w.nodes.push(NodeProto {
            name,
            op_type: spec.op_type.to_string(),
            input: inputs,
            output: outputs,
            attribute: spec.attrs,
            ..NodeProto::default()
        });
    }

    /// Writes one node producing a fresh value and returns its name.
    pub fn emit1(&mut self, spec: Spec, inputs: Vec<String>) -> String {
        let out = self.fresh();
        self.emit(spec, inputs, vec![out.clone()]);
        out
    }
}
