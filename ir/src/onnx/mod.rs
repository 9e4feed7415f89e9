//! ONNX import in pure Rust: `ModelProto` bytes to a checked, typed [`Graph`].
//!
//! The default domain (`""` / `ai.onnx`) is supported at opsets 1 to [`MAX_OPSET`]. Ops are
//! registered one line each in the per-family files under `ops/`. Nodes may appear in any
//! order; they are sorted topologically and a cycle is an error. Every failure is an
//! [`Error`] naming the node, op or tensor involved: import never panics on bad bytes.

pub mod export;
mod node;
pub mod ops;
pub mod proto;
mod tensor;

pub use export::{ExportOptions, export_model, export_model_with, export_proto, export_proto_with};
pub use node::{Emitter, OnnxNode};
pub use tensor::{dtype_from_onnx, dtype_to_onnx, tensor_from_proto, tensor_to_proto};

use crate::error::Error;
use crate::graph::{Graph, ValueId};
use crate::infer;
use crate::shape::{Dim, TensorType};
use crate::tensor::Tensor;
use prost::Message;
use proto::{ModelProto, NodeProto, TypeProto, ValueInfoProto, type_proto};
use std::collections::HashMap;
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
    let mut graph = Graph::new(g.name.clone());
    let mut names: HashMap<String, ValueId> = HashMap::new();

    for init in &g.initializer {
        let t = tensor_from_proto(init, base_dir)?;
        if names.contains_key(&init.name) {
            return Err(Error::Model(format!(
                "initializer '{}' is defined twice",
                init.name
            )));
        }
        let id = graph.add_constant(init.name.clone(), t);
        names.insert(init.name.clone(), id);
    }
    if !g.sparse_initializer.is_empty() {
        return Err(Error::Model("sparse initializers are not supported".into()));
    }
    for input in &g.input {
        if names.contains_key(&input.name) {
            // An input with an initializer: the initializer is its value.
            continue;
        }
        let ty = value_type(input)?;
        let id = graph.add_input(input.name.clone(), ty);
        names.insert(input.name.clone(), id);
    }

    let order = topological_order(&g.node, &names)?;
    for (k, &i) in order.iter().enumerate() {
        let n = &g.node[i];
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
            let v = model
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
                    *names
                        .get(name)
                        .ok_or_else(|| dangling(&node_name, &n.op_type, name))?,
                )
            });
        }
        if n.op_type == "Constant" {
            let t = constant_value(n, &node_name, opset, base_dir)?;
            let out = n.output.first().ok_or_else(|| {
                Error::Model(format!("Constant node '{node_name}' has no output"))
            })?;
            let id = graph.add_constant(out.clone(), t);
            names.insert(out.clone(), id);
            continue;
        }
        let Some(import) = registry.get(n.op_type.as_str()) else {
            return Err(unsupported(opset));
        };
        if let Some(a) = n
            .attribute
            .iter()
            .find(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            let _ = a;
            return Err(unsupported(opset));
        }
        let onnx_node = OnnxNode {
            proto: n,
            name: node_name.clone(),
            opset,
            base_dir,
        };
        let first_new = graph.nodes.len();
        let mut emitter = Emitter {
            graph: &mut graph,
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
        let last = graph.nodes.last().expect("finish added a node");
        for (name, &v) in n.output.iter().zip(&last.outputs.clone()) {
            if !name.is_empty() {
                names.insert(name.clone(), v);
            }
        }
        debug_assert!(graph.nodes.len() > first_new, "node {k} added");
    }

    for out in &g.output {
        let id = *names.get(&out.name).ok_or_else(|| {
            Error::Model(format!(
                "graph output '{}' is produced by no node, input or initializer",
                out.name
            ))
        })?;
        graph.outputs.push(id);
    }
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

fn node_label(n: &NodeProto, i: usize) -> String {
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

/// Orders nodes so each comes after the producers of its inputs; keeps file order otherwise.
fn topological_order(
    nodes: &[NodeProto],
    known: &HashMap<String, ValueId>,
) -> Result<Vec<usize>, Error> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if known.contains_key(o) {
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
        // Iterative DFS: (node, next input index to visit).
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Active;
        while let Some((n, k)) = stack.pop() {
            let inputs = &nodes[n].input;
            if k < inputs.len() {
                stack.push((n, k + 1));
                let name = &inputs[k];
                if name.is_empty() || known.contains_key(name) {
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

/// The declared type of a graph input.
fn value_type(v: &ValueInfoProto) -> Result<TensorType, Error> {
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
fn constant_value(
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
