//! Kernels of the signal-processing ops: DFT, STFT and the window generators, computed in f64.

use super::{opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::WindowKind;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;
use crate::{op_bail, op_err};
use std::f64::consts::PI;

/// A scalar (or one-element) integer input.
pub fn scalar_int(t: &Tensor, name: &str) -> Result<i64, OpError> {
    let v = t.to_i64_vec()?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(op_err!(
            "{name} must hold one value, got shape {:?}",
            t.shape()
        )),
    }
}

/// The window of `size` samples; `periodic` windows divide by `size`, symmetric ones by
/// `size - 1`.
pub fn window(
    kind: WindowKind,
    periodic: bool,
    dtype: DType,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let size = scalar_int(req(inputs, 0)?, "size")?;
    let size = usize::try_from(size).map_err(|_| op_err!("size {size} is negative"))?;
    if !dtype.is_float() {
        op_bail!("output_datatype must be a floating-point type, got {dtype:?}");
    }
    let denom = if periodic {
        size as f64
    } else {
        size as f64 - 1.0
    };
    let values: Vec<f64> = (0..size)
        .map(|n| {
            let phase = 2.0 * PI * n as f64 / denom;
            match kind {
                WindowKind::Hann => (PI * n as f64 / denom).sin().powi(2),
                WindowKind::Hamming => 25.0 / 46.0 - (21.0 / 46.0) * phase.cos(),
                WindowKind::Blackman => 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos(),
            }
        })
        .collect();
    Ok(vec![Tensor::from_f64(dtype, vec![size], &values)?])
}

/// The DFT of a complex sequence (zero-padded or truncated to `len`), bins `0..bins`;
/// `sign` is -1 for the forward transform and +1 for the inverse (unscaled).
fn dft(re: &[f64], im: &[f64], len: usize, bins: usize, sign: f64) -> (Vec<f64>, Vec<f64>) {
    let n = re.len().min(len);
    let mut out_re = vec![0.0; bins];
    let mut out_im = vec![0.0; bins];
    for k in 0..bins {
        let (mut sr, mut si) = (0.0, 0.0);
        for t in 0..n {
            // Reduce k*t mod len first so the angle stays small and exact.
            let angle = sign * 2.0 * PI * ((k * t) % len) as f64 / len as f64;
            let (s, c) = angle.sin_cos();
            sr += re[t] * c - im[t] * s;
            si += re[t] * s + im[t] * c;
        }
        out_re[k] = sr;
        out_im[k] = si;
    }
    (out_re, out_im)
}

/// The output length along the axis and the default `dft_length`.
pub fn dft_sizes(
    n: usize,
    dft_length: Option<usize>,
    inverse: bool,
    onesided: bool,
) -> (usize, usize) {
    let len = dft_length.unwrap_or(if inverse && onesided {
        2 * n.saturating_sub(1)
    } else {
        n
    });
    let out = if onesided && !inverse {
        len / 2 + 1
    } else {
        len
    };
    (len, out)
}

/// DFT. Inputs: input `[..., n, ..., 1 | 2]`, dft_length?, axis (the importer always gives it).
pub fn dft_op(
    inverse: bool,
    onesided: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let rank = x.rank();
    let complex_dim = *x
        .shape()
        .last()
        .ok_or_else(|| op_err!("input must have rank >= 2"))?;
    if rank < 2 || !(complex_dim == 1 || complex_dim == 2) {
        op_bail!(
            "input must have rank >= 2 and last dim 1 or 2, got shape {:?}",
            x.shape()
        );
    }
    if !x.dtype().is_float() {
        op_bail!("input must be a floating-point tensor, got {:?}", x.dtype());
    }
    let axis = match opt(inputs, 2) {
        Some(a) => scalar_int(a, "axis")?,
        None => -2,
    };
    let axis = normalize_axis(axis, rank)?;
    if axis == rank - 1 {
        op_bail!("axis {axis} is the complex dim of an input of rank {rank}");
    }
    let n = x.shape()[axis];
    let dft_length = match opt(inputs, 1) {
        Some(l) => {
            let l = scalar_int(l, "dft_length")?;
            Some(
                usize::try_from(l)
                    .ok()
                    .filter(|&l| l > 0)
                    .ok_or_else(|| op_err!("dft_length {l} must be positive"))?,
            )
        }
        None => None,
    };
    let (len, out_n) = dft_sizes(n, dft_length, inverse, onesided);
    if len == 0 {
        op_bail!("the transform length is 0");
    }
    let real_out = inverse && onesided;
    let out_complex = if real_out { 1 } else { 2 };
    let outer: usize = x.shape()[..axis].iter().product();
    let inner: usize = x.shape()[axis + 1..rank - 1].iter().product();
    let xv = x.to_f64_vec();
    let mut out_shape = x.shape().to_vec();
    out_shape[axis] = out_n;
    out_shape[rank - 1] = out_complex;
    let mut out = vec![0.0; outer * out_n * inner * out_complex];
    for o in 0..outer {
        for i in 0..inner {
            let at = |t: usize, c: usize| xv[((o * n + t) * inner + i) * complex_dim + c];
            let re: Vec<f64> = (0..n).map(|t| at(t, 0)).collect();
            let im: Vec<f64> = (0..n)
                .map(|t| if complex_dim == 2 { at(t, 1) } else { 0.0 })
                .collect();
            let (yr, yi) = if real_out {
                // Hermitian extension of the one-sided spectrum (bins past the input are 0).
                let half = len / 2 + 1;
                let get = |k: usize| if k < n { (re[k], im[k]) } else { (0.0, 0.0) };
                let (full_re, full_im): (Vec<f64>, Vec<f64>) = (0..len)
                    .map(|k| {
                        if k < half {
                            get(k)
                        } else {
                            let (r, i) = get(len - k);
                            (r, -i)
                        }
                    })
                    .unzip();
                let (r, _) = dft(&full_re, &full_im, len, len, 1.0);
                (r.iter().map(|v| v / len as f64).collect(), Vec::new())
            } else if inverse {
                let (r, i) = dft(&re, &im, len, len, 1.0);
                (
                    r.iter().map(|v| v / len as f64).collect(),
                    i.iter().map(|v| v / len as f64).collect(),
                )
            } else {
                dft(&re, &im, len, out_n, -1.0)
            };
            for k in 0..out_n {
                let base = ((o * out_n + k) * inner + i) * out_complex;
                out[base] = yr[k];
                if !real_out {
                    out[base + 1] = yi[k];
                }
            }
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), out_shape, &out)?])
}

/// STFT. Inputs: signal `[batch, len, 1 | 2]`, frame_step, window?, frame_length?; output
/// `[batch, frames, bins, 2]`.
pub fn stft(onesided: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let [batch, len, complex_dim] = *x.shape() else {
        op_bail!(
            "signal must have shape [batch, length, 1 | 2], got {:?}",
            x.shape()
        );
    };
    if !(complex_dim == 1 || complex_dim == 2) {
        op_bail!("signal's last dim must be 1 or 2, got {complex_dim}");
    }
    if !x.dtype().is_float() {
        op_bail!(
            "signal must be a floating-point tensor, got {:?}",
            x.dtype()
        );
    }
    let step = scalar_int(req(inputs, 1)?, "frame_step")?;
    let step = usize::try_from(step)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| op_err!("frame_step {step} must be positive"))?;
    let window = opt(inputs, 2);
    if let Some(w) = window
        && w.rank() != 1
    {
        op_bail!("window must have rank 1, got shape {:?}", w.shape());
    }
    let frame_length = match (opt(inputs, 3), window) {
        (Some(l), _) => {
            let l = scalar_int(l, "frame_length")?;
            usize::try_from(l)
                .ok()
                .filter(|&l| l > 0)
                .ok_or_else(|| op_err!("frame_length {l} must be positive"))?
        }
        (None, Some(w)) => w.len(),
        (None, None) => len,
    };
    let window: Vec<f64> = match window {
        Some(w) if w.len() == frame_length => w.to_f64_vec(),
        Some(w) => op_bail!(
            "window has {} samples but frame_length is {frame_length}",
            w.len()
        ),
        None => vec![1.0; frame_length],
    };
    if frame_length > len {
        op_bail!("frame_length {frame_length} exceeds the signal length {len}");
    }
    let frames = 1 + (len - frame_length) / step;
    let bins = if onesided {
        frame_length / 2 + 1
    } else {
        frame_length
    };
    let xv = x.to_f64_vec();
    let mut out = Vec::with_capacity(batch * frames * bins * 2);
    for b in 0..batch {
        for f in 0..frames {
            let start = f * step;
            let at = |t: usize, c: usize| xv[(b * len + start + t) * complex_dim + c];
            let re: Vec<f64> = (0..frame_length).map(|t| at(t, 0) * window[t]).collect();
            let im: Vec<f64> = (0..frame_length)
                .map(|t| {
                    if complex_dim == 2 {
                        at(t, 1) * window[t]
                    } else {
                        0.0
                    }
                })
                .collect();
            let (yr, yi) = dft(&re, &im, frame_length, bins, -1.0);
            for k in 0..bins {
                out.push(yr[k]);
                out.push(yi[k]);
            }
        }
    }
    Ok(vec![Tensor::from_f64(
        x.dtype(),
        vec![batch, frames, bins, 2],
        &out,
    )?])
}
