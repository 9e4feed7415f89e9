//! Shape and dtype rules for indexing ops: gather and scatter variants, OneHot, NonZero,
//! Compress, ReverseSequence. (Resize's rule lives in `infer::resize`.)

use super::{Known, fresh_dim, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::ScatterReduction;
use crate::op_bail;
use crate::shape::{Dim, Shape, TensorType, display_shape, normalize_axis};

/// Indices must be integers.
fn check_indices(k: Known, what: &str) -> Result<(), OpError> {
    if !k.ty.dtype.is_int() {
        op_bail!("{what} must be an integer tensor, got {}", k.ty.dtype);
    }
    Ok(())
}

/// `data[..axis] ++ indices ++ data[axis+1..]`.
pub fn gather(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let data = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    check_indices(indices, "indices")?;
    let shape = match (&data.ty.shape, &indices.ty.shape) {
        (Some(d), Some(i)) => {
            let axis = normalize_axis(axis, d.len())?;
            let mut s = d[..axis].to_vec();
            s.extend(i.iter().cloned());
            s.extend(d[axis + 1..].iter().cloned());
            Some(s)
        }
        (Some(d), None) => {
            normalize_axis(axis, d.len())?;
            None
        }
        (None, _) => None,
    };
    Ok(vec![TensorType {
        dtype: data.ty.dtype,
        shape,
    }])
}

/// The shape of `indices`, which must have data's rank.
pub fn gather_elements(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let data = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    check_indices(indices, "indices")?;
    check_same_rank(data, indices, axis, "indices")?;
    Ok(vec![TensorType {
        dtype: data.ty.dtype,
        shape: indices.ty.shape.clone(),
    }])
}

/// Checks that `other` has data's rank and that `axis` is in range for it.
fn check_same_rank(data: Known, other: Known, axis: i64, what: &str) -> Result<(), OpError> {
    if let Some(d) = &data.ty.shape {
        normalize_axis(axis, d.len())?;
        if let Some(o) = &other.ty.shape
            && o.len() != d.len()
        {
            op_bail!(
                "{what} of shape {} must have the rank of data, shape {}",
                display_shape(o),
                display_shape(d)
            );
        }
    }
    Ok(())
}

/// `indices[..q-1] ++ data[batch_dims + m..]` with `m` the (static) last dim of indices.
pub fn gather_nd(batch_dims: usize, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let data = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    check_indices(indices, "indices")?;
    let shape = match (&data.ty.shape, &indices.ty.shape) {
        (Some(d), Some(i)) => {
            let Some(last) = i.last() else {
                op_bail!("indices must have rank at least 1");
            };
            if batch_dims >= i.len() || batch_dims > d.len() {
                op_bail!(
                    "batch_dims {batch_dims} needs indices of rank above it and data of at least its rank (indices {}, data {})",
                    display_shape(i),
                    display_shape(d)
                );
            }
            match last {
                Dim::Static(m) if batch_dims + m > d.len() => op_bail!(
                    "index tuples of length {m} after {batch_dims} batch dims exceed the rank of data shape {}",
                    display_shape(d)
                ),
                Dim::Static(m) => {
                    let mut s = i[..i.len() - 1].to_vec();
                    s.extend(d[batch_dims + m..].iter().cloned());
                    Some(s)
                }
                Dim::Symbolic(_) => None,
            }
        }
        _ => None,
    };
    Ok(vec![TensorType {
        dtype: data.ty.dtype,
        shape,
    }])
}

/// Scatters keep data's type; updates must share its dtype.
fn scatter(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let data = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    let updates = req(inputs, 2)?;
    check_indices(indices, "indices")?;
    if updates.ty.dtype != data.ty.dtype {
        op_bail!(
            "updates are {}, data is {}",
            updates.ty.dtype,
            data.ty.dtype
        );
    }
    Ok(vec![data.ty.clone()])
}

pub fn scatter_elements(
    axis: i64,
    _reduction: ScatterReduction,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    check_same_rank(req(inputs, 0)?, req(inputs, 1)?, axis, "indices")?;
    scatter(inputs)
}

pub fn scatter_nd(
    _reduction: ScatterReduction,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    scatter(inputs)
}

/// Indices' shape with a `depth` axis inserted at `axis`, in the dtype of `values`.
pub fn one_hot(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let indices = req(inputs, 0)?;
    let depth = req(inputs, 1)?;
    let values = req(inputs, 2)?;
    let depth = match depth.value.map(|v| v.to_f64_vec()) {
        Some(v) => match v.as_slice() {
            [d] if *d >= 0.0 && d.is_finite() => Dim::Static(d.trunc() as usize),
            [d] => op_bail!("depth must be a non-negative number, got {d}"),
            _ => op_bail!("depth must hold exactly one value, got {} values", v.len()),
        },
        None => fresh_dim("onehot"),
    };
    let shape = indices
        .ty
        .shape
        .as_ref()
        .map(|s| -> Result<Shape, OpError> {
            let axis = normalize_axis(axis, s.len() + 1)?;
            let mut s = s.clone();
            s.insert(axis, depth);
            Ok(s)
        })
        .transpose()?;
    Ok(vec![TensorType {
        dtype: values.ty.dtype,
        shape,
    }])
}

/// `[rank, n]` with `n` known only at run time.
pub fn non_zero(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let rank = x.ty.rank().map_or_else(|| fresh_dim("rank"), Dim::Static);
    Ok(vec![TensorType::new(
        DType::I64,
        vec![rank, fresh_dim("nonzero")],
    )])
}

/// The selected axis (or the flattened input) shrinks to the count of true conditions: exact
/// when the condition is a constant, a fresh dim otherwise.
pub fn compress(axis: Option<i64>, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let condition = req(inputs, 1)?;
    if let Some(r) = condition.ty.rank()
        && r != 1
    {
        op_bail!("condition must be 1-D, got rank {r}");
    }
    let selected = condition
        .value
        .map(|c| Dim::Static(c.to_bool_vec().iter().filter(|&&b| b).count()))
        .unwrap_or_else(|| fresh_dim("compress"));
    let shape = match axis {
        None => Some(vec![selected]),
        Some(a) => {
            x.ty.shape
                .as_ref()
                .map(|s| -> Result<Shape, OpError> {
                    let a = normalize_axis(a, s.len())?;
                    let mut s = s.clone();
                    s[a] = selected;
                    Ok(s)
                })
                .transpose()?
        }
    };
    Ok(vec![TensorType {
        dtype: x.ty.dtype,
        shape,
    }])
}

pub fn reverse_sequence(
    batch_axis: i64,
    time_axis: i64,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    check_indices(req(inputs, 1)?, "sequence_lens")?;
    if let Some(r) = x.ty.rank() {
        if r < 2 {
            op_bail!("input must have rank at least 2, got rank {r}");
        }
        if normalize_axis(batch_axis, r)? == normalize_axis(time_axis, r)? {
            op_bail!("batch_axis {batch_axis} and time_axis {time_axis} are the same axis");
        }
    }
    Ok(vec![x.ty.clone()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn known(ty: &TensorType) -> Option<Known<'_>> {
        Some(Known { ty, value: None })
    }

    #[test]
    fn gather_inserts_the_indices_shape_at_the_axis() {
        let data = TensorType::new(DType::F32, vec![Dim::Symbolic("v".into()), Dim::Static(8)]);
        let idx = TensorType::new(DType::I64, vec![Dim::Static(2), Dim::Static(3)]);
        let out = gather(0, &[known(&data), known(&idx)]).unwrap();
        let want = vec![Dim::Static(2), Dim::Static(3), Dim::Static(8)];
        assert_eq!(out[0], TensorType::new(DType::F32, want));
        let float_idx = TensorType::new(DType::F32, vec![Dim::Static(2)]);
        assert!(gather(0, &[known(&data), known(&float_idx)]).is_err());
    }

    #[test]
    fn gather_nd_uses_the_tuple_length() {
        let data = TensorType::new(
            DType::F32,
            vec![Dim::Static(2), Dim::Static(3), Dim::Static(4)],
        );
        let idx = TensorType::new(
            DType::I64,
            vec![Dim::Static(2), Dim::Static(5), Dim::Static(1)],
        );
        let out = gather_nd(1, &[known(&data), known(&idx)]).unwrap();
        let want = vec![Dim::Static(2), Dim::Static(5), Dim::Static(4)];
        assert_eq!(out[0].shape, Some(want));
    }

    #[test]
    fn data_dependent_sizes_become_fresh_dims_unless_the_condition_is_constant() {
        let x = TensorType::new(DType::F32, vec![Dim::Static(3), Dim::Static(2)]);
        let nz = non_zero(&[known(&x)]).unwrap();
        let nz = nz[0].shape.as_ref().unwrap();
        assert_eq!(nz[0], Dim::Static(2));
        assert!(matches!(nz[1], Dim::Symbolic(_)));
        let cond_ty = TensorType::new(DType::Bool, vec![Dim::Static(3)]);
        let cond = Tensor::from_bool(vec![3], vec![true, false, true]).unwrap();
        let ins = [
            known(&x),
            Some(Known {
                ty: &cond_ty,
                value: Some(&cond),
            }),
        ];
        let out = compress(Some(0), &ins).unwrap();
        assert_eq!(out[0].shape, Some(vec![Dim::Static(2), Dim::Static(2)]));
        let out = compress(Some(0), &[known(&x), known(&cond_ty)]).unwrap();
        assert!(matches!(
            out[0].shape.as_ref().unwrap()[0],
            Dim::Symbolic(_)
        ));
    }

    #[test]
    fn one_hot_inserts_a_constant_depth() {
        let idx = TensorType::new(DType::I64, vec![Dim::Static(4)]);
        let depth_ty = TensorType::new(DType::I64, vec![]);
        let depth = Tensor::scalar_i64(10);
        let values = TensorType::new(DType::F16, vec![Dim::Static(2)]);
        let ins = [
            known(&idx),
            Some(Known {
                ty: &depth_ty,
                value: Some(&depth),
            }),
            known(&values),
        ];
        let out = one_hot(0, &ins).unwrap();
        assert_eq!(
            out[0],
            TensorType::new(DType::F16, vec![Dim::Static(10), Dim::Static(4)])
        );
    }
}
