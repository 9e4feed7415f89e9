//! ONNX import of control flow: If, Scan and Loop, their bodies imported as graphs whose inputs
//! after their own are the enclosing values they read (see `graph.rs`).

use super::graph::{ModelCx, Scope, import_graph};
use super::node::OnnxNode;
use super::proto::{GraphProto, attribute_proto::AttributeType};
use crate::error::Error;
use crate::graph::{Graph, ValueId};
use crate::op::{Op, ScanAttrs};
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
                g.add_untyped_input(name.clone());
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

/// Scan (opset 9 on): inputs the states then `num_scan_inputs` scanned tensors; attribute
/// body (inputs: the states, one slice per scanned tensor; outputs: the states, then one
/// element per scan output), with per-input and per-output axes and directions.
pub(super) fn import_scan(
    cx: &ModelCx,
    scope: &mut Scope,
    node: &OnnxNode,
    inputs: Vec<Option<ValueId>>,
) -> Result<(), Error> {
    if node.opset < 9 {
        // Scan-8 (a batch axis and sequence_lens) is another op.
        return Err(Error::UnsupportedOp {
            op: "Scan".into(),
            domain: "ai.onnx".into(),
            opset: node.opset,
            node: node.name.clone(),
        });
    }
    let proto = body(node, "body")?;
    let m = node
        .int_opt("num_scan_inputs")?
        .ok_or_else(|| node.attr_error("num_scan_inputs", "the attribute is missing"))?;
    let n_in = inputs.len();
    if m < 1 || m as usize > n_in || inputs.iter().any(Option::is_none) {
        return Err(node.attr_error(
            "num_scan_inputs",
            format!("{m} scanned inputs of {n_in} inputs (none may be omitted)"),
        ));
    }
    let (scan_inputs, states) = (m as usize, n_in - m as usize);
    let outputs = node.proto.output.len();
    if proto.input.len() != n_in || proto.output.len() != outputs || outputs < states {
        return Err(node.attr_error(
            "body",
            format!(
                "the body has {} inputs and {} outputs; the node has {n_in} inputs, {states} of them states, and {outputs} outputs",
                proto.input.len(),
                proto.output.len()
            ),
        ));
    }
    let k = outputs - states;
    let list = |name: &str, n: usize| -> Result<Vec<i64>, Error> {
        let v = node.ints(name)?.unwrap_or_else(|| vec![0; n]);
        if v.len() != n {
            return Err(node.attr_error(name, format!("{} values, expected {n}", v.len())));
        }
        Ok(v)
    };
    let reverse = |name: &str, n: usize| -> Result<Vec<bool>, Error> {
        list(name, n)?
            .into_iter()
            .map(|d| match d {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(node.attr_error(name, format!("direction {d} is neither 0 nor 1"))),
            })
            .collect()
    };
    let attrs_without_body = ScanAttrs {
        body: Box::default(),
        states,
        scan_inputs,
        input_axes: list("scan_input_axes", scan_inputs)?,
        input_reverse: reverse("scan_input_directions", scan_inputs)?,
        output_axes: list("scan_output_axes", k)?,
        output_reverse: reverse("scan_output_directions", k)?,
    };
    let graph = {
        let sees = |n: &str| scope.sees(n);
        import_graph(cx, proto, Some(&sees))?
    };
    let names = capture_names(&[&graph], n_in);
    let op = Op::Scan(ScanAttrs {
        body: Box::new(graph),
        ..attrs_without_body
    });
    add_with_captures(scope, node, op, inputs, &names)
}

/// Loop: inputs max_trip_count?, cond?, then the carried values; attribute body (inputs: the
/// iteration number, the condition, the carried values; outputs: the condition, the carried
/// values, then one element per scan output).
pub(super) fn import_loop(
    cx: &ModelCx,
    scope: &mut Scope,
    node: &OnnxNode,
    mut inputs: Vec<Option<ValueId>>,
) -> Result<(), Error> {
    let proto = body(node, "body")?;
    inputs.resize(inputs.len().max(2), None);
    let carried = inputs.len() - 2;
    if inputs[2..].iter().any(Option::is_none) {
        return Err(node.error("a carried value of Loop is omitted"));
    }
    let outputs = node.proto.output.len();
    if proto.input.len() != 2 + carried || proto.output.len() != 1 + outputs || outputs < carried {
        return Err(node.attr_error(
            "body",
            format!(
                "the body has {} inputs and {} outputs; with {carried} carried values and {outputs} node outputs it needs {} and {}",
                proto.input.len(),
                proto.output.len(),
                2 + carried,
                1 + outputs
            ),
        ));
    }
    let graph = {
        let sees = |n: &str| scope.sees(n);
        import_graph(cx, proto, Some(&sees))?
    };
    let names = capture_names(&[&graph], 2 + carried);
    let op = Op::Loop {
        body: Box::new(graph),
        carried,
    };
    add_with_captures(scope, node, op, inputs, &names)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_loops;
