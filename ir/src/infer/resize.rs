//! Shape rule of `Resize`: the output keeps the input's dtype and rank; the resized axes take
//! the sizes that known `scales` or `sizes` values give (computed as the kernel does), else
//! fresh dims.

use super::{Known, fresh_dim, opt, req};
use crate::error::OpError;
use crate::interp::resize::{Request, plan, request, resize_axes, scaled_size};
use crate::op::{AspectRatioPolicy, ResizeAttrs};
use crate::op_err;
use crate::shape::{Dim, TensorType, display_shape};
use crate::tensor::Tensor;

/// What inference knows of the `scales` or `sizes` input.
enum Given<'a> {
    /// Omitted, or known to be empty.
    Absent,
    /// A known, non-empty value.
    Value(&'a Tensor),
    /// Given at run time.
    Unknown,
}

/// Classifies input `i` (`scales` or `sizes`) and checks a static length against the number of
/// resized axes.
fn given<'a>(
    inputs: &[Option<Known<'a>>],
    i: usize,
    name: &str,
    n_axes: usize,
) -> Result<Given<'a>, OpError> {
    let Some(k) = opt(inputs, i) else {
        return Ok(Given::Absent);
    };
    if let Some(t) = k.value {
        return Ok(if t.is_empty() {
            Given::Absent
        } else {
            Given::Value(t)
        });
    }
    match k.ty.shape.as_deref() {
        Some([Dim::Static(0)]) => Ok(Given::Absent),
        Some([Dim::Static(n)]) if *n != n_axes => Err(op_err!(
            "{name} has {n} values, but {n_axes} axes are resized"
        )),
        Some(s) if s.len() != 1 => Err(op_err!(
            "{name} must be 1-D, got shape {}",
            display_shape(s)
        )),
        _ => Ok(Given::Unknown),
    }
}

/// inputs: x, roi?, scales?, sizes?.
pub fn resize(a: &ResizeAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let Some(shape) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let axes = resize_axes(a, shape.len())?;
    let scales = given(inputs, 2, "scales", axes.len())?;
    let sizes = given(inputs, 3, "sizes", axes.len())?;
    let wanted = match (scales, sizes) {
        (Given::Absent, Given::Absent) => {
            return Err(op_err!("one of scales or sizes must be given"));
        }
        (Given::Value(_), Given::Value(_)) => {
            return Err(op_err!(
                "scales and sizes are both given; exactly one may be"
            ));
        }
        (Given::Value(s), _) => Some(request(Some(s), None, axes.len())?),
        (_, Given::Value(s)) => Some(request(None, Some(s), axes.len())?),
        (Given::Unknown, _) | (_, Given::Unknown) => None,
    };

    let mut out = shape.to_vec();
    let Some(wanted) = wanted else {
        for &ax in &axes {
            out[ax] = fresh_dim("resize");
        }
        return Ok(vec![TensorType::new(dtype, out)]);
    };
    let static_dims: Option<Vec<usize>> = axes.iter().map(|&ax| shape[ax].as_static()).collect();
    if let Some(dims) = static_dims {
        let plans = plan(a.keep_aspect_ratio_policy, &dims, &wanted)?;
        for (&ax, p) in axes.iter().zip(plans) {
            out[ax] = Dim::Static(p.size);
        }
        return Ok(vec![TensorType::new(dtype, out)]);
    }
    // Some resized dims are symbolic: decide each axis on its own where that is possible.
    for (k, &ax) in axes.iter().enumerate() {
        out[ax] = match (&wanted, shape[ax].as_static()) {
            (Request::Scales(s), Some(d)) => Dim::Static(scaled_size(s[k], d)?),
            (Request::Scales(s), None) if s[k] == 1.0 => shape[ax].clone(),
            (Request::Sizes(s), _) if a.keep_aspect_ratio_policy == AspectRatioPolicy::Stretch => {
                let size = usize::try_from(s[k])
                    .map_err(|_| op_err!("sizes value {} is negative", s[k]))?;
                Dim::Static(size)
            }
            _ => fresh_dim("resize"),
        };
    }
    Ok(vec![TensorType::new(dtype, out)])
}
