//! A whole lowered graph: buffers and kernels in execution order.

use crate::kernel::buffer::{BufferDecl, BufferId, BufferKind};
use crate::kernel::kinds::Kernel;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The result of lowering a graph for one input-shape signature.
///
/// Invariants: `inputs[i]` is the buffer of kind `Input(i)`; `outputs[i]` holds graph output
/// `i` in row-major order (a buffer of kind `Output(i)`, or an input, constant or earlier
/// output buffer when the graph returns one unchanged), and `output_shapes[i]` is that output's
/// shape, which may differ from the buffer's own when the output is a reshape of what a kernel
/// wrote; a kernel runs after every kernel that writes a buffer it reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub buffers: Vec<BufferDecl>,
    pub kernels: Vec<Kernel>,
    pub inputs: Vec<BufferId>,
    pub outputs: Vec<BufferId>,
    /// The graph outputs' names, in order.
    pub output_names: Vec<String>,
    /// The graph outputs' shapes, in order.
    #[serde(default)]
    pub output_shapes: Vec<Vec<usize>>,
}

impl Program {
    pub fn buffer(&self, id: BufferId) -> &BufferDecl {
        &self.buffers[id.index()]
    }

    /// The shape of graph output `i`: `output_shapes[i]`, or its buffer's shape for a program
    /// built without output shapes.
    pub fn output_shape(&self, i: usize) -> &[usize] {
        match self.output_shapes.get(i) {
            Some(s) => s,
            None => &self.buffer(self.outputs[i]).shape,
        }
    }

    /// Adds a buffer and returns its id.
    pub fn add_buffer(&mut self, decl: BufferDecl) -> BufferId {
        self.buffers.push(decl);
        BufferId(self.buffers.len() as u32 - 1)
    }

    /// How many kernels of each kind, in a fixed order.
    pub fn kind_counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for k in &self.kernels {
            let label = k.kind.label();
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        counts
    }

    /// A one-line-per-kernel listing: kind, nodes fused, output shapes.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, k) in self.kernels.iter().enumerate() {
            let outs: Vec<String> = k
                .args
                .iter()
                .map(|&b| self.buffer(b))
                .filter(|b| matches!(b.kind, BufferKind::Temp | BufferKind::Output(_)))
                .map(|b| format!("{}{:?}", b.dtype, b.shape))
                .collect();
            let _ = writeln!(
                s,
                "  {i:>3} {:<9} {:<40} {}",
                k.kind.label(),
                k.nodes.join(" + "),
                outs.join(", ")
            );
        }
        s
    }
}
