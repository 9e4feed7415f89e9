//! Shape and dtype rules for reductions, ArgMax/ArgMin, TopK and the cumulative scans.

use super::{Known, fresh_dim, opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::normalize_axes;
use crate::op::{ArgKind, ReduceKind};
use crate::op_bail;
use crate::shape::{Dim, Shape, TensorType, normalize_axis};

/// Reduced axes become 1 (`keepdims`) or are dropped. When the axes input is not a constant,
/// the rank is still known with `keepdims` (each dim is itself or 1: a fresh dim unless already
/// 1) or when the axes' count is static.
pub fn reduce(
    _kind: ReduceKind,
    keepdims: bool,
    noop_with_empty_axes: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let Some(shape) = &x.ty.shape else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let rank = shape.len();
    let all_or_none = || -> Vec<usize> {
        if noop_with_empty_axes {
            Vec::new()
        } else {
            (0..rank).collect()
        }
    };
    let axes_input = opt(inputs, 1);
    let axes = match axes_input {
        None => Some(all_or_none()),
        Some(a) => match a.value {
            Some(v) => {
                let v = v.to_i64_vec()?;
                Some(if v.is_empty() {
                    all_or_none()
                } else {
                    normalize_axes(&v, rank)?
                })
            }
            None if a.ty.shape.as_deref() == Some(&[Dim::Static(0)]) => Some(all_or_none()),
            None => None,
        },
    };
    let out = match axes {
        Some(axes) => Some(
            shape
                .iter()
                .enumerate()
                .filter_map(|(i, d)| match (axes.contains(&i), keepdims) {
                    (false, _) => Some(d.clone()),
                    (true, true) => Some(Dim::Static(1)),
                    (true, false) => None,
                })
                .collect(),
        ),
        None if keepdims => Some(
            shape
                .iter()
                .map(|d| match d {
                    Dim::Static(1) => Dim::Static(1),
                    Dim::Static(_) | Dim::Symbolic(_) => fresh_dim("reduce"),
                })
                .collect(),
        ),
        None => match axes_input.and_then(|a| a.ty.shape.as_deref()) {
            Some([Dim::Static(n)]) if *n > 0 => {
                if *n > rank {
                    op_bail!("{n} axes given for rank {rank}");
                }
                Some((0..rank - n).map(|_| fresh_dim("reduce")).collect())
            }
            _ => None,
        },
    };
    Ok(vec![TensorType { dtype, shape: out }])
}

pub fn arg_reduce(
    _kind: ArgKind,
    axis: i64,
    keepdims: bool,
    _select_last_index: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let shape =
        x.ty.shape
            .as_ref()
            .map(|s| -> Result<Shape, OpError> {
                let axis = normalize_axis(axis, s.len())?;
                let mut s = s.clone();
                if keepdims {
                    s[axis] = Dim::Static(1);
                } else {
                    s.remove(axis);
                }
                Ok(s)
            })
            .transpose()?;
    Ok(vec![TensorType {
        dtype: DType::I64,
        shape,
    }])
}

/// The axis becomes `k`: exact when `k` is a constant, a fresh dim otherwise.
pub fn top_k(
    axis: i64,
    _largest: bool,
    _sorted: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let k = req(inputs, 1)?;
    let k = match k.value {
        Some(v) => match v.to_i64_vec()?.as_slice() {
            [k] => match usize::try_from(*k) {
                Ok(k) => Some(k),
                Err(_) => op_bail!("k must be non-negative, got {k}"),
            },
            _ => op_bail!("k must hold exactly one value, got shape {:?}", v.shape()),
        },
        None => None,
    };
    let shape =
        x.ty.shape
            .as_ref()
            .map(|s| -> Result<Shape, OpError> {
                let axis = normalize_axis(axis, s.len())?;
                let mut s = s.clone();
                s[axis] = match (k, &s[axis]) {
                    (Some(k), Dim::Static(n)) if k > *n => {
                        op_bail!("k {k} is out of range for axis {axis} of size {n}")
                    }
                    (Some(k), _) => Dim::Static(k),
                    (None, _) => fresh_dim("topk"),
                };
                Ok(s)
            })
            .transpose()?;
    Ok(vec![
        TensorType {
            dtype: x.ty.dtype,
            shape: shape.clone(),
        },
        TensorType {
            dtype: DType::I64,
            shape,
        },
    ])
}

pub fn cum_sum(
    _exclusive: bool,
    _reverse: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    scan(inputs)
}

pub fn cum_prod(
    _exclusive: bool,
    _reverse: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    scan(inputs)
}

/// A scan keeps its input's type; a constant axis is checked against the rank.
fn scan(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let axis = req(inputs, 1)?;
    if let (Some(rank), Some(v)) = (x.ty.rank(), axis.value) {
        match v.to_i64_vec()?.as_slice() {
            [a] => {
                normalize_axis(*a, rank)?;
            }
            _ => op_bail!(
                "axis must hold exactly one value, got shape {:?}",
                v.shape()
            ),
        }
    }
    Ok(vec![x.ty.clone()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn sym(s: &str) -> Dim {
        Dim::Symbolic(s.into())
    }

    #[test]
    fn constant_axes_give_exact_shapes_with_symbolic_dims_kept() {
        let x = TensorType::new(DType::F32, vec![sym("b"), Dim::Static(4), Dim::Static(5)]);
        let axes = Tensor::from_i64(vec![1], vec![-1]).unwrap();
        let axes_ty = TensorType::new(DType::I64, vec![Dim::Static(1)]);
        let ins = [
            Some(Known {
                ty: &x,
                value: None,
            }),
            Some(Known {
                ty: &axes_ty,
                value: Some(&axes),
            }),
        ];
        let out = reduce(ReduceKind::Sum, false, false, &ins).unwrap();
        assert_eq!(
            out[0],
            TensorType::new(DType::F32, vec![sym("b"), Dim::Static(4)])
        );
        let out = reduce(ReduceKind::Sum, true, false, &ins[..1]).unwrap();
        assert_eq!(out[0].shape, Some(vec![Dim::Static(1); 3]));
    }

    #[test]
    fn runtime_axes_keep_the_rank_with_keepdims_or_a_static_axis_count() {
        let x = TensorType::new(DType::F32, vec![Dim::Static(1), Dim::Static(4)]);
        let axes_ty = TensorType::new(DType::I64, vec![Dim::Static(1)]);
        let ins = [
            Some(Known {
                ty: &x,
                value: None,
            }),
            Some(Known {
                ty: &axes_ty,
                value: None,
            }),
        ];
        let kept = reduce(ReduceKind::Max, true, false, &ins).unwrap();
        let kept = kept[0].shape.as_ref().unwrap();
        assert_eq!(kept[0], Dim::Static(1));
        assert!(matches!(kept[1], Dim::Symbolic(_)));
        let dropped = reduce(ReduceKind::Max, false, false, &ins).unwrap();
        assert_eq!(dropped[0].rank(), Some(1));
    }

    #[test]
    fn top_k_with_constant_k_is_exact_and_checked() {
        let x = TensorType::new(DType::F32, vec![sym("n"), Dim::Static(6)]);
        let k_ty = TensorType::new(DType::I64, vec![Dim::Static(1)]);
        let k = Tensor::from_i64(vec![1], vec![2]).unwrap();
        let ins = [
            Some(Known {
                ty: &x,
                value: None,
            }),
            Some(Known {
                ty: &k_ty,
                value: Some(&k),
            }),
        ];
        let out = top_k(-1, true, true, &ins).unwrap();
        assert_eq!(out[0].shape, Some(vec![sym("n"), Dim::Static(2)]));
        assert_eq!(out[1].dtype, DType::I64);
        let big = Tensor::from_i64(vec![1], vec![7]).unwrap();
        let ins = [
            ins[0],
            Some(Known {
                ty: &k_ty,
                value: Some(&big),
            }),
        ];
        assert!(top_k(-1, true, true, &ins).is_err());
    }
}
