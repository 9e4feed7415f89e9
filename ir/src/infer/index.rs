//! Shape and dtype rules for: indexing ops: gather and scatter variants, OneHot, NonZero, Resize, Compress, ReverseSequence.
#![allow(unused_variables, unused_imports)]
use super::Known;
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::shape::{Dim, Shape, TensorType};
use crate::tensor::Tensor;

pub fn gather(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn gather_elements(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn gather_nd(batch_dims: usize, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn scatter_elements(axis: i64, reduction: ScatterReduction, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn scatter_nd(reduction: ScatterReduction, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn one_hot(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn non_zero(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn resize(a: &ResizeAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn compress(axis: Option<i64>, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn reverse_sequence(batch_axis: i64, time_axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}
