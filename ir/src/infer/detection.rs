//! Shape and dtype rules for object-detection post-processing: NonMaxSuppression.

use super::{Known, fresh_dim, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op_bail;
use crate::shape::{Dim, TensorType, display_shape};

/// `[selected, 3]` of i64, where `selected` is data-dependent.
pub fn non_max_suppression(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let boxes = req(inputs, 0)?;
    let scores = req(inputs, 1)?;
    for (k, what) in [(boxes, "boxes"), (scores, "scores")] {
        if let Some(s) = &k.ty.shape
            && s.len() != 3
        {
            op_bail!("{what} must be 3-D, got shape {}", display_shape(s));
        }
    }
    if let Some(s) = &boxes.ty.shape
        && let Dim::Static(last) = s[2]
        && last != 4
    {
        op_bail!("boxes' last dim must be 4, got shape {}", display_shape(s));
    }
    Ok(vec![TensorType::new(
        DType::I64,
        vec![fresh_dim("nms"), Dim::Static(3)],
    )])
}
