//! Large graph outputs that a view op would produce are written by an exact `Mul` by one.
//!
//! A runtime cannot let a graph output alias the tensor it views (the caller owns the output
//! buffer), so ONNX Runtime's CPU provider copies a `Reshape` output with one thread's `memcpy`,
//! while an elementwise op is split across its threads. On the lent 16-core Xeon with two
//! threads an 8 MB output took 0.73 ms as a `Reshape` and 0.38 ms as a `Mul` by one; the
//! Kronecker application ends in such a `Reshape`, and the copy was a fifth of its time.
//!
//! `x * 1 == x` bit for bit in IEEE arithmetic (signed zeros, infinities and NaNs included),
//! so the exported model computes exactly what the graph does.

use super::Writer;
use crate::dtype::DType;
use crate::onnx::proto::NodeProto;
use crate::onnx::tensor_to_proto;
use crate::shape::concrete;
use crate::tensor::Tensor;

/// Ops whose output is a view of their first input: the runtime copies them as graph outputs.
const VIEW_OPS: [&str; 5] = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"];

/// Outputs with fewer elements stay as written: a copy that small costs less than scheduling
/// another node.
const MIN_ELEMENTS: usize = 1 << 16;

impl Writer<'_> {
    /// Rewrites every large f32/f64 graph output written by a view op (`VIEW_OPS`): the view
    /// writes an internal value and a `Mul` by one, placed right after it so the node order
    /// stays topological, writes the output under its own name. An output listed twice is
    /// rewritten once: the second time its writer is the `Mul`.
    pub(super) fn parallel_view_outputs(&mut self) {
        let g = self.graph;
        for &v in &g.outputs {
            let Some(ty) = g.value(v).ty.as_ref() else {
                continue;
            };
            if !matches!(ty.dtype, DType::F32 | DType::F64) {
                continue;
            }
            let numel = ty.shape.as_deref().and_then(concrete);
            if numel.is_some_and(|d| d.iter().product::<usize>() < MIN_ELEMENTS) {
                continue;
            }
            let Ok(one) = Tensor::from_f64(ty.dtype, vec![], &[1.0]) else {
                continue;
            };
            let out = self.names[v.index()].clone();
            let Some(pos) = self.nodes.iter().position(|n| {
                VIEW_OPS.contains(&n.op_type.as_str()) && n.output.first() == Some(&out)
            }) else {
                continue;
            };
            let view = self.unique_value_name(format!("{out}/view"));
            let init = self.unique_value_name(format!("{out}/one"));
            let name = self.unique_node_name(format!("{out}/write"));
            self.nodes[pos].output[0] = view.clone();
            self.initializers.push(tensor_to_proto(&init, &one));
            self.nodes.insert(
                pos + 1,
                NodeProto {
                    name,
                    op_type: "Mul".into(),
                    input: vec![view, init],
                    output: vec![out],
                    ..NodeProto::default()
                },
            );
        }
    }
}
