//! ONNX export of control flow: If, its branches as graph attributes.

use super::cx::{Cx, Lowered, Spec};
use crate::error::Error;
use crate::graph::Graph;
use crate::onnx::proto::{AttributeProto, GraphProto, attribute_proto::AttributeType};
use crate::shape::TensorType;

/// A graph attribute.
fn graph_attr(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Graph as i32,
        g: Some(g),
        ..AttributeProto::default()
    }
}

/// `body` typed from the node's captured inputs `from..` where they are typed (so the
/// subgraph declares its outputs' types), else as stored.
fn typed(cx: &Cx, body: &Graph, from: usize) -> Graph {
    let tys: Option<Vec<TensorType>> = (from..cx.n_inputs())
        .map(|i| cx.input_type(i).cloned())
        .collect();
    tys.and_then(|t| crate::infer::typed_body(body, &t).ok())
        .unwrap_or_else(|| body.clone())
}

pub(super) fn if_(cx: &mut Cx, then_branch: &Graph, else_branch: &Graph) -> Result<Lowered, Error> {
    let names = cx.input_names();
    let (cond, captured) = names
        .split_first()
        .ok_or_else(|| Error::Model("cannot export to ONNX: If has no cond".into()))?;
    let then_g = typed(cx, then_branch, 1);
    let else_g = typed(cx, else_branch, 1);
    let mut spec = Spec::new("If");
    spec.attrs.push(graph_attr(
        "then_branch",
        cx.w.subgraph(&then_g, 0, captured)?,
    ));
    spec.attrs.push(graph_attr(
        "else_branch",
        cx.w.subgraph(&else_g, 0, captured)?,
    ));
    let outputs = cx.output_names();
    cx.emit(spec, vec![cond.clone()], outputs);
    Ok(Lowered::Written)
}
