//! Shape and dtype rules for the signal-processing ops: DFT, STFT and the window generators.
//! Lengths given by constant inputs become static dims; others fresh symbolic dims.

use super::{Known, fresh_dim, opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::signal::{dft_sizes, scalar_int};
use crate::op_bail;
use crate::shape::{Dim, TensorType, display_shape, normalize_axis};

/// A constant non-negative scalar input's value, if known.
fn known_len(k: Option<Known>, name: &str) -> Result<Option<usize>, OpError> {
    match k.and_then(|k| k.value) {
        Some(v) => {
            let l = scalar_int(v, name)?;
            usize::try_from(l)
                .map(Some)
                .map_err(|_| crate::op_err!("{name} {l} is negative"))
        }
        None => Ok(None),
    }
}

pub fn window(dtype: DType, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    if !dtype.is_float() {
        op_bail!("output_datatype must be a floating-point type, got {dtype:?}");
    }
    let size = known_len(Some(req(inputs, 0)?), "size")?;
    let dim = size.map_or_else(|| fresh_dim("window"), Dim::Static);
    Ok(vec![TensorType::new(dtype, vec![dim])])
}

pub fn dft(
    inverse: bool,
    onesided: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    if !dtype.is_float() {
        op_bail!("input must be a floating-point tensor, got {dtype:?}");
    }
    let Some(xs) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType { dtype, shape: None }]);
    };
    let rank = xs.len();
    if rank < 2 {
        op_bail!("input must have rank >= 2, got shape {}", display_shape(xs));
    }
    let axis = match opt(inputs, 2) {
        Some(a) => match a.value {
            Some(v) => scalar_int(v, "axis")?,
            None => return Ok(vec![TensorType { dtype, shape: None }]),
        },
        None => -2,
    };
    let axis = normalize_axis(axis, rank)?;
    if axis == rank - 1 {
        op_bail!("axis {axis} is the complex dim of an input of rank {rank}");
    }
    let dft_length = match opt(inputs, 1) {
        Some(l) => match known_len(Some(l), "dft_length")? {
            Some(l) => Some(l),
            None => {
                let mut shape = xs.to_vec();
                shape[axis] = fresh_dim("dft");
                shape[rank - 1] = Dim::Static(if inverse && onesided { 1 } else { 2 });
                return Ok(vec![TensorType::new(dtype, shape)]);
            }
        },
        None => None,
    };
    let mut shape = xs.to_vec();
    shape[axis] = match (&xs[axis], dft_length) {
        (Dim::Static(n), l) => Dim::Static(dft_sizes(*n, l, inverse, onesided).1),
        (_, Some(l)) => Dim::Static(dft_sizes(0, Some(l), inverse, onesided).1),
        (d, None) if !onesided => d.clone(),
        (_, None) => fresh_dim("dft"),
    };
    shape[rank - 1] = Dim::Static(if inverse && onesided { 1 } else { 2 });
    Ok(vec![TensorType::new(dtype, shape)])
}

pub fn stft(onesided: bool, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    if !dtype.is_float() {
        op_bail!("signal must be a floating-point tensor, got {dtype:?}");
    }
    let Some(xs) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType { dtype, shape: None }]);
    };
    if xs.len() != 3 {
        op_bail!("signal must have rank 3, got shape {}", display_shape(xs));
    }
    let step = known_len(Some(req(inputs, 1)?), "frame_step")?;
    let window_len = match opt(inputs, 2).and_then(|w| w.ty.shape.clone()) {
        Some(ws) => match ws.as_slice() {
            [Dim::Static(n)] => Some(*n),
            _ => None,
        },
        None => None,
    };
    let frame_length = match opt(inputs, 3) {
        Some(l) => known_len(Some(l), "frame_length")?,
        None if opt(inputs, 2).is_some() => window_len,
        None => match xs[1] {
            Dim::Static(n) => Some(n),
            Dim::Symbolic(_) => None,
        },
    };
    let frames = match (&xs[1], frame_length, step) {
        (Dim::Static(len), Some(fl), Some(step)) if step > 0 && fl <= *len => {
            Dim::Static(1 + (len - fl) / step)
        }
        _ => fresh_dim("frames"),
    };
    let bins = match frame_length {
        Some(fl) => Dim::Static(if onesided { fl / 2 + 1 } else { fl }),
        None => fresh_dim("bins"),
    };
    Ok(vec![TensorType::new(
        dtype,
        vec![xs[0].clone(), frames, bins, Dim::Static(2)],
    )])
}

pub fn mel_weight_matrix(
    dtype: DType,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    if !dtype.is_float() {
        op_bail!("output_datatype must be a floating-point type, got {dtype:?}");
    }
    let mel_bins = known_len(Some(req(inputs, 0)?), "num_mel_bins")?;
    let dft_length = known_len(Some(req(inputs, 1)?), "dft_length")?;
    let rows = dft_length.map_or_else(|| fresh_dim("spectrogram_bins"), |l| Dim::Static(l / 2 + 1));
    let cols = mel_bins.map_or_else(|| fresh_dim("mel_bins"), Dim::Static);
    Ok(vec![TensorType::new(dtype, vec![rows, cols])])
}
