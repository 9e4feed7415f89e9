//! ScatterElements and ScatterND: copies of data with elements at given indices replaced by, or
//! combined with, updates.

use super::gather::{NdIndexing, check_element_shape, element_offsets};
use super::index_values;
use crate::error::OpError;
use crate::interp::reduce::values::{Values, max_f64, min_f64};
use crate::interp::req;
use crate::op::ScatterReduction;
use crate::op_bail;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

/// `out[p with coordinate axis replaced by indices[p]] = updates[p]` (or combined with it by
/// `reduction`), in row-major order of `indices`; later updates to one element see earlier ones.
pub fn scatter_elements(
    axis: i64,
    reduction: ScatterReduction,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let (data, indices, updates) = scatter_inputs(inputs)?;
    let axis = normalize_axis(axis, data.rank())?;
    check_element_shape(data.shape(), indices.shape(), axis, "indices")?;
    if updates.shape() != indices.shape() {
        op_bail!(
            "updates shape {:?} differs from indices shape {:?}",
            updates.shape(),
            indices.shape()
        );
    }
    let targets = element_offsets(data.shape(), indices, axis)?;
    apply(data, updates, &targets, reduction)
}

/// Writes each slice of updates to the slice of data its index tuple (last dim of `indices`)
/// names, combining by `reduction`.
pub fn scatter_nd(
    reduction: ScatterReduction,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let (data, indices, updates) = scatter_inputs(inputs)?;
    let nd = NdIndexing::new(data.shape(), indices.shape(), 0)?;
    let q = indices.rank();
    let depth = indices.shape()[q - 1];
    let mut want = indices.shape()[..q - 1].to_vec();
    want.extend_from_slice(&data.shape()[depth..]);
    if updates.shape() != want.as_slice() {
        op_bail!(
            "updates shape {:?} must be {want:?} for indices {:?} and data {:?}",
            updates.shape(),
            indices.shape(),
            data.shape()
        );
    }
    let tuples = index_values(indices, "indices")?;
    let mut targets = Vec::with_capacity(updates.len());
    for t in 0..nd.n_tuples() {
        let offset = nd.offset(data.shape(), t, &tuples)?;
        targets.extend(offset..offset + nd.slice);
    }
    apply(data, updates, &targets, reduction)
}

fn scatter_inputs<'a>(
    inputs: &[Option<&'a Tensor>],
) -> Result<(&'a Tensor, &'a Tensor, &'a Tensor), OpError> {
    let (data, indices, updates) = (req(inputs, 0)?, req(inputs, 1)?, req(inputs, 2)?);
    if updates.dtype() != data.dtype() {
        op_bail!("updates are {}, data is {}", updates.dtype(), data.dtype());
    }
    Ok((data, indices, updates))
}

/// Data with `updates[u]` combined into element `targets[u]`, for each `u` in order.
fn apply(
    data: &Tensor,
    updates: &Tensor,
    targets: &[usize],
    reduction: ScatterReduction,
) -> Result<Vec<Tensor>, OpError> {
    let out = match (Values::of(data), Values::of(updates)) {
        (Values::Float(mut out), Values::Float(upd)) => {
            let combine: fn(f64, f64) -> f64 = match reduction {
                ScatterReduction::None => |_, u| u,
                ScatterReduction::Add => |a, u| a + u,
                ScatterReduction::Mul => |a, u| a * u,
                ScatterReduction::Max => max_f64,
                ScatterReduction::Min => min_f64,
            };
            combine_into(&mut out, &upd, targets, combine);
            Values::Float(out)
        }
        (Values::Int(mut out), Values::Int(upd)) => {
            let combine: fn(i128, i128) -> i128 = match reduction {
                ScatterReduction::None => |_, u| u,
                ScatterReduction::Add => i128::wrapping_add,
                ScatterReduction::Mul => i128::wrapping_mul,
                ScatterReduction::Max => i128::max,
                ScatterReduction::Min => i128::min,
            };
            combine_into(&mut out, &upd, targets, combine);
            Values::Int(out)
        }
        (Values::Float(_), Values::Int(_)) | (Values::Int(_), Values::Float(_)) => {
            op_bail!("updates are {}, data is {}", updates.dtype(), data.dtype())
        }
    };
    Ok(vec![out.into_tensor(data.dtype(), data.shape().to_vec())?])
}

fn combine_into<T: Copy>(out: &mut [T], updates: &[T], targets: &[usize], combine: fn(T, T) -> T) {
    for (&t, &u) in targets.iter().zip(updates) {
        out[t] = combine(out[t], u);
    }
}
