//! Shape and dtype rules for: matMul, Gemm, Einsum and the integer matmuls.
#![allow(unused_variables, unused_imports)]
use super::Known;
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::shape::{Dim, Shape, TensorType};
use crate::tensor::Tensor;

pub fn matmul(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn gemm(a: &GemmAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn einsum(equation: &str, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn matmul_integer(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn qlinear_matmul(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}
