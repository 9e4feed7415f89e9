//! Shape and dtype rules for: quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
#![allow(unused_variables, unused_imports)]
use super::Known;
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::shape::{Dim, Shape, TensorType};
use crate::tensor::Tensor;

pub fn quantize_linear(a: &QuantAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn dequantize_linear(a: &QuantAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn dynamic_quantize_linear(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}
