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

/// The types of the node's inputs `from..`, when all are typed.
fn input_types(cx: &Cx, from: usize) -> Option<Vec<TensorType>> {
    (from..cx.n_inputs())
        .map(|i| cx.input_type(i).cloned())
        .collect()
}

/// `body` typed as `tys` say when they are known (so the subgraph declares its outputs'
/// types), else as stored.
fn typed(body: &Graph, tys: Option<Vec<TensorType>>) -> Graph {
    tys.and_then(|t| crate::infer::typed_body(body, &t).ok())
        .unwrap_or_else(|| body.clone())
}

/// Writes `spec` with `body` as its `body` attribute, reading the node's first `formal`
/// inputs (the rest are the body's captures).
fn emit_with_body(cx: &mut Cx, spec: Spec, body: &Graph, formal: usize) -> Result<Lowered, Error> {
    let names = cx.input_names();
    if names.len() < formal {
        return Err(cx.error(format!(
            "cannot export to ONNX: the node has {} inputs, its body {formal} of its own",
            names.len()
        )));
    }
    let graph = cx.w.subgraph(body, formal, &names[formal..])?;
    let mut spec = spec;
    spec.attrs.push(graph_attr("body", graph));
    let outputs = cx.output_names();
    cx.emit(spec, names[..formal].to_vec(), outputs);
    Ok(Lowered::Written)
}

pub(super) fn if_(cx: &mut Cx, then_branch: &Graph, else_branch: &Graph) -> Result<Lowered, Error> {
    let names = cx.input_names();
    let (cond, captured) = names
        .split_first()
        .ok_or_else(|| Error::Model("cannot export to ONNX: If has no cond".into()))?;
    let then_g = typed(then_branch, input_types(cx, 1));
    let else_g = typed(else_branch, input_types(cx, 1));
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
    let tys = input_types(cx, 0)
        .and_then(|t| crate::infer::scan_body_inputs(a, t).ok())
        .map(|(t, _)| t);
    let body = typed(&a.body, tys);
    let dirs = |r: &[bool]| r.iter().map(|&b| i64::from(b)).collect::<Vec<_>>();
    let spec = Spec::new("Scan")
        .since(11)
        .int("num_scan_inputs", a.scan_inputs as i64)
        .ints("scan_input_axes", &a.input_axes)
        .ints("scan_input_directions", &dirs(&a.input_reverse))
        .ints("scan_output_axes", &a.output_axes)
        .ints("scan_output_directions", &dirs(&a.output_reverse));
    emit_with_body(cx, spec, &body, a.states + a.scan_inputs)
}

pub(super) fn loop_(cx: &mut Cx, body: &Graph, carried: usize) -> Result<Lowered, Error> {
    let tys = input_types(cx, 2).map(|captured| {
        let mut tys = vec![
            crate::infer::loop_counter_type(body, 0, crate::dtype::DType::I64),
            crate::infer::loop_counter_type(body, 1, crate::dtype::DType::Bool),
        ];
        tys.extend(captured);
        tys
    });
    let body = typed(body, tys);
    emit_with_body(cx, Spec::new("Loop").since(11), &body, 2 + carried)
}
