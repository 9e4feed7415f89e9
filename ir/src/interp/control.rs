//! Control flow: a body graph runs through the interpreter on the node's inputs.

use crate::error::OpError;
use crate::graph::Graph;
use crate::infer::scan_axis;
use crate::interp::req;
use crate::op::ScanAttrs;
use crate::op_bail;
use crate::tensor::Tensor;
use std::sync::Arc;

/// Runs `body` with `inputs` bound to its inputs in order; its outputs in order.
pub(crate) fn run_body(body: &Graph, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    if inputs.len() != body.inputs.len() {
        op_bail!(
            "the body '{}' has {} inputs, the node gives it {}",
            body.name,
            body.inputs.len(),
            inputs.len()
        );
    }
    // Bound by position: one copy of each input, no lookup by name.
    let bound = inputs.iter().map(|&t| Arc::new(t.clone())).collect();
    let (outs, _) = crate::interp::run_inputs(body, bound)
        .map_err(|e| OpError::new(format!("in '{}': {e}", body.name)))?;
    Ok(outs.into_iter().map(|(_, t)| t).collect())
}

/// The captured inputs after the first `skip`, all required.
fn captures<'a>(inputs: &[Option<&'a Tensor>], skip: usize) -> Result<Vec<&'a Tensor>, OpError> {
    (skip..inputs.len()).map(|i| req(inputs, i)).collect()
}

/// If: the branch `cond` (one bool) selects, run on the captured values.
pub fn if_(
    then_branch: &Graph,
    else_branch: &Graph,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let cond = req(inputs, 0)?;
    if cond.dtype() != crate::dtype::DType::Bool || cond.len() != 1 {
        op_bail!(
            "cond must be one bool, got {} of shape {:?}",
            cond.dtype(),
            cond.shape()
        );
    }
    let branch = if cond.to_f64_vec()[0] != 0.0 {
        then_branch
    } else {
        else_branch
    };
    run_body(branch, &captures(inputs, 1)?)
}

/// Slice `t` of `x` along `axis` (the axis removed).
fn slice_at(x: &Tensor, axis: usize, t: usize) -> Result<Tensor, OpError> {
    let (outer, len, inner) = crate::interp::util::outer_axis_inner(x.shape(), axis);
    let idx: Vec<usize> = (0..outer)
        .flat_map(|o| (0..inner).map(move |i| (o * len + t) * inner + i))
        .collect();
    let mut shape = x.shape().to_vec();
    shape.remove(axis);
    Tensor::new(x.dtype(), shape, x.data().gather(&idx))
}

/// `elems` (one shape) stacked along a new `axis`.
fn stack(elems: &[Tensor], axis: usize) -> Result<Tensor, OpError> {
    let unsqueezed: Vec<Tensor> = elems
        .iter()
        .map(|e| {
            let mut shape = e.shape().to_vec();
            shape.insert(axis, 1);
            Tensor::new(e.dtype(), shape, e.data().clone())
        })
        .collect::<Result<_, _>>()?;
    let refs: Vec<Option<&Tensor>> = unsqueezed.iter().map(Some).collect();
    let mut out = crate::interp::layout::concat(axis as i64, &refs)?;
    Ok(out.remove(0))
}

/// Scan: the body runs once per slice of the scanned inputs, threading the states.
pub fn scan(a: &ScanAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let formal = a.states + a.scan_inputs;
    let all = captures(inputs, 0)?;
    if all.len() < formal || a.input_axes.len() != a.scan_inputs {
        op_bail!(
            "Scan needs {} states and {} scanned inputs",
            a.states,
            a.scan_inputs
        );
    }
    let mut axes = Vec::with_capacity(a.scan_inputs);
    let mut length = None;
    for (j, x) in all[a.states..formal].iter().enumerate() {
        let axis = scan_axis(a.input_axes[j], x.shape().len())?;
        if x.shape().is_empty() {
            op_bail!("scanned input {j} is a scalar");
        }
        let len = x.shape()[axis];
        if length.is_some_and(|l| l != len) {
            op_bail!(
                "scanned inputs have lengths {} and {len}",
                length.unwrap_or(0)
            );
        }
        length = Some(len);
        axes.push(axis);
    }
    let length = length.unwrap_or(0);
    let mut states: Vec<Tensor> = all[..a.states].iter().map(|&t| t.clone()).collect();
    let mut elems: Vec<Vec<Tensor>> = vec![Vec::new(); a.output_axes.len()];
    for t in 0..length {
        let slices: Vec<Tensor> = all[a.states..formal]
            .iter()
            .enumerate()
            .map(|(j, x)| {
                let at = if a.input_reverse[j] {
                    length - 1 - t
                } else {
                    t
                };
                slice_at(x, axes[j], at)
            })
            .collect::<Result<_, _>>()?;
        let args: Vec<&Tensor> = states
            .iter()
            .chain(&slices)
            .chain(all[formal..].iter().copied())
            .collect();
        let mut out = run_body(&a.body, &args)?;
        if out.len() != a.states + elems.len() {
            op_bail!(
                "the body gave {} outputs, expected {} states and {} scan outputs",
                out.len(),
                a.states,
                elems.len()
            );
        }
        for (k, e) in out.drain(a.states..).enumerate() {
            elems[k].push(e);
        }
        states = out;
    }
    let mut result = states;
    for (k, mut es) in elems.into_iter().enumerate() {
        if es.is_empty() {
            op_bail!("Scan over zero slices: the scan outputs' shapes are unknown");
        }
        if a.output_reverse[k] {
            es.reverse();
        }
        let rank = es[0].shape().len();
        if es.iter().any(|e| e.shape() != es[0].shape()) {
            op_bail!("scan output {k} has elements of different shapes");
        }
        result.push(stack(&es, scan_axis(a.output_axes[k], rank + 1)?)?);
    }
    Ok(result)
}

/// A counter input of a Loop body: `v` as an i64 or bool tensor of `ty`'s shape.
fn counter(ty: &crate::shape::TensorType, v: f64) -> Result<Tensor, OpError> {
    let shape = vec![1; ty.rank().unwrap_or(0)];
    Tensor::from_f64(ty.dtype, shape, &[v])
}

/// Loop: the body runs while the iteration count is below the trip count (when given) and
/// the condition (when given, then the body's) holds, threading the carried values.
pub fn loop_(
    body: &Graph,
    carried: usize,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let scalar = |t: &Tensor, what: &str| -> Result<f64, OpError> {
        match t.to_f64_vec()[..] {
            [v] => Ok(v),
            _ => op_bail!("{what} must hold one element, got shape {:?}", t.shape()),
        }
    };
    let trip = inputs
        .first()
        .copied()
        .flatten()
        .map(|m| scalar(m, "the trip count"))
        .transpose()?;
    let mut cond = match inputs.get(1).copied().flatten() {
        Some(c) => scalar(c, "cond")? != 0.0,
        None => true,
    };
    let all = captures(inputs, 2)?;
    if all.len() < carried {
        op_bail!("Loop needs {carried} carried values");
    }
    let iter_ty = crate::infer::loop_counter_type(body, 0, crate::dtype::DType::I64);
    let cond_ty = crate::infer::loop_counter_type(body, 1, crate::dtype::DType::Bool);
    let mut values: Vec<Tensor> = all[..carried].iter().map(|&t| t.clone()).collect();
    let mut elems: Vec<Vec<Tensor>> = Vec::new();
    let mut i = 0i64;
    while cond && trip.is_none_or(|m| (i as f64) < m) {
        let (it, c) = (counter(&iter_ty, i as f64)?, counter(&cond_ty, 1.0)?);
        let args: Vec<&Tensor> = [&it, &c]
            .into_iter()
            .chain(&values)
            .chain(all[carried..].iter().copied())
            .collect();
        let mut out = run_body(body, &args)?.into_iter();
        let next_cond = out
            .next()
            .ok_or_else(|| OpError::new("the body gave no condition"))?;
        cond = scalar(&next_cond, "the body's cond")? != 0.0;
        values = out.by_ref().take(carried).collect();
        if values.len() != carried {
            op_bail!("the body gave fewer than {carried} carried values");
        }
        let step: Vec<Tensor> = out.collect();
        if elems.is_empty() {
            elems = vec![Vec::new(); step.len()];
        }
        if step.len() != elems.len() {
            op_bail!(
                "the body gave {} scan outputs, then {}",
                elems.len(),
                step.len()
            );
        }
        for (k, e) in step.into_iter().enumerate() {
            elems[k].push(e);
        }
        i += 1;
    }
    let scan_outputs = body.outputs.len().saturating_sub(1 + carried);
    let mut result = values;
    for k in 0..scan_outputs {
        let es = elems.get(k).map(Vec::as_slice).unwrap_or_default();
        let Some(first) = es.first() else {
            op_bail!("Loop ran no iteration: the scan outputs' shapes are unknown");
        };
        if es.iter().any(|e| e.shape() != first.shape()) {
            op_bail!("scan output {k} has elements of different shapes");
        }
        result.push(stack(es, 0)?);
    }
    Ok(result)
}
