//! Shape and dtype rules for gated activations: SwiGLU.

use super::{Known, req};
use crate::error::OpError;
use crate::op_bail;
use crate::shape::{Dim, TensorType, display_shape};

/// The gate's type; the two shapes must agree wherever both dims are static.
pub fn swiglu(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let gate = req(inputs, 0)?;
    let value = req(inputs, 1)?;
    if gate.ty.dtype != value.ty.dtype {
        op_bail!(
            "SwiGLU inputs must share a dtype, got {} and {}",
            gate.ty.dtype,
            value.ty.dtype
        );
    }
    if let (Some(a), Some(b)) = (&gate.ty.shape, &value.ty.shape) {
        let clash = a.len() != b.len()
            || a.iter()
                .zip(b)
                .any(|p| matches!(p, (Dim::Static(x), Dim::Static(y)) if x != y));
        if clash {
            op_bail!(
                "SwiGLU inputs must have identical shapes, got {} and {}",
                display_shape(a),
                display_shape(b)
            );
        }
    }
    Ok(vec![gate.ty.clone()])
}
