//! Gated activations: SwiGLU.

use super::req;
use crate::error::OpError;
use crate::op_bail;
use crate::tensor::Tensor;

/// inputs: a (gate), b (value) of identical shapes; `y = a * sigmoid(alpha * a) * b`.
pub fn swiglu(alpha: f32, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let gate = req(inputs, 0)?;
    let value = req(inputs, 1)?;
    if gate.shape() != value.shape() {
        op_bail!(
            "SwiGLU inputs must have identical shapes (no broadcasting), got {:?} and {:?}",
            gate.shape(),
            value.shape()
        );
    }
    if !gate.dtype().is_float() || gate.dtype() != value.dtype() {
        op_bail!(
            "SwiGLU needs two inputs of one float dtype, got {} and {}",
            gate.dtype(),
            value.dtype()
        );
    }
    let alpha = f64::from(alpha);
    let y: Vec<f64> = gate
        .to_f64_vec()
        .iter()
        .zip(value.to_f64_vec())
        .map(|(&a, b)| a / (1.0 + (-alpha * a).exp()) * b)
        .collect();
    Ok(vec![Tensor::from_f64(
        gate.dtype(),
        gate.shape().to_vec(),
        &y,
    )?])
}
