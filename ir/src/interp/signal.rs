//! Kernels of the signal-processing ops: DFT, STFT and the window generators, computed in f64.

use super::{opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::op::WindowKind;
use crate::shape::normalize_axis;
use crate::tensor::{Tensor, checked_numel};
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
    let mut out = vec![0.0; checked_numel(&out_shape)?];
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
    let mut out = Vec::with_capacity(checked_numel(&[batch, frames, bins, 2])?);
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

/// Hertz to mel as the ONNX reference computes it: the `log1p` in the input's precision.
fn hertz_to_mel(hz: f64, input: DType) -> f64 {
    let log = if input == DType::F32 {
        ((hz as f32) / 700.0).ln_1p() as f64
    } else {
        (hz / 700.0).ln_1p()
    };
    2595.0 * log / std::f64::consts::LN_10
}

/// MelWeightMatrix. Inputs: num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
/// upper_edge_hertz (scalars); output `[dft_length / 2 + 1, num_mel_bins]` of triangular
/// filters whose edges are spaced evenly on the mel scale.
pub fn mel_weight_matrix(dtype: DType, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    if !dtype.is_float() {
        op_bail!("output_datatype must be a floating-point type, got {dtype:?}");
    }
    let positive = |i: usize, name: &str| -> Result<usize, OpError> {
        let v = scalar_int(req(inputs, i)?, name)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| op_err!("{name} {v} must be positive"))
    };
    let num_mel_bins = positive(0, "num_mel_bins")?;
    let dft_length = positive(1, "dft_length")?;
    let sample_rate = positive(2, "sample_rate")?;
    let edge = |i: usize, name: &str| -> Result<(f64, DType), OpError> {
        let t = req(inputs, i)?;
        match t.to_f64_vec().as_slice() {
            [v] => Ok((*v, t.dtype())),
            _ => Err(op_err!(
                "{name} must hold one value, got shape {:?}",
                t.shape()
            )),
        }
    };
    let (lower, lower_dtype) = edge(3, "lower_edge_hertz")?;
    let (upper, upper_dtype) = edge(4, "upper_edge_hertz")?;
    let low_mel = hertz_to_mel(lower, lower_dtype);
    let high_mel = hertz_to_mel(upper, upper_dtype);
    let spectrogram_bins = dft_length / 2 + 1;
    let mel_step = (high_mel - low_mel) / (num_mel_bins + 2) as f64;
    // The filter edges as spectrogram bin indices.
    let edges: Vec<i64> = (0..num_mel_bins + 2)
        .map(|k| {
            let hz = 700.0
                * ((k as f64 * mel_step + low_mel) / 2595.0 * std::f64::consts::LN_10).exp_m1();
            ((dft_length + 1) as f64 * hz / sample_rate as f64).floor() as i64
        })
        .collect();
    let bin_index = |j: i64| -> Result<usize, OpError> {
        usize::try_from(j)
            .ok()
            .filter(|&j| j < spectrogram_bins)
            .ok_or_else(|| op_err!("mel filter edge at bin {j} is out of range for {spectrogram_bins} spectrogram bins"))
    };
    let mut out = vec![0.0; checked_numel(&[spectrogram_bins, num_mel_bins])?];
    for i in 0..num_mel_bins {
        let (low, center, high) = (edges[i], edges[i + 1], edges[i + 2]);
        if center == low {
            out[bin_index(center)? * num_mel_bins + i] = 1.0;
        } else {
            for j in low..=center {
                out[bin_index(j)? * num_mel_bins + i] = (j - low) as f64 / (center - low) as f64;
            }
        }
        if high > center {
            for j in center..high {
                out[bin_index(j)? * num_mel_bins + i] = (high - j) as f64 / (high - center) as f64;
            }
        }
    }
    Ok(vec![Tensor::from_f64(
        dtype,
        vec![spectrogram_bins, num_mel_bins],
        &out,
    )?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complex(re: &[f32]) -> Tensor {
        let mut v = Vec::new();
        for &r in re {
            v.extend([r, 0.0]);
        }
        Tensor::from_f32(vec![1, re.len(), 2], v).unwrap()
    }

    #[test]
    fn forward_then_inverse_restores_the_signal() {
        let x = complex(&[1.0, -2.0, 3.5, 0.25, 4.0]);
        let axis = Tensor::scalar_i64(1);
        let spectrum = dft_op(false, false, &[Some(&x), None, Some(&axis)]).unwrap();
        let back = dft_op(true, false, &[Some(&spectrum[0]), None, Some(&axis)]).unwrap();
        for (a, b) in back[0].to_f64_vec().iter().zip(x.to_f64_vec()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn impulse_has_a_flat_onesided_spectrum() {
        let x = complex(&[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let axis = Tensor::scalar_i64(1);
        let y = dft_op(false, true, &[Some(&x), None, Some(&axis)]).unwrap();
        assert_eq!(y[0].shape(), [1, 4, 2]);
        let v = y[0].to_f64_vec();
        for k in 0..4 {
            assert!((v[2 * k] - 1.0).abs() < 1e-12 && v[2 * k + 1].abs() < 1e-12);
        }
    }

    #[test]
    fn bad_axis_and_frame_step_are_errors() {
        let x = complex(&[1.0, 2.0]);
        let axis = Tensor::scalar_i64(2);
        let err = dft_op(false, false, &[Some(&x), None, Some(&axis)]).unwrap_err();
        assert!(err.to_string().contains("complex dim"), "{err}");
        let step = Tensor::scalar_i64(0);
        let err = stft(true, &[Some(&x), Some(&step), None, None]).unwrap_err();
        assert!(err.to_string().contains("frame_step"), "{err}");
    }

    #[test]
    fn symmetric_hann_window_is_zero_at_both_ends() {
        let size = Tensor::scalar_i64(5);
        let w = window(WindowKind::Hann, false, DType::F32, &[Some(&size)]).unwrap();
        let v = w[0].to_f64_vec();
        assert!(v[0].abs() < 1e-7 && v[4].abs() < 1e-7 && (v[2] - 1.0).abs() < 1e-7);
    }
}
