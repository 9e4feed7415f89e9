//! `RoiAlign`: average or max pools bilinear samples of `x` (N, C, H, W) over each region
//! of interest `rois` (R, 4: x1, y1, x2, y2) of image `batch_indices[r]`.

use crate::error::OpError;
use crate::interp::req;
use crate::op::{RoiAlignAttrs, RoiPoolMode};
use crate::op_err;
use crate::tensor::Tensor;

/// The most samples along one axis of a bin; more means a degenerate roi, not a real model.
const MAX_SAMPLES_PER_BIN: usize = 1 << 20;
/// The most samples one roi may take over all its bins.
const MAX_SAMPLES_PER_ROI: usize = 1 << 26;

/// The four (element offset, weight) taps of a bilinear sample at (y, x) in an `h` x `w`
/// plane; all weights are 0 for samples more than one pixel outside.
fn bilinear_taps(y: f64, x: f64, h: usize, w: usize) -> [(usize, f64); 4] {
    let (hf, wf) = (h as f64, w as f64);
    if !(y >= -1.0 && y <= hf && x >= -1.0 && x <= wf) {
        return [(0, 0.0); 4];
    }
    let axis = |v: f64, size: usize| {
        let v = v.max(0.0);
        let low = v as usize;
        if low >= size - 1 {
            (size - 1, size - 1, 0.0)
        } else {
            (low, low + 1, v - low as f64)
        }
    };
    let (y_low, y_high, ly) = axis(y, h);
    let (x_low, x_high, lx) = axis(x, w);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    [
        (y_low * w + x_low, hy * hx),
        (y_low * w + x_high, hy * lx),
        (y_high * w + x_low, ly * hx),
        (y_high * w + x_high, ly * lx),
    ]
}

/// The number of samples along one axis of a bin.
fn samples_per_bin(ratio: usize, roi_size: f64, bins: usize) -> Result<usize, OpError> {
    let n = if ratio > 0 {
        ratio as f64
    } else {
        (roi_size / bins as f64).ceil()
    };
    if n > MAX_SAMPLES_PER_BIN as f64 {
        return Err(op_err!(
            "roi of size {roi_size} would take {n} samples per bin, more than {MAX_SAMPLES_PER_BIN}"
        ));
    }
    // NaN and negative sizes take no samples.
    Ok(if n > 0.0 { n as usize } else { 0 })
}

/// inputs: x, rois, batch_indices.
pub fn roi_align(a: &RoiAlignAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let rois = req(inputs, 1)?;
    let batch_indices = req(inputs, 2)?.to_i64_vec()?;
    if !x.dtype().is_float() {
        return Err(op_err!("x must be floating point, got {}", x.dtype()));
    }
    let &[n, c, h, w] = x.shape() else {
        return Err(op_err!(
            "x must be 4-D (N, C, H, W), got shape {:?}",
            x.shape()
        ));
    };
    let r = batch_indices.len();
    if rois.shape() != [r, 4] {
        return Err(op_err!(
            "rois must have shape [{r}, 4] for {r} batch indices, got {:?}",
            rois.shape()
        ));
    }
    let (ph, pw) = (a.output_height, a.output_width);
    let out_shape = vec![r, c, ph, pw];
    let out_len = [r, c, ph, pw]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| op_err!("output shape {out_shape:?} is too large"))?;
    if out_len == 0 {
        return Ok(vec![Tensor::from_f64(x.dtype(), out_shape, &[])?]);
    }
    if h == 0 || w == 0 {
        return Err(op_err!(
            "x has an empty spatial axis, shape {:?}",
            x.shape()
        ));
    }
    let xv = x.to_f64_vec();
    let rv = rois.to_f64_vec();
    let scale = f64::from(a.spatial_scale);
    let offset = if a.half_pixel { 0.5 } else { 0.0 };
    let mut out = Vec::with_capacity(out_len);
    for (roi, &b) in rv.chunks_exact(4).zip(&batch_indices) {
        let b = usize::try_from(b)
            .ok()
            .filter(|&b| b < n)
            .ok_or_else(|| op_err!("batch index {b} is out of range for batch size {n}"))?;
        let [x1, y1, x2, y2] = [0, 1, 2, 3].map(|i| roi[i] * scale - offset);
        let (mut roi_w, mut roi_h) = (x2 - x1, y2 - y1);
        if !a.half_pixel {
            roi_w = roi_w.max(1.0);
            roi_h = roi_h.max(1.0);
        }
        let (bin_h, bin_w) = (roi_h / ph as f64, roi_w / pw as f64);
        let grid_h = samples_per_bin(a.sampling_ratio, roi_h, ph)?;
        let grid_w = samples_per_bin(a.sampling_ratio, roi_w, pw)?;
        let n_samples = (grid_h * grid_w)
            .checked_mul(ph * pw)
            .filter(|&s| s <= MAX_SAMPLES_PER_ROI)
            .ok_or_else(|| {
                op_err!("roi would take {grid_h} x {grid_w} samples in each of {ph} x {pw} bins, too many")
            })?;
        let count = (grid_h * grid_w).max(1) as f64;
        // Taps of every sample of every bin, bin-major.
        let mut taps = Vec::with_capacity(n_samples);
        for py in 0..ph {
            for px in 0..pw {
                for iy in 0..grid_h {
                    let y = y1 + py as f64 * bin_h + (iy as f64 + 0.5) * bin_h / grid_h as f64;
                    for ix in 0..grid_w {
                        let xx = x1 + px as f64 * bin_w + (ix as f64 + 0.5) * bin_w / grid_w as f64;
                        taps.push(bilinear_taps(y, xx, h, w));
                    }
                }
            }
        }
        let per_bin = grid_h * grid_w;
        for ch in 0..c {
            let plane = &xv[(b * c + ch) * h * w..(b * c + ch + 1) * h * w];
            for bin in 0..ph * pw {
                let samples = &taps[bin * per_bin..(bin + 1) * per_bin];
                let value = match a.mode {
                    RoiPoolMode::Avg => {
                        let sum: f64 = samples.iter().flatten().map(|&(i, wt)| wt * plane[i]).sum();
                        sum / count
                    }
                    // As the reference does: the largest weighted tap of each sample.
                    RoiPoolMode::Max => samples
                        .iter()
                        .map(|s| {
                            s.iter()
                                .map(|&(i, wt)| wt * plane[i])
                                .fold(f64::NEG_INFINITY, f64::max)
                        })
                        .reduce(f64::max)
                        .unwrap_or(0.0),
                };
                out.push(value);
            }
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), out_shape, &out)?])
}
