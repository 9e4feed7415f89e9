//! ONNX import of control flow: If, with its branches imported as body graphs whose inputs
//! are the enclosing values they read (see `graph.rs`).

use super::graph::{ModelCx, Scope, import_graph};
use super::node::OnnxNode;
use super::proto::{GraphProto, attribute_proto::AttributeType};
use crate::error::Error;
use crate::graph::{Graph, ValueId};
use crate::op::Op;
use std::collections::HashMap;

/// The graph attribute `name` of `node`.
fn body<'a>(node: &OnnxNode<'a>, name: &str) -> Result<&'a GraphProto, Error> {
    let a = node
        .proto
        .attribute
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| node.attr_error(name, "the graph attribute is missing"))?;
    match (&a.g, a.r#type == AttributeType::Graph as i32) {
        (Some(g), true) => Ok(g),
        _ => Err(node.attr_error(name, "expected a graph")),
    }
}

/// Gives `g`'s captures the order `names`: inputs `formal..` become one per name, the ones
/// `g` never reads added untyped.
fn align_captures(g: &mut Graph, formal: usize, names: &[String]) {
    let own: HashMap<String, ValueId> = g.inputs[formal..]
        .iter()
        .map(|&v| (g.value(v).name.clone(), v))
        .collect();
    g.inputs.truncate(formal);
    for name in names {
        match own.get(name) {
            Some(&v) => g.inputs.push(v),
            None => {
                let v = g.add_input(
                    name.clone(),
                    crate::shape::TensorType::new(crate::dtype::DType::F32, Vec::new()),
                );
                g.value_mut(v).ty = None;
            }
        }
    }
}

/// The capture names of `bodies` (inputs after their first `formal`), each once, in order.
fn capture_names(bodies: &[&Graph], formal: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for g in bodies {
        for &v in &g.inputs[formal..] {
            let n = &g.value(v).name;
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
}

/// Adds `op` reading `inputs` and then the captures `names` (resolved in `scope`), with the
/// node's outputs.
fn add_with_captures(
    scope: &mut Scope,
    node: &OnnxNode,
    op: Op,
    mut inputs: Vec<Option<ValueId>>,
    names: &[String],
) -> Result<(), Error> {
    for name in names {
        let v = scope
            .resolve(name)
            .ok_or_else(|| node.error(format!("a body reads '{name}', which nothing defines")))?;
        inputs.push(Some(v));
    }
    let outputs = node.proto.output.clone();
    let id = scope
        .graph
        .add_node(node.name.clone(), op, inputs, outputs.clone());
    let values = scope.graph.node(id).outputs.clone();
    for (name, v) in outputs.into_iter().zip(values) {
        if !name.is_empty() {
            scope.names.insert(name, v);
        }
    }
    Ok(())
}

/// If: inputs cond; attributes then_branch, else_branch (graphs without inputs).
pub(super) fn import_if(
    cx: &ModelCx,
    scope: &mut Scope,
    node: &OnnxNode,
    inputs: Vec<Option<ValueId>>,
) -> Result<(), Error> {
    let [Some(cond)] = inputs[..] else {
        return Err(node.error("If takes one input, cond"));
    };
    let (then_proto, else_proto) = (body(node, "then_branch")?, body(node, "else_branch")?);
    for (name, g) in [("then_branch", then_proto), ("else_branch", else_proto)] {
        if !g.input.is_empty() {
            return Err(node.attr_error(name, "an If branch takes no inputs"));
        }
        if g.output.len() != node.proto.output.len() {
            return Err(node.attr_error(
                name,
                format!(
                    "the branch has {} outputs, the node {}",
                    g.output.len(),
                    node.proto.output.len()
                ),
            ));
        }
    }
    let (mut then_b, mut else_b) = {
        let sees = |n: &str| scope.sees(n);
        (
            import_graph(cx, then_proto, Some(&sees))?,
            import_graph(cx, else_proto, Some(&sees))?,
        )
    };
    let names = capture_names(&[&then_b, &else_b], 0);
    align_captures(&mut then_b, 0, &names);
    align_captures(&mut else_b, 0, &names);
    let op = Op::If {
        then_branch: Box::new(then_b),
        else_branch: Box::new(else_b),
    };
    add_with_captures(scope, node, op, vec![Some(cond)], &names)
}

#[cfg(test)]
mod tests;
