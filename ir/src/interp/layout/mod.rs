//! Layout ops: reshape-like ops that keep the element order, the shape-producing ops and the
//! generators (ConstantOfShape, Range, EyeLike, Trilu). Data-moving ops live in `movement`.

mod movement;
pub mod params;
pub mod view;

pub use movement::{
    concat, depth_to_space, expand, pad, slice, space_to_depth, split, tile, transpose,
};

use super::util::{normalize_axes, opt_i64s};
use super::{opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::infer::shape_range;
use crate::tensor::Tensor;
use crate::{op_bail, op_err};
use params::{flatten_axis, list, range_count, reshape_shape};
use view::output_numel;

/// The single value of a scalar or one-element tensor (`k`, Range bounds...).
pub(crate) fn single_i64(t: &Tensor, what: &str) -> Result<i64, OpError> {
    match t.to_i64_vec()?.as_slice() {
        [v] => Ok(*v),
        v => op_bail!("{what} must hold one element, got {}", v.len()),
    }
}

/// A shape given as an i64 tensor (ConstantOfShape, Expand), with every entry non-negative.
pub(crate) fn shape_input(t: &Tensor, what: &str) -> Result<Vec<usize>, OpError> {
    if t.rank() > 1 {
        op_bail!("{what} must be 1-D, got shape {}", list(t.shape()));
    }
    t.to_i64_vec()?
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| op_err!("{what} has a negative entry {d}")))
        .collect()
}

pub fn reshape(allowzero: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let target = req(inputs, 1)?.to_i64_vec()?;
    let shape = reshape_shape(x.shape(), &target, allowzero)?;
    Ok(vec![x.clone().reshaped(shape)?])
}

pub fn squeeze(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let shape = match opt_i64s(opt(inputs, 1))? {
        Some(axes) => {
            let axes = normalize_axes(&axes, x.rank())?;
            if let Some(&a) = axes.iter().find(|&&a| x.shape()[a] != 1) {
                op_bail!(
                    "cannot squeeze axis {a} of shape {}: its size is {}, not 1",
                    list(x.shape()),
                    x.shape()[a]
                );
            }
            let kept = (0..x.rank()).filter(|a| !axes.contains(a));
            kept.map(|a| x.shape()[a]).collect()
        }
        None => x.shape().iter().copied().filter(|&d| d != 1).collect(),
    };
    Ok(vec![x.clone().reshaped(shape)?])
}

pub fn unsqueeze(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let axes = req(inputs, 1)?.to_i64_vec()?;
    let out_rank = x.rank() + axes.len();
    let axes = normalize_axes(&axes, out_rank)?;
    let mut dims = x.shape().iter();
    let shape = (0..out_rank)
        .map(|a| {
            if axes.contains(&a) {
                Some(1)
            } else {
                dims.next().copied()
            }
        })
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| op_err!("unsqueeze axes do not fit rank {out_rank}"))?;
    Ok(vec![x.clone().reshaped(shape)?])
}

pub fn flatten(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let a = flatten_axis(axis, x.rank())?;
    let outer = x.shape()[..a].iter().product();
    let inner = x.shape()[a..].iter().product();
    Ok(vec![x.clone().reshaped(vec![outer, inner])?])
}

pub fn shape(
    start: i64,
    end: Option<i64>,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let (s, e) = shape_range(x.rank(), start, end);
    let dims: Vec<i64> = x.shape()[s..e].iter().map(|&d| d as i64).collect();
    Ok(vec![Tensor::from_i64(vec![dims.len()], dims)?])
}

pub fn size(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    Ok(vec![Tensor::scalar_i64(x.len() as i64)])
}

pub fn identity(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![req(inputs, 0)?.clone()])
}

pub fn constant_of_shape(
    value: &Tensor,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let shape = shape_input(req(inputs, 0)?, "shape")?;
    let n = output_numel(&shape)?;
    if value.len() != 1 {
        op_bail!("value must hold one element, got {}", value.len());
    }
    let data = crate::map_data!(value.data(), v => vec![v[0]; n]);
    Ok(vec![Tensor::new(value.dtype(), shape, data)?])
}

pub fn range(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let (start, limit, delta) = (req(inputs, 0)?, req(inputs, 1)?, req(inputs, 2)?);
    let n = output_numel(&[range_count(start, limit, delta)?])?;
    let dtype = start.dtype();
    if dtype.is_float() {
        let (s, d) = (start.to_f64_vec()[0], delta.to_f64_vec()[0]);
        let values: Vec<f64> = (0..n).map(|i| s + i as f64 * d).collect();
        return Ok(vec![Tensor::from_f64(dtype, vec![n], &values)?]);
    }
    let (s, d) = (start.to_i128_vec()[0], delta.to_i128_vec()[0]);
    let values: Vec<i128> = (0..n as i128).map(|i| s + i * d).collect();
    Ok(vec![Tensor::from_i128(dtype, vec![n], &values)?])
}

pub fn eye_like(
    dtype: Option<DType>,
    k: i64,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let &[rows, cols] = x.shape() else {
        op_bail!("input must be 2-D, got shape {}", list(x.shape()));
    };
    let dtype = dtype.unwrap_or(x.dtype());
    let values: Vec<i128> = (0..rows as i128)
        .flat_map(|i| (0..cols as i128).map(move |j| i128::from(j - i == k as i128)))
        .collect();
    Ok(vec![Tensor::from_i128(dtype, vec![rows, cols], &values)?])
}

pub fn trilu(upper: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let k = opt(inputs, 1)
        .map(|t| single_i64(t, "k"))
        .transpose()?
        .unwrap_or(0);
    if x.rank() < 2 {
        op_bail!(
            "input must have rank 2 or more, got shape {}",
            list(x.shape())
        );
    }
    let data = crate::map_data!(x.data(), v => trilu_typed(v, x.shape(), upper, k));
    Ok(vec![Tensor::new(x.dtype(), x.shape().to_vec(), data)?])
}

/// Zeroes the elements outside the kept triangle of each matrix in the last two axes: `upper`
/// keeps `j - i >= k`, lower keeps `j - i <= k`.
fn trilu_typed<T: Copy + Default>(v: &[T], shape: &[usize], upper: bool, k: i64) -> Vec<T> {
    let (rows, cols) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let mut out = v.to_vec();
    if rows == 0 || cols == 0 {
        return out;
    }
    for (idx, matrix_row) in out.chunks_mut(cols).enumerate() {
        let i = (idx % rows) as i128;
        for (j, x) in matrix_row.iter_mut().enumerate() {
            let diag = j as i128 - i;
            let keep = if upper {
                diag >= k as i128
            } else {
                diag <= k as i128
            };
            if !keep {
                *x = T::default();
            }
        }
    }
    out
}
