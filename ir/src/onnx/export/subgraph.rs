//! Body graphs of control-flow ops as ONNX graph attributes. A body's captured inputs are not
//! inputs of the ONNX subgraph: it reads them by the enclosing scope's names, which the body
//! writer takes as theirs. Every other name in the body is new to the whole model (ONNX
//! forbids a subgraph to shadow an enclosing name).

use super::Writer;
use crate::error::Error;
use crate::graph::Graph;
use crate::onnx::proto::{GraphProto, NodeProto};

impl Writer<'_> {
    /// `body` as a subgraph: its first `formal` inputs are the subgraph's inputs, the rest
    /// are captures named `bound` (the enclosing scope's names of the values they stand for).
    pub(super) fn subgraph(
        &mut self,
        body: &Graph,
        formal: usize,
        bound: &[String],
    ) -> Result<GraphProto, Error> {
        if body.inputs.len() != formal + bound.len() {
            return Err(Error::Model(format!(
                "cannot export to ONNX: the body '{}' has {} inputs, expected {}",
                body.name,
                body.inputs.len(),
                formal + bound.len()
            )));
        }
        let mut sub = Writer::unnamed(body)?;
        sub.taken = self.taken.clone();
        sub.node_names = self.node_names.clone();
        for (&v, name) in body.inputs[formal..].iter().zip(bound) {
            sub.names[v.index()] = name.clone();
        }
        for i in 0..body.values.len() {
            if sub.names[i].is_empty() {
                let own = body.values[i].name.clone();
                let base = if own.is_empty() { format!("v{i}") } else { own };
                sub.names[i] = sub.unique_value_name(base);
            }
        }
        sub.write_initializers();
        sub.constant_outputs();
        for node in &body.nodes {
            sub.write_node(node)?;
        }
        // A subgraph output must be produced inside it: an output that is one of the body's
        // inputs goes through an Identity.
        let mut outputs = Vec::with_capacity(body.outputs.len());
        for &v in &body.outputs {
            let mut info = sub.value_info(v);
            if body.inputs.contains(&v) {
                let out = sub.unique_value_name(format!("{}/out", info.name));
                let name = sub.unique_node_name(format!("{out}/identity"));
                sub.nodes.push(NodeProto {
                    name,
                    op_type: "Identity".into(),
                    input: vec![info.name.clone()],
                    output: vec![out.clone()],
                    ..NodeProto::default()
                });
                info.name = out;
            }
            outputs.push(info);
        }
        let input = body.inputs[..formal]
            .iter()
            .map(|&v| sub.value_info(v))
            .collect();
        self.taken = std::mem::take(&mut sub.taken);
        self.node_names = std::mem::take(&mut sub.node_names);
        self.opset = self.opset.max(sub.opset);
        Ok(GraphProto {
            name: if body.name.is_empty() {
                "body".into()
            } else {
                body.name.clone()
            },
            node: sub.nodes,
            initializer: sub.initializers,
            input,
            output: outputs,
            ..GraphProto::default()
        })
    }
}
