//! Shape and dtype rules for: softmax family, normalizations, attention, rotary embedding, dropout (inference) and the loss ops.
#![allow(unused_variables, unused_imports)]
use super::Known;
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::*;
use crate::shape::{Dim, Shape, TensorType};
use crate::tensor::Tensor;

pub fn softmax(kind: SoftmaxKind, axis: i64, coerce_2d: bool, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn batch_norm(epsilon: f32, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn instance_norm(epsilon: f32, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn layer_norm(axis: i64, epsilon: f32, stash_type: DType, inputs: &[Option<Known>], n_outputs: usize) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn group_norm(num_groups: usize, epsilon: f32, stash_type: DType, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn rms_norm(axis: i64, epsilon: f32, stash_type: DType, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn lp_norm(axis: i64, p: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn mean_variance_norm(axes: &[i64], inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn attention(a: &AttentionAttrs, inputs: &[Option<Known>], n_outputs: usize) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn rotary_embedding(interleaved: bool, num_heads: Option<usize>, rotary_embedding_dim: usize, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn dropout(inputs: &[Option<Known>], n_outputs: usize) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn nll_loss(ignore_index: Option<i64>, reduction: LossReduction, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}

pub fn softmax_cross_entropy(ignore_index: Option<i64>, reduction: LossReduction, inputs: &[Option<Known>], n_outputs: usize) -> Result<Vec<TensorType>, OpError> {
    Err(OpError::new("no shape rule yet"))
}
