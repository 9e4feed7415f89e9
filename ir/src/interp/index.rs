//! Indexing ops: gather and scatter variants, OneHot, NonZero, Resize, Compress, ReverseSequence.
#![allow(unused_variables, unused_imports)]
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::tensor::Tensor;

pub fn gather(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn gather_elements(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn gather_nd(batch_dims: usize, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn scatter_elements(axis: i64, reduction: ScatterReduction, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn scatter_nd(reduction: ScatterReduction, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn one_hot(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn non_zero(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn resize(a: &ResizeAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn compress(axis: Option<i64>, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn reverse_sequence(batch_axis: i64, time_axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}
