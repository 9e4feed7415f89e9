//! Shape and dtype rules for: layout ops: reshape, transpose, concat, split, slice, pad, tile, expand and the shape-producing ops.
#![allow(unused_variables, unused_imports)]
use super::Known;
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::shape::{Dim, Shape, TensorType};
use crate::tensor::Tensor;

pub fn reshape(allowzero: bool, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn transpose(perm: Option<&[usize]>, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn squeeze(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn unsqueeze(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn flatten(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn concat(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn split(axis: i64, num_outputs: usize, inputs: &[Option<Known>], n_outputs: usize) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn slice(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn expand(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn tile(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn pad(mode: PadMode, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn shape(start: i64, end: Option<i64>, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn size(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn constant_of_shape(value: &Tensor, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn range(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn identity(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn trilu(upper: bool, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn depth_to_space(blocksize: usize, mode: DepthToSpaceMode, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn space_to_depth(blocksize: usize, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn eye_like(dtype: Option<DType>, k: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}
