//! Layout ops: reshape, transpose, concat, split, slice, pad, tile, expand and the shape-producing ops.
#![allow(unused_variables, unused_imports)]
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::tensor::Tensor;

pub fn reshape(allowzero: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn transpose(perm: Option<&[usize]>, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn squeeze(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn unsqueeze(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn flatten(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn concat(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn split(axis: i64, num_outputs: usize, inputs: &[Option<&Tensor>], n_outputs: usize) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn slice(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn expand(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn tile(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn pad(mode: PadMode, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn shape(start: i64, end: Option<i64>, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn size(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn constant_of_shape(value: &Tensor, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn range(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn identity(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn trilu(upper: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn depth_to_space(blocksize: usize, mode: DepthToSpaceMode, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn space_to_depth(blocksize: usize, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn eye_like(dtype: Option<DType>, k: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}
