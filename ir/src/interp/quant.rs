//! Quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
#![allow(unused_variables, unused_imports)]
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::tensor::Tensor;

pub fn quantize_linear(a: &QuantAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn dequantize_linear(a: &QuantAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn dynamic_quantize_linear(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}
