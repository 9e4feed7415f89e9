//! Shape and dtype rules for key/value cache updates: TensorScatter.

use super::{Known, req};
use crate::error::OpError;
use crate::op_bail;
use crate::shape::TensorType;

/// The output is the cache's type.
pub fn tensor_scatter(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let past = req(inputs, 0)?;
    let update = req(inputs, 1)?;
    if past.ty.dtype != update.ty.dtype {
        op_bail!(
            "update dtype {} differs from past_cache dtype {}",
            update.ty.dtype,
            past.ty.dtype
        );
    }
    if let (Some(p), Some(u)) = (past.ty.rank(), update.ty.rank())
        && p != u
    {
        op_bail!("update has rank {u}, past_cache rank {p}");
    }
    Ok(vec![past.ty.clone()])
}
