//! Shape and dtype rules for NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

use super::{dim_may_equal, expect_vector, float_input, same_dtype};
use crate::dtype::DType;
use crate::error::OpError;
use crate::infer::{Known, opt, req};
use crate::op::LossReduction;
use crate::op_bail;
use crate::shape::{Dim, Shape, TensorType, display_shape};

pub fn nll_loss(
    _ignore_index: Option<i64>,
    reduction: LossReduction,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    Ok(vec![loss_type(reduction, inputs)?])
}

pub fn softmax_cross_entropy(
    _ignore_index: Option<i64>,
    reduction: LossReduction,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let mut out = vec![loss_type(reduction, inputs)?];
    if n_outputs > 1 {
        out.push(req(inputs, 0)?.ty.clone());
    }
    Ok(out)
}

/// The loss: the target's shape (with the input's static dims where the target's are
/// symbolic) without reduction, a scalar otherwise; the input's dtype.
fn loss_type(reduction: LossReduction, inputs: &[Option<Known>]) -> Result<TensorType, OpError> {
    let x = float_input(inputs, 0, "input")?;
    let target = req(inputs, 1)?;
    if !matches!(target.ty.dtype, DType::I32 | DType::I64) {
        op_bail!("target must be int32 or int64, got {}", target.ty.dtype);
    }
    if let Some(w) = opt(inputs, 2) {
        same_dtype(w, x, "weight")?;
    }
    let expected: Option<Shape> = match &x.ty.shape {
        Some(s) if s.len() < 2 => {
            op_bail!(
                "input must have rank >= 2 (N, C, ...), got {}",
                display_shape(s)
            )
        }
        Some(s) => {
            if let Some(w) = opt(inputs, 2) {
                expect_vector(w, &s[1], "weight")?;
            }
            Some(
                s.iter()
                    .enumerate()
                    .filter(|&(i, _)| i != 1)
                    .map(|(_, d)| d.clone())
                    .collect(),
            )
        }
        None => None,
    };
    let shape = match (expected, &target.ty.shape) {
        (Some(e), Some(t)) => {
            if e.len() != t.len() || !e.iter().zip(t).all(|(a, b)| dim_may_equal(a, b)) {
                op_bail!(
                    "target has shape {}, expected {} for input of shape {}",
                    display_shape(t),
                    display_shape(&e),
                    display_shape(x.ty.shape.as_deref().unwrap_or_default())
                );
            }
            Some(
                e.into_iter()
                    .zip(t)
                    .map(|(a, b)| {
                        if matches!(b, Dim::Symbolic(_)) {
                            a
                        } else {
                            b.clone()
                        }
                    })
                    .collect(),
            )
        }
        (e, t) => t.clone().or(e),
    };
    Ok(match reduction {
        LossReduction::None => TensorType {
            dtype: x.ty.dtype,
            shape,
        },
        LossReduction::Sum | LossReduction::Mean => TensorType::new(x.ty.dtype, vec![]),
    })
}
