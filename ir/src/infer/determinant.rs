//! Shape and dtype rules for matrix determinants: Det.

use super::{Known, req};
use crate::error::OpError;
use crate::op_bail;
use crate::shape::{Dim, TensorType, display_shape};

/// `[*, M, M]` to `[*]`.
pub fn det(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let Some(shape) = &x.ty.shape else {
        return Ok(vec![TensorType::unknown_shape(x.ty.dtype)]);
    };
    let rank = shape.len();
    let square = rank >= 2
        && !matches!((&shape[rank - 2], &shape[rank - 1]), (Dim::Static(a), Dim::Static(b)) if a != b);
    if !square {
        op_bail!(
            "Det needs square matrices [*, M, M], got shape {}",
            display_shape(shape)
        );
    }
    Ok(vec![TensorType::new(
        x.ty.dtype,
        shape[..rank - 2].to_vec(),
    )])
}
