//! Shape and dtype rules for the data-moving layout ops: transpose, concat, split, slice,
//! expand, tile, pad and the depth/space shuffles.

use super::dims::{fresh_dims, known_i64s, product_dim, static_len};
use crate::error::OpError;
use crate::infer::{Known, fresh_dim, opt, req};
use crate::interp::layout::params::{
    clamp_slice, pad_amounts, padded_dim, resolve_perm, slice_specs, split_sizes,
};
use crate::interp::layout::shape_input;
use crate::interp::util::normalize_axes;
use crate::op::{DepthToSpaceMode, PadMode};
use crate::op_bail;
use crate::shape::{
    Dim, Shape, TensorType, broadcast_dims, display_shape, normalize_axis, static_shape,
};

pub fn transpose(
    perm: Option<&[usize]>,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let shape = match (x.ty.shape.as_deref(), perm) {
        (Some(d), _) => {
            let perm = resolve_perm(perm, d.len())?;
            Some(perm.iter().map(|&p| d[p].clone()).collect())
        }
        (None, Some(p)) => Some(fresh_dims(p.len(), "transpose")),
        (None, None) => None,
    };
    Ok(vec![TensorType {
        dtype: x.ty.dtype,
        shape,
    }])
}

pub fn concat(axis: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let parts = (0..inputs.len())
        .map(|i| req(inputs, i))
        .collect::<Result<Vec<Known>, OpError>>()?;
    let Some(first) = parts.first() else {
        op_bail!("Concat needs at least one input");
    };
    let dtype = first.ty.dtype;
    if let Some((i, p)) = parts.iter().enumerate().find(|(_, p)| p.ty.dtype != dtype) {
        op_bail!("input {i} is {}, but input 0 is {dtype}", p.ty.dtype);
    }
    let shapes: Vec<Option<&[Dim]>> = parts.iter().map(|p| p.ty.shape.as_deref()).collect();
    let Some(rank) = shapes.iter().flatten().map(|s| s.len()).next() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    if let Some((i, s)) = shapes
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.filter(|s| s.len() != rank).map(|s| (i, s)))
    {
        op_bail!(
            "input {i} has rank {}, but the others have rank {rank}",
            s.len()
        );
    }
    let a = normalize_axis(axis, rank)?;
    let mut shape: Shape = Vec::with_capacity(rank);
    for d in 0..rank {
        if d == a {
            let along: Option<Vec<Dim>> = shapes.iter().map(|s| s.map(|s| s[a].clone())).collect();
            shape.push(match along {
                Some(dims) => sum_dims(&dims),
                None => fresh_dim("concat"),
            });
            continue;
        }
        let mut unified: Option<Dim> = None;
        for (i, s) in shapes.iter().enumerate() {
            let Some(s) = s else { continue };
            unified = Some(match (unified, &s[d]) {
                (None, x) => x.clone(),
                (Some(Dim::Static(p)), Dim::Static(q)) if p != *q => op_bail!(
                    "input {i} has shape {}, whose dim {d} ({q}) differs from {p} in the other inputs",
                    display_shape(s)
                ),
                (Some(Dim::Symbolic(_)), x @ Dim::Static(_)) => x.clone(),
                (Some(u), _) => u,
            });
        }
        shape.push(unified.unwrap_or_else(|| fresh_dim("concat")));
    }
    Ok(vec![TensorType::new(dtype, shape)])
}

/// The sum of dims along a concat axis: static when all are, the one symbol when every other
/// dim is 0, otherwise fresh.
fn sum_dims(dims: &[Dim]) -> Dim {
    let mut symbols = dims.iter().filter(|d| matches!(d, Dim::Symbolic(_)));
    let statics: usize = dims.iter().filter_map(Dim::as_static).sum();
    match (symbols.next(), symbols.next()) {
        (None, _) => Dim::Static(statics),
        (Some(s), None) if statics == 0 => s.clone(),
        _ => fresh_dim("concat"),
    }
}

pub fn split(
    axis: i64,
    num_outputs: usize,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let Some(in_dims) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype); n_outputs]);
    };
    let a = normalize_axis(axis, in_dims.len())?;
    let split_input = opt(inputs, 1);
    let sizes: Vec<Dim> = match (known_i64s(split_input)?, &in_dims[a]) {
        (Some(split), Dim::Static(d)) => static_shape(&split_sizes(*d, Some(&split), 0)?),
        (Some(split), Dim::Symbolic(_)) => split
            .iter()
            .map(|&s| match usize::try_from(s) {
                Ok(s) => Ok(Dim::Static(s)),
                Err(_) => Err(crate::op_err!("split has a negative size {s}")),
            })
            .collect::<Result<_, _>>()?,
        (None, Dim::Static(d)) if split_input.is_none() => {
            static_shape(&split_sizes(*d, None, num_outputs)?)
        }
        (None, d @ Dim::Symbolic(_)) if split_input.is_none() && num_outputs == 1 => {
            vec![d.clone()]
        }
        (None, _) => fresh_dims(n_outputs, "split"),
    };
    if sizes.len() != n_outputs {
        op_bail!(
            "split gives {} parts, but the node has {n_outputs} outputs",
            sizes.len()
        );
    }
    Ok(sizes
        .into_iter()
        .map(|size| {
            let mut shape = in_dims.to_vec();
            shape[a] = size;
            TensorType::new(dtype, shape)
        })
        .collect())
}

pub fn slice(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let Some(in_dims) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let rank = in_dims.len();
    let starts_input = req(inputs, 1)?;
    let (starts, ends) = (
        known_i64s(Some(starts_input))?,
        known_i64s(Some(req(inputs, 2)?))?,
    );
    let (axes_input, steps_input) = (opt(inputs, 3), opt(inputs, 4));
    let (axes, steps) = (known_i64s(axes_input)?, known_i64s(steps_input)?);
    let steps_known = steps_input.is_none() || steps.is_some();
    let axes_known = axes_input.is_none() || axes.is_some();
    let mut shape = in_dims.to_vec();
    if let (Some(starts), Some(ends), true, true) = (&starts, &ends, steps_known, axes_known) {
        for spec in slice_specs(rank, starts, ends, axes.as_deref(), steps.as_deref())? {
            shape[spec.axis] = match &in_dims[spec.axis] {
                Dim::Static(d) => Dim::Static(clamp_slice(spec, *d).count),
                whole @ Dim::Symbolic(_)
                    if spec.start == 0 && spec.step == 1 && spec.end >= i32::MAX as i64 =>
                {
                    whole.clone()
                }
                Dim::Symbolic(_) => fresh_dim("slice"),
            };
        }
        return Ok(vec![TensorType::new(dtype, shape)]);
    }
    // Some bounds are computed at run time: only the sliced axes change, if those are known.
    let sliced: Vec<usize> = match (&axes, axes_input) {
        (Some(a), _) => normalize_axes(a, rank)?,
        (None, None) => match starts
            .as_ref()
            .map(Vec::len)
            .or_else(|| static_len(starts_input.ty))
        {
            Some(n) if n <= rank => (0..n).collect(),
            Some(n) => op_bail!("starts has {n} entries, more than the rank {rank}"),
            None => (0..rank).collect(),
        },
        (None, Some(_)) => (0..rank).collect(),
    };
    for a in sliced {
        shape[a] = fresh_dim("slice");
    }
    Ok(vec![TensorType::new(dtype, shape)])
}

pub fn expand(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let target = req(inputs, 1)?;
    let dtype = x.ty.dtype;
    let Some(in_dims) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let shape = match target.value {
        Some(t) => Some(broadcast_dims(
            in_dims,
            &static_shape(&shape_input(t, "shape")?),
        )?),
        None => static_len(target.ty).map(|n| {
            // A static input dim other than 1 survives any legal target; the rest are unknown.
            let out_rank = n.max(in_dims.len());
            let lead = out_rank - in_dims.len();
            (0..out_rank)
                .map(|i| match i.checked_sub(lead).map(|j| &in_dims[j]) {
                    Some(d @ Dim::Static(s)) if *s != 1 => d.clone(),
                    _ => fresh_dim("expand"),
                })
                .collect()
        }),
    };
    Ok(vec![TensorType { dtype, shape }])
}

pub fn tile(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let repeats = req(inputs, 1)?;
    let dtype = x.ty.dtype;
    let Some(in_dims) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let shape = match repeats.value {
        Some(r) => {
            let r = shape_input(r, "repeats")?;
            if r.len() != in_dims.len() {
                op_bail!(
                    "repeats has {} entries, but the input has shape {}",
                    r.len(),
                    display_shape(in_dims)
                );
            }
            in_dims
                .iter()
                .zip(r)
                .map(|(d, r)| product_dim(&[d.clone(), Dim::Static(r)], "tile"))
                .collect()
        }
        None => fresh_dims(in_dims.len(), "tile"),
    };
    Ok(vec![TensorType::new(dtype, shape)])
}

pub fn pad(_mode: PadMode, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let Some(in_dims) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let rank = in_dims.len();
    let axes_input = opt(inputs, 3);
    let axes = known_i64s(axes_input)?;
    let pads = known_i64s(Some(req(inputs, 1)?))?;
    let mut shape = in_dims.to_vec();
    match (pads, axes_input.is_none() || axes.is_some()) {
        (Some(pads), true) => {
            let amounts = pad_amounts(rank, &pads, axes.as_deref())?;
            for (d, p) in shape.iter_mut().zip(amounts) {
                *d = match d {
                    Dim::Static(n) => Dim::Static(padded_dim(*n, p)?),
                    Dim::Symbolic(_) if p == (0, 0) => continue,
                    Dim::Symbolic(_) => fresh_dim("pad"),
                };
            }
        }
        (None, true) => {
            let padded = match &axes {
                Some(a) => normalize_axes(a, rank)?,
                None => (0..rank).collect(),
            };
            for a in padded {
                shape[a] = fresh_dim("pad");
            }
        }
        (_, false) => shape = fresh_dims(rank, "pad"),
    }
    Ok(vec![TensorType::new(dtype, shape)])
}

pub fn depth_to_space(
    blocksize: usize,
    _mode: DepthToSpaceMode,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let Some([n, c, h, w]) = nchw(x.ty)? else {
        return Ok(vec![TensorType::new(
            x.ty.dtype,
            fresh_dims(4, "depth_to_space"),
        )]);
    };
    let b = blocksize;
    if b == 0 {
        op_bail!("blocksize must be positive");
    }
    let channels = match c {
        Dim::Static(c) if c % (b * b) != 0 => {
            op_bail!("channels {c} are not a multiple of blocksize² ({b}²)")
        }
        Dim::Static(c) => Dim::Static(c / (b * b)),
        Dim::Symbolic(_) if b == 1 => c,
        Dim::Symbolic(_) => fresh_dim("depth_to_space"),
    };
    let scale = |d: Dim| product_dim(&[d, Dim::Static(b)], "depth_to_space");
    Ok(vec![TensorType::new(
        x.ty.dtype,
        vec![n, channels, scale(h), scale(w)],
    )])
}

pub fn space_to_depth(
    blocksize: usize,
    _mode: DepthToSpaceMode,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let Some([n, c, h, w]) = nchw(x.ty)? else {
        return Ok(vec![TensorType::new(
            x.ty.dtype,
            fresh_dims(4, "space_to_depth"),
        )]);
    };
    let b = blocksize;
    if b == 0 {
        op_bail!("blocksize must be positive");
    }
    let shrink = |d: Dim| -> Result<Dim, OpError> {
        Ok(match d {
            Dim::Static(s) if s % b != 0 => {
                op_bail!("spatial dim {s} is not a multiple of blocksize {b}")
            }
            Dim::Static(s) => Dim::Static(s / b),
            d @ Dim::Symbolic(_) if b == 1 => d,
            Dim::Symbolic(_) => fresh_dim("space_to_depth"),
        })
    };
    let channels = product_dim(&[c, Dim::Static(b * b)], "space_to_depth");
    Ok(vec![TensorType::new(
        x.ty.dtype,
        vec![n, channels, shrink(h)?, shrink(w)?],
    )])
}

/// The four dims of an NCHW input, `None` when the rank is unknown.
fn nchw(ty: &TensorType) -> Result<Option<[Dim; 4]>, OpError> {
    match ty.shape.as_deref() {
        None => Ok(None),
        Some([n, c, h, w]) => Ok(Some([n.clone(), c.clone(), h.clone(), w.clone()])),
        Some(s) => op_bail!(
            "input must be 4-D (N,C,H,W), got shape {}",
            display_shape(s)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::tensor::Tensor;

    fn sym(s: &str) -> Dim {
        Dim::Symbolic(s.into())
    }

    #[test]
    fn concat_sums_the_axis_and_unifies_the_rest() {
        let a = TensorType::new(DType::F32, vec![sym("b"), Dim::Static(2)]);
        let b = TensorType::new(DType::F32, vec![Dim::Static(5), Dim::Static(3)]);
        let inputs = [
            Some(Known {
                ty: &a,
                value: None,
            }),
            Some(Known {
                ty: &b,
                value: None,
            }),
        ];
        let out = concat(-1, &inputs).unwrap();
        assert_eq!(out[0].shape, Some(vec![Dim::Static(5), Dim::Static(5)]));
        let c = TensorType::new(DType::F32, vec![Dim::Static(4), Dim::Static(3)]);
        let inputs = [
            Some(Known {
                ty: &b,
                value: None,
            }),
            Some(Known {
                ty: &c,
                value: None,
            }),
        ];
        assert!(concat(1, &inputs).is_err());
    }

    #[test]
    fn transpose_checks_and_permutes() {
        let x = TensorType::new(DType::F32, vec![sym("b"), Dim::Static(2), Dim::Static(3)]);
        let inputs = [Some(Known {
            ty: &x,
            value: None,
        })];
        let out = transpose(Some(&[2, 0, 1]), &inputs).unwrap();
        assert_eq!(
            out[0].shape,
            Some(vec![Dim::Static(3), sym("b"), Dim::Static(2)])
        );
        let e = transpose(Some(&[0, 0, 1]), &inputs).unwrap_err();
        assert_eq!(e.0, "perm [0,0,1] is not a permutation of 0..3");
    }

    #[test]
    fn slice_to_the_end_keeps_symbols_and_clamps_statics() {
        let x = TensorType::new(DType::F32, vec![sym("b"), Dim::Static(10)]);
        let one = TensorType::new(DType::I64, vec![Dim::Static(2)]);
        let t = |v: &[i64]| Tensor::from_i64(vec![2], v.to_vec()).unwrap();
        let (starts, ends, steps) = (t(&[0, -3]), t(&[i64::MAX, i64::MAX]), t(&[1, 1]));
        let k = |v| {
            Some(Known {
                ty: &one,
                value: Some(v),
            })
        };
        let inputs = [
            Some(Known {
                ty: &x,
                value: None,
            }),
            k(&starts),
            k(&ends),
            None,
            k(&steps),
        ];
        let out = slice(&inputs).unwrap();
        assert_eq!(out[0].shape, Some(vec![sym("b"), Dim::Static(3)]));
    }
}
