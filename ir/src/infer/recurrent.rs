//! Shape and dtype rules for the recurrent ops RNN, GRU and LSTM: Y is
//! `[seq, dirs, batch, hidden]` and the states `[dirs, batch, hidden]` (batch first with
//! `layout = 1`), all of X's dtype.

use super::{Known, req};
use crate::error::OpError;
use crate::op::{RnnAttrs, RnnCell};
use crate::op_bail;
use crate::shape::{Dim, TensorType, display_shape};

pub fn recurrent(
    attrs: &RnnAttrs,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let r = req(inputs, 2)?;
    let dtype = x.ty.dtype;
    if !dtype.is_float() {
        op_bail!("X must be a floating-point tensor, got {dtype:?}");
    }
    let dirs = Dim::Static(attrs.direction.count());
    let hidden = match (attrs.hidden_size, r.ty.shape.as_deref()) {
        (Some(h), _) => Some(Dim::Static(h)),
        (None, Some(rs)) if rs.len() == 3 => Some(rs[2].clone()),
        _ => None,
    };
    let shapes = match (x.ty.shape.as_deref(), hidden) {
        (Some(xs), Some(hidden)) => {
            if xs.len() != 3 {
                op_bail!("X must have rank 3, got shape {}", display_shape(xs));
            }
            let (seq, batch) = if attrs.batch_first {
                (xs[1].clone(), xs[0].clone())
            } else {
                (xs[0].clone(), xs[1].clone())
            };
            let (y, state) = if attrs.batch_first {
                (
                    vec![batch.clone(), seq, dirs.clone(), hidden.clone()],
                    vec![batch, dirs, hidden],
                )
            } else {
                (
                    vec![seq, dirs.clone(), batch.clone(), hidden.clone()],
                    vec![dirs, batch, hidden],
                )
            };
            Some((y, state))
        }
        _ => None,
    };
    let n_max = if matches!(attrs.cell, RnnCell::Lstm { .. }) {
        3
    } else {
        2
    };
    if n_outputs > n_max {
        op_bail!("{n_outputs} outputs requested, the op has at most {n_max}");
    }
    Ok((0..n_outputs)
        .map(|i| TensorType {
            dtype,
            shape: shapes
                .as_ref()
                .map(|(y, state)| if i == 0 { y.clone() } else { state.clone() }),
        })
        .collect())
}
