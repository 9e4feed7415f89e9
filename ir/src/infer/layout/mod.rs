//! Shape and dtype rules for layout ops that keep the element order (reshape, squeeze,
//! unsqueeze, flatten, identity), the shape-producing ops and the generators. Rules for the
//! data-moving ops live in `movement`; dim arithmetic in `dims`.

mod dims;
mod movement;

pub use movement::{
    concat, depth_to_space, expand, pad, slice, space_to_depth, split, tile, transpose,
};

use super::{Known, fresh_dim, opt, req, shape_range};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::layout::params::{
    ReshapeEntry, flatten_axis, list, range_count, reshape_entries, reshape_shape,
};
use crate::interp::layout::{shape_input, single_i64};
use crate::interp::util::normalize_axes;
use crate::op_bail;
use crate::shape::{Dim, Shape, TensorType, concrete, display_shape, static_shape};
use crate::tensor::Tensor;
use dims::{fresh_dims, known_i64s, product_dim, static_len};

pub fn reshape(allowzero: bool, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let target = req(inputs, 1)?;
    let dtype = x.ty.dtype;
    let Some(values) = known_i64s(Some(target))? else {
        // The target's length fixes the rank even when its values are computed at run time.
        let shape = static_len(target.ty).map(|n| fresh_dims(n, "reshape"));
        return Ok(vec![TensorType { dtype, shape }]);
    };
    let Some(in_dims) = x.ty.shape.as_deref() else {
        let entries = reshape_entries(&values, usize::MAX, allowzero)?;
        let shape = entries
            .iter()
            .map(|e| match *e {
                ReshapeEntry::Size(n) => Dim::Static(n),
                ReshapeEntry::Copy(_) | ReshapeEntry::Infer => fresh_dim("reshape"),
            })
            .collect();
        return Ok(vec![TensorType::new(dtype, shape)]);
    };
    if let Some(in_static) = concrete(in_dims) {
        let out = reshape_shape(&in_static, &values, allowzero)?;
        return Ok(vec![TensorType::new(dtype, static_shape(&out))]);
    }
    let entries = reshape_entries(&values, in_dims.len(), allowzero)?;
    let known: Shape = entries
        .iter()
        .filter_map(|e| match *e {
            ReshapeEntry::Size(n) => Some(Dim::Static(n)),
            ReshapeEntry::Copy(i) => Some(in_dims[i].clone()),
            ReshapeEntry::Infer => None,
        })
        .collect();
    let balance = dims::Balance::of(in_dims, &known);
    let inferred = if entries.contains(&ReshapeEntry::Infer) {
        Some(
            balance
                .quotient()
                .map_err(|why| op_err_reshape(in_dims, &values, &why))?,
        )
    } else {
        if let Some(why) = balance.mismatch() {
            return Err(op_err_reshape(in_dims, &values, &why));
        }
        None
    };
    let shape = entries
        .iter()
        .map(|e| match *e {
            ReshapeEntry::Size(n) => Dim::Static(n),
            ReshapeEntry::Copy(i) => in_dims[i].clone(),
            ReshapeEntry::Infer => inferred.clone().unwrap_or_else(|| fresh_dim("reshape")),
        })
        .collect();
    Ok(vec![TensorType::new(dtype, shape)])
}

fn op_err_reshape(in_dims: &[Dim], target: &[i64], why: &str) -> OpError {
    crate::op_err!(
        "cannot reshape {} to {}: {why}",
        display_shape(in_dims),
        list(target)
    )
}

pub fn squeeze(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let Some(in_dims) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let axes_input = opt(inputs, 1);
    let shape = match (axes_input, known_i64s(axes_input)?) {
        (_, Some(axes)) => {
            let axes = normalize_axes(&axes, in_dims.len())?;
            if let Some(&a) = axes
                .iter()
                .find(|&&a| matches!(in_dims[a], Dim::Static(d) if d != 1))
            {
                op_bail!(
                    "cannot squeeze axis {a} of shape {}: its size is {}, not 1",
                    display_shape(in_dims),
                    in_dims[a]
                );
            }
            let kept = (0..in_dims.len()).filter(|a| !axes.contains(a));
            Some(kept.map(|a| in_dims[a].clone()).collect())
        }
        (Some(axes), None) => static_len(axes.ty)
            .and_then(|k| in_dims.len().checked_sub(k))
            .map(|r| fresh_dims(r, "squeeze")),
        // Without axes every size-1 dim goes; a symbolic dim may or may not be 1.
        (None, None) => {
            concrete(in_dims).map(|d| d.into_iter().filter(|&d| d != 1).map(Dim::Static).collect())
        }
    };
    Ok(vec![TensorType { dtype, shape }])
}

pub fn unsqueeze(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let axes_input = req(inputs, 1)?;
    let dtype = x.ty.dtype;
    let Some(in_dims) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let shape = match known_i64s(Some(axes_input))? {
        Some(axes) => {
            let out_rank = in_dims.len() + axes.len();
            let axes = normalize_axes(&axes, out_rank)?;
            let mut rest = in_dims.iter();
            Some(
                (0..out_rank)
                    .map(|a| match axes.contains(&a) {
                        true => Dim::Static(1),
                        false => rest
                            .next()
                            .cloned()
                            .unwrap_or_else(|| fresh_dim("unsqueeze")),
                    })
                    .collect(),
            )
        }
        None => static_len(axes_input.ty).map(|k| fresh_dims(in_dims.len() + k, "unsqueeze")),
    };
    Ok(vec![TensorType { dtype, shape }])
}

pub fn flatten(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let shape = match x.ty.shape.as_deref() {
        Some(d) => {
            let a = flatten_axis(axis, d.len())?;
            vec![
                product_dim(&d[..a], "flatten"),
                product_dim(&d[a..], "flatten"),
            ]
        }
        None => fresh_dims(2, "flatten"),
    };
    Ok(vec![TensorType::new(dtype, shape)])
}

pub fn identity(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    Ok(vec![req(inputs, 0)?.ty.clone()])
}

pub fn shape(
    start: i64,
    end: Option<i64>,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let len = match x.ty.rank() {
        Some(r) => {
            let (s, e) = shape_range(r, start, end);
            Dim::Static(e - s)
        }
        None => fresh_dim("shape_len"),
    };
    Ok(vec![TensorType::new(DType::I64, vec![len])])
}

pub fn size(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    req(inputs, 0)?;
    Ok(vec![TensorType::new(DType::I64, vec![])])
}

pub fn constant_of_shape(
    value: &Tensor,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let target = req(inputs, 0)?;
    if value.len() != 1 {
        op_bail!("value must hold one element, got {}", value.len());
    }
    let shape = match target.value {
        Some(t) => Some(static_shape(&shape_input(t, "shape")?)),
        None => static_len(target.ty).map(|n| fresh_dims(n, "constant_of_shape")),
    };
    Ok(vec![TensorType {
        dtype: value.dtype(),
        shape,
    }])
}

pub fn range(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let (start, limit, delta) = (req(inputs, 0)?, req(inputs, 1)?, req(inputs, 2)?);
    let dtype = start.ty.dtype;
    if limit.ty.dtype != dtype || delta.ty.dtype != dtype {
        op_bail!(
            "start, limit and delta must share a dtype, got {dtype}, {} and {}",
            limit.ty.dtype,
            delta.ty.dtype
        );
    }
    let len = match (start.value, limit.value, delta.value) {
        (Some(s), Some(l), Some(d)) => Dim::Static(range_count(s, l, d)?),
        _ => fresh_dim("range"),
    };
    Ok(vec![TensorType::new(dtype, vec![len])])
}

pub fn trilu(_upper: bool, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    if let Some(r) = x.ty.rank().filter(|&r| r < 2) {
        op_bail!("input must have rank 2 or more, got rank {r}");
    }
    if let Some(k) = opt(inputs, 1).and_then(|k| k.value) {
        single_i64(k, "k")?;
    }
    Ok(vec![x.ty.clone()])
}

pub fn eye_like(
    dtype: Option<DType>,
    _k: i64,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    if let Some(r) = x.ty.rank().filter(|&r| r != 2) {
        op_bail!("input must be 2-D, got rank {r}");
    }
    Ok(vec![TensorType {
        dtype: dtype.unwrap_or(x.ty.dtype),
        shape: Some(x.ty.shape.clone().unwrap_or_else(|| fresh_dims(2, "eye"))),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Dim {
        Dim::Symbolic(s.into())
    }

    fn ty(shape: Shape) -> TensorType {
        TensorType::new(DType::F32, shape)
    }

    fn i64s(v: &[i64]) -> Tensor {
        Tensor::from_i64(vec![v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn reshape_keeps_symbols_through_copies_and_minus_one() {
        let x = ty(vec![sym("b"), Dim::Static(3), Dim::Static(4)]);
        let target_ty = TensorType::new(DType::I64, vec![Dim::Static(2)]);
        let target = i64s(&[0, -1]);
        let k = |t| Known {
            ty: &target_ty,
            value: t,
        };
        let out = reshape(
            false,
            &[
                Some(Known {
                    ty: &x,
                    value: None,
                }),
                Some(k(Some(&target))),
            ],
        );
        assert_eq!(out.unwrap()[0].shape, Some(vec![sym("b"), Dim::Static(12)]));
        let out = reshape(
            false,
            &[
                Some(Known {
                    ty: &x,
                    value: None,
                }),
                Some(k(None)),
            ],
        )
        .unwrap();
        assert_eq!(out[0].rank(), Some(2));
    }

    #[test]
    fn reshape_rejects_impossible_counts() {
        let x = ty(static_shape(&[2, 3]));
        let target_ty = TensorType::new(DType::I64, vec![Dim::Static(2)]);
        let target = i64s(&[4, 2]);
        let inputs = [
            Some(Known {
                ty: &x,
                value: None,
            }),
            Some(Known {
                ty: &target_ty,
                value: Some(&target),
            }),
        ];
        let e = reshape(false, &inputs).unwrap_err();
        assert_eq!(
            e.0,
            "cannot reshape [2,3] (6 elements) to [4,2] (8 elements)"
        );
    }

    #[test]
    fn flatten_and_squeeze_propagate_symbols() {
        let x = ty(vec![
            sym("b"),
            Dim::Static(1),
            Dim::Static(3),
            Dim::Static(4),
        ]);
        let out = flatten(
            1,
            &[Some(Known {
                ty: &x,
                value: None,
            })],
        )
        .unwrap();
        assert_eq!(out[0].shape, Some(vec![sym("b"), Dim::Static(12)]));
        let out = flatten(
            3,
            &[Some(Known {
                ty: &x,
                value: None,
            })],
        )
        .unwrap();
        let shape = out[0].shape.clone().unwrap();
        assert!(matches!(&shape[0], Dim::Symbolic(s) if s != "b"));
        assert_eq!(shape[1], Dim::Static(4));
        let axes_ty = TensorType::new(DType::I64, vec![Dim::Static(1)]);
        let axes = i64s(&[1]);
        let inputs = [
            Some(Known {
                ty: &x,
                value: None,
            }),
            Some(Known {
                ty: &axes_ty,
                value: Some(&axes),
            }),
        ];
        let out = squeeze(&inputs).unwrap();
        assert_eq!(
            out[0].shape,
            Some(vec![sym("b"), Dim::Static(3), Dim::Static(4)])
        );
        let axes = i64s(&[2]);
        let inputs = [
            Some(Known {
                ty: &x,
                value: None,
            }),
            Some(Known {
                ty: &axes_ty,
                value: Some(&axes),
            }),
        ];
        assert!(squeeze(&inputs).is_err());
    }

    #[test]
    fn shape_of_a_symbolic_tensor_has_static_length() {
        let x = ty(vec![sym("b"), Dim::Static(3), Dim::Static(4)]);
        let out = shape(
            1,
            Some(-1),
            &[Some(Known {
                ty: &x,
                value: None,
            })],
        )
        .unwrap();
        assert_eq!(out[0], TensorType::new(DType::I64, vec![Dim::Static(1)]));
    }
}
