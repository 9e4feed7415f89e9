//! Graph → e-graph: each value becomes an e-class; the names of graph inputs and outputs are
//! kept beside it so that the extracted graph has the same interface.

use crate::analysis::{EG, TensorAnalysis};
use crate::error::RewriteError;
use crate::lang::{Node, OpKey};
use egg::Id;
use ir::{Graph, Source, TensorType};

/// The interface of the source graph: what [`crate::emit`] needs to rebuild it.
#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    /// Graph inputs: name and declared type, in order.
    pub inputs: Vec<(String, TensorType)>,
    /// Graph outputs: name and the class that computes each.
    pub outputs: Vec<(String, Id)>,
    /// The source graph's node names, by the class each node was added to and its op, so that
    /// a node the optimizer keeps keeps its name (error messages name the user's nodes).
    pub node_names: Vec<(Id, OpKey, String)>,
}

/// Builds the e-graph of a graph whose values all have types (run `ir::infer::infer_graph`
/// first).
pub fn build(graph: &Graph) -> Result<(EG, Interface), RewriteError> {
    let mut inputs = Vec::with_capacity(graph.inputs.len());
    for &i in &graph.inputs {
        let v = graph.value(i);
        let ty =
            v.ty.clone()
                .ok_or_else(|| RewriteError::Untyped(graph.value_label(i)))?;
        inputs.push((v.name.clone(), ty));
    }
    let analysis = TensorAnalysis {
        input_types: inputs.iter().map(|(_, t)| t.clone()).collect(),
        ..TensorAnalysis::default()
    };
    let mut egraph = EG::new(analysis);
    let mut class: Vec<Option<Id>> = vec![None; graph.values.len()];
    for (k, &i) in graph.inputs.iter().enumerate() {
        class[i.index()] = Some(egraph.add(Node::Input(k as u32)));
    }
    for (i, v) in graph.values.iter().enumerate() {
        if let Source::Constant(t) = &v.source {
            let c = egraph.analysis.pool.intern(t.clone(), &v.name);
            class[i] = Some(egraph.add(Node::Const(c)));
        }
    }
    let absent = egraph.add(Node::Absent);
    let mut node_names = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let mut children = Vec::with_capacity(node.inputs.len());
        for v in &node.inputs {
            children.push(match v {
                None => absent,
                Some(v) => class[v.index()].ok_or_else(|| {
                    RewriteError::Graph(format!(
                        "node '{}' reads '{}' before it is produced",
                        node.name,
                        graph.value_label(*v)
                    ))
                })?,
            });
        }
        let key = OpKey::new(node.op.clone(), node.outputs.len());
        let id = egraph.add(Node::Op(key.clone(), children));
        node_names.push((id, key, node.name.clone()));
        if node.outputs.len() == 1 {
            class[node.outputs[0].index()] = Some(id);
        } else {
            for (k, o) in node.outputs.iter().enumerate() {
                class[o.index()] = Some(egraph.add(Node::Output(k as u32, [id])));
            }
        }
    }
    let mut outputs = Vec::with_capacity(graph.outputs.len());
    for &o in &graph.outputs {
        let c = class[o.index()].ok_or_else(|| {
            RewriteError::Graph(format!(
                "graph output '{}' is produced by nothing",
                graph.value_label(o)
            ))
        })?;
        outputs.push((graph.value(o).name.clone(), c));
    }
    egraph.rebuild();
    let outputs = outputs
        .into_iter()
        .map(|(n, c)| (n, egraph.find(c)))
        .collect();
    Ok((
        egraph,
        Interface {
            name: graph.name.clone(),
            inputs,
            outputs,
            node_names,
        },
    ))
}
