//! Shape and dtype rules for set operations: Unique.

use super::{Known, fresh_dim, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::shape::{Dim, TensorType, concrete, normalize_axis};

/// `y` keeps the input's shape except a fresh count along `axis` (or is 1-D when flattened);
/// `indices` and `counts` have that count, `inverse_indices` one entry per input slice.
pub fn unique(
    axis: Option<i64>,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let kept = fresh_dim("unique");
    let (y_shape, inverse_len) = match (axis, &x.ty.shape) {
        (None, shape) => (
            Some(vec![kept.clone()]),
            shape
                .as_ref()
                .and_then(|s| concrete(s).map(|c| Dim::Static(c.iter().product()))),
        ),
        (Some(a), Some(s)) => {
            let a = normalize_axis(a, s.len())?;
            let mut y = s.clone();
            y[a] = kept.clone();
            (Some(y), Some(s[a].clone()))
        }
        (Some(_), None) => (None, None),
    };
    let y = TensorType {
        dtype: x.ty.dtype,
        shape: y_shape,
    };
    let per_group = TensorType::new(DType::I64, vec![kept]);
    let inverse = TensorType::new(
        DType::I64,
        vec![inverse_len.unwrap_or_else(|| fresh_dim("unique_inverse"))],
    );
    let mut outputs = vec![y, per_group.clone(), inverse, per_group];
    outputs.truncate(n_outputs.max(1));
    Ok(outputs)
}
