//! ONNX export of control flow: If, Scan and Loop, their bodies as graph attributes.

use super::cx::{Cx, Lowered, Spec};
use crate::error::Error;
use crate::graph::Graph;
use crate::onnx::proto::{AttributeProto, GraphProto, attribute_proto::AttributeType};
use crate::op::ScanAttrs;
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

pub(super) fn scan(cx: &mut Cx, a: &ScanAttrs) -> Result<Lowered, Error> {
    let formal = a.states + a.scan_inputs;
    let names = cx.input_names();
    if names.len() < formal {
        return Err(cx.error(
            "cannot export to ONNX: Scan has fewer inputs than its states and scanned inputs",
        ));
    }
    let tys: Option<Vec<TensorType>> = (0..cx.n_inputs())
        .map(|i| cx.input_type(i).cloned())
        .collect();
    let body = tys
        .and_then(|t| crate::infer::scan_body_inputs(a, t).ok())
        .and_then(|(t, _)| crate::infer::typed_body(&a.body, &t).ok())
        .unwrap_or_else(|| (*a.body).clone());
    let graph = cx.w.subgraph(&body, formal, &names[formal..])?;
    let dirs = |r: &[bool]| r.iter().map(|&b| i64::from(b)).collect::<Vec<_>>();
    let mut spec = Spec::new("Scan")
        .since(11)
        .int("num_scan_inputs", a.scan_inputs as i64)
        .ints("scan_input_axes", &a.input_axes)
        .ints("scan_input_directions", &dirs(&a.input_reverse))
        .ints("scan_output_axes", &a.output_axes)
        .ints("scan_output_directions", &dirs(&a.output_reverse));
    spec.attrs.push(graph_attr("body", graph));
    let outputs = cx.output_names();
    cx.emit(spec, names[..formal].to_vec(), outputs);
    Ok(Lowered::Written)
}

pub(super) fn loop_(cx: &mut Cx, body: &Graph, carried: usize) -> Result<Lowered, Error> {
    let formal = 2 + carried;
    let names = cx.input_names();
    if names.len() < formal {
        return Err(cx.error(
            "cannot export to ONNX: Loop has fewer inputs than its counters and carried values",
        ));
    }
    let captured: Option<Vec<TensorType>> = (2..cx.n_inputs())
        .map(|i| cx.input_type(i).cloned())
        .collect();
    let typed = captured
        .and_then(|c| {
            let mut tys = vec![
                crate::infer::loop_counter_type(body, 0, crate::dtype::DType::I64),
                crate::infer::loop_counter_type(body, 1, crate::dtype::DType::Bool),
            ];
            tys.extend(c);
            crate::infer::typed_body(body, &tys).ok()
        })
        .unwrap_or_else(|| body.clone());
    let graph = cx.w.subgraph(&typed, formal, &names[formal..])?;
    let mut spec = Spec::new("Loop").since(11);
    spec.attrs.push(graph_attr("body", graph));
    let outputs = cx.output_names();
    cx.emit(spec, names[..formal].to_vec(), outputs);
    Ok(Lowered::Written)
}
