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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_nd_add_accumulates_duplicate_indices() {
        let data = Tensor::from_i64(vec![3], vec![1, 1, 1]).unwrap();
        let idx = Tensor::from_i64(vec![3, 1], vec![0, 2, 0]).unwrap();
        let upd = Tensor::from_i64(vec![3], vec![5, 7, 10]).unwrap();
        let inputs = [Some(&data), Some(&idx), Some(&upd)];
        let y = scatter_nd(ScatterReduction::Add, &inputs).unwrap();
        assert_eq!(y[0].as_i64().unwrap(), &[16, 1, 8]);
        let y = scatter_nd(ScatterReduction::None, &inputs).unwrap();
        assert_eq!(y[0].as_i64().unwrap(), &[10, 1, 7]);
    }

    #[test]
    fn scatter_elements_combines_along_the_axis() {
        let data = Tensor::from_f32(vec![2, 2], vec![1., 2., 3., 4.]).unwrap();
        let idx = Tensor::from_i64(vec![2, 1], vec![-1, 0]).unwrap();
        let upd = Tensor::from_f32(vec![2, 1], vec![10., 0.5]).unwrap();
        let inputs = [Some(&data), Some(&idx), Some(&upd)];
        let y = scatter_elements(1, ScatterReduction::Mul, &inputs).unwrap();
        assert_eq!(y[0].to_f64_vec(), vec![1., 20., 1.5, 4.]);
        let y = scatter_elements(1, ScatterReduction::Min, &inputs).unwrap();
        assert_eq!(y[0].to_f64_vec(), vec![1., 2., 0.5, 4.]);
    }

    #[test]
    fn bad_indices_and_shapes_are_errors() {
        let data = Tensor::from_f32(vec![2], vec![1., 2.]).unwrap();
        let idx = Tensor::from_i64(vec![1, 1], vec![2]).unwrap();
        let upd = Tensor::from_f32(vec![1], vec![0.]).unwrap();
        let err = scatter_nd(
            ScatterReduction::None,
            &[Some(&data), Some(&idx), Some(&upd)],
        )
        .unwrap_err();
        assert!(
            err.0.contains("value 2") && err.0.contains("dim 2"),
            "{err}"
        );
        let wide = Tensor::from_f32(vec![2], vec![0., 0.]).unwrap();
        let idx = Tensor::from_i64(vec![1, 1], vec![0]).unwrap();
        let err = scatter_nd(
            ScatterReduction::None,
            &[Some(&data), Some(&idx), Some(&wide)],
        )
        .unwrap_err();
        assert!(err.0.contains("updates shape"), "{err}");
    }
}
