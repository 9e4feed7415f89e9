//! Shape and dtype rules for bit-level reinterpretation: BitCast.

use super::{Known, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op_bail;
use crate::shape::TensorType;

/// Same shape, dtype `to`; the widths must match.
pub fn bit_cast(to: DType, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    if x.ty.dtype.bits() != to.bits() {
        op_bail!(
            "BitCast needs equal bit widths: {} has {} bits, {} has {}",
            x.ty.dtype,
            x.ty.dtype.bits(),
            to,
            to.bits()
        );
    }
    Ok(vec![TensorType {
        dtype: to,
        ..x.ty.clone()
    }])
}
