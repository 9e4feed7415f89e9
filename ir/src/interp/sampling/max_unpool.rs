//! `MaxUnpool`: scatters pooled values `x` back to the flat positions `indices` (as MaxPool
//! returns them) of the unpooled tensor, zeros elsewhere.

use crate::error::OpError;
use crate::interp::{opt, req};
use crate::op_err;
use crate::tensor::Tensor;

/// The unpooled shape of `x_shape` for the given pooling geometry (empty pads and strides
/// take the defaults: 0 and 1).
pub(crate) fn unpooled_shape(
    x_shape: &[usize],
    kernel_shape: &[usize],
    pads: &[usize],
    strides: &[usize],
) -> Result<Vec<usize>, OpError> {
    let k = kernel_shape.len();
    if x_shape.len() != k + 2 {
        return Err(op_err!(
            "x must have rank {} for a {k}-D kernel, got shape {x_shape:?}",
            k + 2
        ));
    }
    if !pads.is_empty() && pads.len() != 2 * k {
        return Err(op_err!("pads must have {} values, got {pads:?}", 2 * k));
    }
    if !strides.is_empty() && strides.len() != k {
        return Err(op_err!("strides must have {k} values, got {strides:?}"));
    }
    let mut out = x_shape[..2].to_vec();
    for d in 0..k {
        let stride = strides.get(d).copied().unwrap_or(1);
        let pad = pads.get(d).copied().unwrap_or(0) + pads.get(k + d).copied().unwrap_or(0);
        let size =
            (x_shape[d + 2] as i128 - 1) * stride as i128 - pad as i128 + kernel_shape[d] as i128;
        let size = usize::try_from(size)
            .map_err(|_| op_err!("axis {} would unpool to negative size {size}", d + 2))?;
        out.push(size);
    }
    Ok(out)
}

/// inputs: x, indices, output_shape?.
pub fn max_unpool(
    kernel_shape: &[usize],
    pads: &[usize],
    strides: &[usize],
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    if indices.shape() != x.shape() {
        return Err(op_err!(
            "indices shape {:?} must equal x shape {:?}",
            indices.shape(),
            x.shape()
        ));
    }
    let inferred = unpooled_shape(x.shape(), kernel_shape, pads, strides)?;
    let out_shape = match opt(inputs, 2) {
        Some(s) => {
            let s = s.to_i64_vec()?;
            let s: Vec<usize> = s
                .iter()
                .map(|&d| usize::try_from(d))
                .collect::<Result<_, _>>()
                .map_err(|_| op_err!("output_shape {s:?} has a negative value"))?;
            if s.len() != inferred.len() || s.iter().zip(&inferred).any(|(o, i)| o < i) {
                return Err(op_err!(
                    "output_shape {s:?} must have rank {} and be at least the unpooled shape {inferred:?}",
                    inferred.len()
                ));
            }
            s
        }
        None => inferred.clone(),
    };
    let inferred_len: usize = inferred.iter().product();
    let out_len: usize = out_shape.iter().product();
    let rank = inferred.len();
    // Positions of the unpooled tensor land in the leading corner of the output.
    let target = |flat: usize| {
        let (mut rest, mut offset, mut stride) = (flat, 0usize, 1usize);
        for a in (0..rank).rev() {
            offset += (rest % inferred[a]) * stride;
            rest /= inferred[a];
            stride *= out_shape[a];
        }
        offset
    };
    let mut positions = Vec::with_capacity(indices.len());
    for i in indices.to_i64_vec()? {
        let flat = usize::try_from(i)
            .ok()
            .filter(|&f| f < inferred_len)
            .ok_or_else(|| {
                op_err!("indices value {i} is out of range for {inferred_len} unpooled elements")
            })?;
        positions.push(target(flat));
    }
    let data = crate::map_data!(x.data(), v => {
        let mut o = vec![Default::default(); out_len];
        for (value, &p) in v.iter().zip(&positions) {
            o[p] = *value;
        }
        o
    });
    Ok(vec![Tensor::new(x.dtype(), out_shape, data)?])
}
