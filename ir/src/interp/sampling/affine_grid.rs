//! `AffineGrid`: the normalized sampling grid of a batch of affine transforms `theta`
//! (N, 2, 3) or (N, 3, 4) over an output of `size` (N, C, H, W) or (N, C, D, H, W).

use crate::error::OpError;
use crate::interp::req;
use crate::op_err;
use crate::tensor::Tensor;

/// The normalized coordinate of position `i` of an axis of `size` positions.
fn base_coordinate(i: usize, size: usize, align_corners: bool) -> f64 {
    if align_corners {
        if size <= 1 {
            -1.0
        } else {
            -1.0 + 2.0 * i as f64 / (size as f64 - 1.0)
        }
    } else {
        -1.0 + (2.0 * i as f64 + 1.0) / size as f64
    }
}

/// Checks `size` against `theta` and returns the spatial sizes.
pub(crate) fn spatial_sizes(size: &[i64], theta_shape: &[usize]) -> Result<Vec<usize>, OpError> {
    if size.len() != 4 && size.len() != 5 {
        return Err(op_err!("size must have 4 or 5 values, got {size:?}"));
    }
    if let Some(bad) = size.iter().find(|&&s| s < 0) {
        return Err(op_err!(
            "size values must be non-negative, got {bad} in {size:?}"
        ));
    }
    let k = size.len() - 2;
    if theta_shape.len() != 3
        || theta_shape[1] != k
        || theta_shape[2] != k + 1
        || theta_shape[0] as i64 != size[0]
    {
        return Err(op_err!(
            "theta must have shape [{}, {k}, {}] for size {size:?}, got {theta_shape:?}",
            size[0],
            k + 1
        ));
    }
    Ok(size[2..].iter().map(|&s| s as usize).collect())
}

/// inputs: theta, size.
pub fn affine_grid(
    align_corners: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let theta = req(inputs, 0)?;
    let size = req(inputs, 1)?.to_i64_vec()?;
    if !theta.dtype().is_float() {
        return Err(op_err!(
            "theta must be floating point, got {}",
            theta.dtype()
        ));
    }
    let spatial = spatial_sizes(&size, theta.shape())?;
    let k = spatial.len();
    let n = theta.shape()[0];
    let positions: usize = spatial.iter().product();
    let tv = theta.to_f64_vec();
    let mut out = Vec::with_capacity(n * positions * k);
    let mut homogeneous = vec![1.0f64; k + 1];
    for b in 0..n {
        let t = &tv[b * k * (k + 1)..(b + 1) * k * (k + 1)];
        for p in 0..positions {
            // Homogeneous coordinates list the innermost axis first, then a trailing 1.
            let mut rest = p;
            for a in (0..k).rev() {
                let i = rest % spatial[a];
                rest /= spatial[a];
                homogeneous[k - 1 - a] = base_coordinate(i, spatial[a], align_corners);
            }
            for row in t.chunks_exact(k + 1) {
                out.push(row.iter().zip(&homogeneous).map(|(a, b)| a * b).sum());
            }
        }
    }
    let mut shape = vec![n];
    shape.extend_from_slice(&spatial);
    shape.push(k);
    Ok(vec![Tensor::from_f64(theta.dtype(), shape, &out)?])
}
