//! Softmax family, normalizations, attention, rotary embedding, dropout (inference) and the loss ops.
#![allow(unused_variables, unused_imports)]
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::tensor::Tensor;

pub fn softmax(kind: SoftmaxKind, axis: i64, coerce_2d: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn batch_norm(epsilon: f32, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn instance_norm(epsilon: f32, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn layer_norm(axis: i64, epsilon: f32, stash_type: DType, inputs: &[Option<&Tensor>], n_outputs: usize) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn group_norm(num_groups: usize, epsilon: f32, stash_type: DType, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn rms_norm(axis: i64, epsilon: f32, stash_type: DType, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn lp_norm(axis: i64, p: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn mean_variance_norm(axes: &[i64], inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn attention(a: &AttentionAttrs, inputs: &[Option<&Tensor>], n_outputs: usize) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn rotary_embedding(interleaved: bool, num_heads: Option<usize>, rotary_embedding_dim: usize, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn dropout(inputs: &[Option<&Tensor>], n_outputs: usize) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn nll_loss(ignore_index: Option<i64>, reduction: LossReduction, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}

pub fn softmax_cross_entropy(ignore_index: Option<i64>, reduction: LossReduction, inputs: &[Option<&Tensor>], n_outputs: usize) -> Result<Vec<Tensor>, OpError> {
    Err(OpError::new("not implemented yet"))
}
