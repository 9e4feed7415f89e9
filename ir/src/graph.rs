//! The graph: values and nodes addressed by typed ids.
//!
//! Invariants (checked by [`Graph::validate`]): every value has exactly one source (a graph
//! input, a constant, or one output of one node); `nodes` is in topological order, so a node's
//! inputs are graph inputs, constants or outputs of earlier nodes; names of inputs and outputs
//! are unique.

use crate::error::Error;
use crate::op::Op;
use crate::shape::TensorType;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Index of a node in [`Graph::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub u32);

/// Index of a value in [`Graph::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ValueId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// Where a value comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Source {
    /// Fed by the caller.
    Input,
    /// Known at compile time (an initializer or a `Constant` node).
    Constant(Arc<Tensor>),
    /// Output `index` of node `node`.
    Node { node: NodeId, index: usize },
}

/// A tensor-valued edge of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Value {
    /// The ONNX name, kept for graph inputs and outputs and for messages. May be empty.
    pub name: String,
    pub source: Source,
    /// Filled by shape inference; declared types of graph inputs are set by the importer.
    pub ty: Option<TensorType>,
}

/// An operation applied to values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// A name for messages: the ONNX node name, or one derived from its first output.
    pub name: String,
    pub op: Op,
    /// `None` marks an omitted optional input.
    pub inputs: Vec<Option<ValueId>>,
    pub outputs: Vec<ValueId>,
}

/// A tensor program.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub name: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            name: name.into(),
            ..Graph::default()
        }
    }

    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    pub fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.index()]
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// Adds a graph input of the given declared type.
    pub fn add_input(&mut self, name: impl Into<String>, ty: TensorType) -> ValueId {
        let id = self.push_value(name.into(), Source::Input, Some(ty));
        self.inputs.push(id);
        id
    }

    /// Adds an input whose type is not known yet (a control-flow body's input, typed from
    /// what its node feeds it).
    pub fn add_untyped_input(&mut self, name: impl Into<String>) -> ValueId {
        let id = self.push_value(name.into(), Source::Input, None);
        self.inputs.push(id);
        id
    }

    /// Adds a constant value.
    pub fn add_constant(&mut self, name: impl Into<String>, t: Tensor) -> ValueId {
        let ty = TensorType::new(t.dtype(), crate::shape::static_shape(t.shape()));
        self.push_value(name.into(), Source::Constant(Arc::new(t)), Some(ty))
    }

    /// Appends a node with `n_outputs` fresh output values named `output_names` (or unnamed).
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: Vec<Option<ValueId>>,
        output_names: Vec<String>,
    ) -> NodeId {
        let node = NodeId(self.nodes.len() as u32);
        let outputs = output_names
            .into_iter()
            .enumerate()
            .map(|(index, n)| self.push_value(n, Source::Node { node, index }, None))
            .collect();
        self.nodes.push(Node {
            name: name.into(),
            op,
            inputs,
            outputs,
        });
        node
    }

    fn push_value(&mut self, name: String, source: Source, ty: Option<TensorType>) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(Value { name, source, ty });
        id
    }

    /// The constant tensor of a value, if it has one.
    pub fn constant(&self, id: ValueId) -> Option<&Arc<Tensor>> {
        match &self.value(id).source {
            Source::Constant(t) => Some(t),
            Source::Input | Source::Node { .. } => None,
        }
    }

    /// Finds a graph input by name.
    pub fn input_named(&self, name: &str) -> Option<ValueId> {
        self.inputs
            .iter()
            .copied()
            .find(|&v| self.value(v).name == name)
    }

    /// A name for a value in messages: its ONNX name, or its id.
    pub fn value_label(&self, id: ValueId) -> String {
        let v = self.value(id);
        if v.name.is_empty() {
            id.to_string()
        } else {
            v.name.clone()
        }
    }

    /// Checks the invariants in the module doc.
    pub fn validate(&self) -> Result<(), Error> {
        let mut defined = vec![false; self.values.len()];
        for (i, v) in self.values.iter().enumerate() {
            if matches!(v.source, Source::Constant(_)) {
                defined[i] = true;
            }
        }
        for &i in &self.inputs {
            if !matches!(self.value(i).source, Source::Input) {
                return Err(Error::Model(format!(
                    "graph input '{}' is not marked as an input",
                    self.value_label(i)
                )));
            }
            defined[i.index()] = true;
        }
        for (n, node) in self.nodes.iter().enumerate() {
            for v in node.inputs.iter().flatten() {
                if v.index() >= self.values.len() || !defined[v.index()] {
                    return Err(Error::Model(format!(
                        "node '{}' reads value '{}' before anything produces it",
                        node.name,
                        self.value_label(*v)
                    )));
                }
            }
            for (k, &o) in node.outputs.iter().enumerate() {
                let expected = Source::Node {
                    node: NodeId(n as u32),
                    index: k,
                };
                if self.value(o).source != expected || defined[o.index()] {
                    return Err(Error::Model(format!(
                        "value '{}' has more than one producer",
                        self.value_label(o)
                    )));
                }
                defined[o.index()] = true;
            }
        }
        // Inputs have distinct names; an output may be an input (ONNX allows a graph input to
        // be passed straight through), but not a different value under an input's name.
        let mut names: HashMap<&str, ValueId> = HashMap::new();
        for &i in &self.inputs {
            let name = self.value(i).name.as_str();
            if !name.is_empty() && names.insert(name, i).is_some() {
                return Err(Error::Model(format!("duplicate graph input '{name}'")));
            }
        }
        for &o in &self.outputs {
            if !defined[o.index()] {
                return Err(Error::Model(format!(
                    "graph output '{}' is produced by nothing",
                    self.value_label(o)
                )));
            }
            let name = self.value(o).name.as_str();
            if name.is_empty() {
                continue;
            }
            if let Some(&other) = names.get(name)
                && other != o
            {
                return Err(Error::Model(format!(
                    "two different graph inputs or outputs are named '{name}'"
                )));
            }
            names.insert(name, o);
        }
        Ok(())
    }
}
