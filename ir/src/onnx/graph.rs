//! One ONNX graph to an IR [`Graph`]: the model's top-level graph, or the body of a
//! control-flow node. A body reads the values of enclosing graphs by name; each such name
//! becomes a *capture*: an input of the body after its own, which the node feeds from the
//! enclosing graph (capturing it in turn when that graph is itself a body).

use super::node::{Emitter, OnnxNode};
use super::ops::Registry;
use super::proto::{GraphProto, ModelProto, NodeProto};
use super::{constant_value, tensor_from_proto, value_type};
use crate::error::Error;
use crate::graph::{Graph, ValueId};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// What importing any graph of a model needs.
pub(super) struct ModelCx<'a> {
    pub model: &'a ModelProto,
    pub opset: i64,
    pub base_dir: Option<&'a Path>,
    pub registry: &'a Registry,
}

/// Whether a name is a value of some enclosing graph.
pub(super) type Outer<'a> = &'a dyn Fn(&str) -> bool;

/// A graph being imported: its values by ONNX name.
pub(super) struct Scope<'a> {
    pub graph: Graph,
    pub names: HashMap<String, ValueId>,
    /// `None` for the top-level graph, whose every name must be its own.
    outer: Option<Outer<'a>>,
}

impl Scope<'_> {
    /// The value named `name`: this graph's, or a capture of an enclosing graph's.
    pub fn resolve(&mut self, name: &str) -> Option<ValueId> {
        if let Some(&v) = self.names.get(name) {
            return Some(v);
        }
        if !self.outer.is_some_and(|o| o(name)) {
            return None;
        }
        // Untyped until the node that runs the body types it from what it reads.
        let v = self.graph.add_untyped_input(name);
        self.names.insert(name.to_string(), v);
        Some(v)
    }

    /// Whether `name` is visible here: this graph's or an enclosing one's.
    pub fn sees(&self, name: &str) -> bool {
        self.names.contains_key(name) || self.outer.is_some_and(|o| o(name))
    }
}

/// Imports `g`. With `outer`, `g` is a body: its declared inputs come first, then one input
/// per enclosing value it reads (named as that value), in order of first use.
pub(super) fn import_graph(
    cx: &ModelCx,
    g: &GraphProto,
    outer: Option<Outer>,
) -> Result<Graph, Error> {
    let mut scope = Scope {
        graph: Graph::new(g.name.clone()),
        names: HashMap::new(),
        outer,
    };
    for init in &g.initializer {
        let t = tensor_from_proto(init, cx.base_dir)?;
        if scope.names.contains_key(&init.name) {
            return Err(Error::Model(format!(
                "initializer '{}' is defined twice",
                init.name
            )));
        }
        let id = scope.graph.add_constant(init.name.clone(), t);
        scope.names.insert(init.name.clone(), id);
    }
    if !g.sparse_initializer.is_empty() {
        return Err(Error::Model("sparse initializers are not supported".into()));
    }
    for input in &g.input {
        if scope.names.contains_key(&input.name) {
            // An input with an initializer: the initializer is its value.
            continue;
        }
        let id = if scope.outer.is_some() {
            // A body's inputs take the types of what the node feeds them (ONNX lets a body
            // leave them undeclared), so a declaration is not required.
            let id = scope.graph.add_untyped_input(input.name.clone());
            scope.graph.value_mut(id).ty = value_type(input).ok();
            id
        } else {
            scope
                .graph
                .add_input(input.name.clone(), value_type(input)?)
        };
        scope.names.insert(input.name.clone(), id);
    }

    let order = topological_order(&g.node, &|n| scope.sees(n))?;
    for &i in &order {
        import_node(cx, &mut scope, &g.node[i], i)?;
    }

    for out in &g.output {
        let id = scope.resolve(&out.name).ok_or_else(|| {
            Error::Model(format!(
                "graph output '{}' is produced by no node, input or initializer",
                out.name
            ))
        })?;
        scope.graph.outputs.push(id);
    }
    Ok(scope.graph)
}

/// Adds node `n` (number `i` in its graph) to `scope`.
fn import_node(cx: &ModelCx, scope: &mut Scope, n: &NodeProto, i: usize) -> Result<(), Error> {
    let node_name = node_label(n, i);
    let domain = if n.domain == "ai.onnx" {
        ""
    } else {
        n.domain.as_str()
    };
    let unsupported = |opset: i64| Error::UnsupportedOp {
        op: n.op_type.clone(),
        domain: if domain.is_empty() {
            "ai.onnx".into()
        } else {
            domain.to_string()
        },
        opset,
        node: node_name.clone(),
    };
    if !domain.is_empty() {
        let v = cx
            .model
            .opset_import
            .iter()
            .find(|o| o.domain == domain)
            .map_or(0, |o| o.version);
        return Err(unsupported(v));
    }
    let mut inputs = Vec::with_capacity(n.input.len());
    for name in &n.input {
        inputs.push(if name.is_empty() {
            None
        } else {
            Some(
                scope
                    .resolve(name)
                    .ok_or_else(|| dangling(&node_name, &n.op_type, name))?,
            )
        });
    }
    if n.op_type == "Constant" {
        let t = constant_value(n, &node_name, cx.opset, cx.base_dir)?;
        let out = n
            .output
            .first()
            .ok_or_else(|| Error::Model(format!("Constant node '{node_name}' has no output")))?;
        let id = scope.graph.add_constant(out.clone(), t);
        scope.names.insert(out.clone(), id);
        return Ok(());
    }
    let onnx_node = OnnxNode {
        proto: n,
        name: node_name.clone(),
        opset: cx.opset,
        base_dir: cx.base_dir,
    };
    match n.op_type.as_str() {
        "If" => return super::control::import_if(cx, scope, &onnx_node, inputs),
        "Scan" => return super::control::import_scan(cx, scope, &onnx_node, inputs),
        "Loop" => return super::control::import_loop(cx, scope, &onnx_node, inputs),
        _ => {}
    }
    let Some(import) = cx.registry.get(n.op_type.as_str()) else {
        return Err(unsupported(cx.opset));
    };
    if n.attribute
        .iter()
        .any(|a| a.g.is_some() || !a.graphs.is_empty())
    {
        return Err(unsupported(cx.opset));
    }
    let first_new = scope.graph.nodes.len();
    let mut emitter = Emitter {
        graph: &mut scope.graph,
        inputs,
        output_names: n.output.clone(),
        node_name: node_name.clone(),
        finished: false,
        count: 0,
    };
    import(&onnx_node, &mut emitter)?;
    if !emitter.finished {
        return Err(Error::Model(format!(
            "importer of {} did not finish node '{node_name}'",
            n.op_type
        )));
    }
    debug_assert!(scope.graph.nodes.len() > first_new, "node {i} added");
    let last = scope.graph.nodes.last().expect("finish added a node");
    for (name, &v) in n.output.iter().zip(&last.outputs.clone()) {
        if !name.is_empty() {
            scope.names.insert(name.clone(), v);
        }
    }
    Ok(())
}

/// The names a graph reads without defining them: its nodes' inputs and its bodies' free
/// names, less its inputs, initializers and node outputs.
pub(super) fn free_names(g: &GraphProto) -> Vec<String> {
    let defined: HashSet<&str> = g
        .input
        .iter()
        .map(|v| v.name.as_str())
        .chain(g.initializer.iter().map(|t| t.name.as_str()))
        .chain(
            g.node
                .iter()
                .flat_map(|n| n.output.iter().map(String::as_str)),
        )
        .collect();
    let mut seen = HashSet::new();
    let mut free = Vec::new();
    for name in g
        .node
        .iter()
        .flat_map(node_reads)
        .chain(g.output.iter().map(|o| o.name.clone()))
    {
        if !name.is_empty() && !defined.contains(name.as_str()) && seen.insert(name.clone()) {
            free.push(name);
        }
    }
    free
}

/// Every name a node reads: its inputs, then its bodies' free names.
fn node_reads(n: &NodeProto) -> Vec<String> {
    let bodies = n.attribute.iter().flat_map(|a| a.g.iter().chain(&a.graphs));
    n.input
        .iter()
        .cloned()
        .chain(bodies.flat_map(free_names))
        .collect()
}

pub(super) fn node_label(n: &NodeProto, i: usize) -> String {
    if !n.name.is_empty() {
        n.name.clone()
    } else if let Some(o) = n.output.iter().find(|o| !o.is_empty()) {
        format!("{}:{o}", n.op_type)
    } else {
        format!("{}#{i}", n.op_type)
    }
}

fn dangling(node: &str, op: &str, value: &str) -> Error {
    Error::Model(format!(
        "node '{node}' ({op}) reads '{value}', which no node, graph input or initializer produces"
    ))
}

/// Orders nodes so each comes after the producers of what it reads (its inputs and its
/// bodies' free names); keeps file order otherwise. `known` says which names are defined
/// without a node (inputs, initializers, enclosing graphs' values).
fn topological_order(
    nodes: &[NodeProto],
    known: &dyn Fn(&str) -> bool,
) -> Result<Vec<usize>, Error> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if known(o) {
                return Err(Error::Model(format!(
                    "value '{o}' is both a graph input or initializer and an output of node '{}'",
                    node_label(n, i)
                )));
            }
            if let Some(&j) = producer.get(o.as_str()) {
                return Err(Error::Model(format!(
                    "value '{o}' is produced by both node '{}' and node '{}'",
                    node_label(&nodes[j], j),
                    node_label(n, i)
                )));
            }
            producer.insert(o, i);
        }
    }
    let reads: Vec<Vec<String>> = nodes.iter().map(node_reads).collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark = vec![Mark::New; nodes.len()];
    let mut order = Vec::with_capacity(nodes.len());
    for root in 0..nodes.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next read to visit).
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Active;
        while let Some((n, k)) = stack.pop() {
            if k < reads[n].len() {
                stack.push((n, k + 1));
                let name = &reads[n][k];
                if name.is_empty() || (known(name) && !producer.contains_key(name.as_str())) {
                    continue;
                }
                let Some(&p) = producer.get(name.as_str()) else {
                    return Err(dangling(&node_label(&nodes[n], n), &nodes[n].op_type, name));
                };
                match mark[p] {
                    Mark::New => {
                        mark[p] = Mark::Active;
                        stack.push((p, 0));
                    }
                    Mark::Active => {
                        return Err(Error::Model(format!(
                            "the graph has a cycle through node '{}' ({})",
                            node_label(&nodes[p], p),
                            nodes[p].op_type
                        )));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[n] = Mark::Done;
                order.push(n);
            }
        }
    }
    Ok(order)
}
