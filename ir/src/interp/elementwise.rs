//! Elementwise kernels: unary math and activations, binary arithmetic, comparison, logic and bitwise ops with numpy broadcasting, Where, Clip, Cast.
#![allow(unused_variables, unused_imports)]
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::tensor::Tensor;

pub fn unary(op: UnaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn binary(op: BinaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn where_(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn clip(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn cast(to: DType, saturate: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn cast_like(saturate: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}
