//! Weight-only nodes (every input known at compile time) are evaluated once, at lowering,
//! whatever their size; their outputs become constants like the model's initializers.
//!
//! Inference folds only small results (shape arithmetic). Left to the program, a large
//! weight-only node runs on every call: models that build a weight with `ConstantOfShape`
//! refilled a 150 MB fully-connected weight in each run, most of the run's time.

use ir::{Graph, Tensor};
use std::sync::Arc;

/// Results larger than this stay kernels: holding them for the program's life could cost
/// more memory than a machine has, while a kernel's output shares the arena with other temps.
const MAX_BYTES: usize = 1 << 30;

/// `known` extended with the outputs of every node whose inputs are all known, in graph
/// order (so chains of weight-only nodes fold through). A node the interpreter cannot
/// evaluate, or whose outputs exceed [`MAX_BYTES`], is left to run, and so is its error.
pub fn evaluate(graph: &Graph, known: &[Option<Arc<Tensor>>]) -> Vec<Option<Arc<Tensor>>> {
    let mut known = known.to_vec();
    for node in &graph.nodes {
        if node.outputs.iter().all(|o| known[o.index()].is_some()) {
            continue;
        }
        let mut inputs = Vec::with_capacity(node.inputs.len());
        for v in &node.inputs {
            match v {
                None => inputs.push(None),
                Some(v) => match &known[v.index()] {
                    Some(t) => inputs.push(Some(t.clone())),
                    None => break,
                },
            }
        }
        if inputs.len() < node.inputs.len() || !fits(graph, &node.outputs) {
            continue;
        }
        let refs: Vec<Option<&Tensor>> = inputs.iter().map(|t| t.as_deref()).collect();
        if let Ok(outs) = ir::interp::eval(&node.op, &refs, node.outputs.len()) {
            for (o, t) in node.outputs.iter().zip(outs) {
                known[o.index()] = Some(Arc::new(t));
            }
        }
    }
    known
}

/// Whether every output has a static type within [`MAX_BYTES`].
fn fits(graph: &Graph, outputs: &[ir::ValueId]) -> bool {
    outputs.iter().all(|&o| {
        graph.value(o).ty.as_ref().is_some_and(|ty| {
            ty.shape
                .as_deref()
                .and_then(ir::shape::concrete)
                .is_some_and(|s| ty.dtype.bytes_for(s.iter().product()) <= MAX_BYTES)
        })
    })
}
