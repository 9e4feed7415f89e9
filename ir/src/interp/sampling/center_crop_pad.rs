//! `CenterCropPad`: crops or zero-pads the chosen axes of `x` to the sizes in `shape`,
//! keeping the centre.

use crate::error::OpError;
use crate::interp::req;
use crate::op_err;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

/// The (axis, target size) pairs of cropping/padding a rank-`rank` tensor on `axes` (all axes
/// when `None`) to `shape`.
pub(crate) fn crop_targets(
    rank: usize,
    axes: Option<&[i64]>,
    shape: &[i64],
) -> Result<Vec<(usize, usize)>, OpError> {
    let axes: Vec<usize> = match axes {
        Some(a) => a
            .iter()
            .map(|&ax| normalize_axis(ax, rank))
            .collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    if axes.len() != shape.len() {
        return Err(op_err!(
            "shape has {} values, but {} axes are cropped or padded",
            shape.len(),
            axes.len()
        ));
    }
    axes.iter()
        .zip(shape)
        .map(|(&a, &s)| {
            usize::try_from(s)
                .map(|s| (a, s))
                .map_err(|_| op_err!("shape value {s} for axis {a} is negative"))
        })
        .collect()
}

/// inputs: x, shape.
pub fn center_crop_pad(
    axes: Option<&[i64]>,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let shape = req(inputs, 1)?.to_i64_vec()?;
    let dims = x.shape();
    let mut out_dims = dims.to_vec();
    for (a, size) in crop_targets(dims.len(), axes, &shape)? {
        out_dims[a] = size;
    }
    let rank = dims.len();
    // Per axis, the input start of the copied window, the output start, and its length.
    let windows: Vec<(usize, usize, usize)> = dims
        .iter()
        .zip(&out_dims)
        .map(|(&d, &o)| {
            if o <= d {
                ((d - o) / 2, 0, o)
            } else {
                (0, (o - d) / 2, d)
            }
        })
        .collect();
    let out_len: usize = out_dims.iter().product();
    let mut in_strides = vec![1usize; rank];
    let mut out_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * dims[i + 1];
        out_strides[i] = out_strides[i + 1] * out_dims[i + 1];
    }
    let window_len: usize = windows.iter().map(|w| w.2).product();
    let mut src = Vec::with_capacity(window_len);
    let mut dst = Vec::with_capacity(window_len);
    for w in 0..window_len {
        let (mut rest, mut s, mut t) = (w, 0usize, 0usize);
        for a in (0..rank).rev() {
            let (in_start, out_start, len) = windows[a];
            let i = rest % len;
            rest /= len;
            s += (in_start + i) * in_strides[a];
            t += (out_start + i) * out_strides[a];
        }
        src.push(s);
        dst.push(t);
    }
    // Padding reads zero, the default of every storage type.
    let data = crate::map_data!(x.data(), v => {
        let mut o = vec![Default::default(); out_len];
        for (&s, &t) in src.iter().zip(&dst) {
            o[t] = v[s];
        }
        o
    });
    Ok(vec![Tensor::new(x.dtype(), out_dims, data)?])
}
