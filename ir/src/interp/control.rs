//! Control flow: a body graph runs through the interpreter on the node's inputs.

use crate::error::OpError;
use crate::graph::Graph;
use crate::interp::req;
use crate::op_bail;
use crate::tensor::Tensor;
use std::collections::HashMap;

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
    let feeds: HashMap<String, Tensor> = body
        .inputs
        .iter()
        .zip(inputs)
        .map(|(&v, &t)| (body.value(v).name.clone(), t.clone()))
        .collect();
    let outs = crate::interp::run(body, &feeds)
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
