//! Normalizations: BatchNormalization (inference), InstanceNormalization, LayerNormalization,
//! GroupNormalization, RMSNormalization, LpNormalization and MeanVarianceNormalization.
//!
//! Statistics are computed in f64 and rounded once to the output dtype (and, for the mean and
//! inverse standard deviation LayerNormalization returns, to the stash type).

use super::{expect_float, expect_same_dtype, expect_vector, rounder};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::{broadcast_indices, normalize_axes};
use crate::interp::{opt, req};
use crate::op_bail;
use crate::shape::{broadcast, normalize_axis};
use crate::tensor::{Tensor, strides};

pub fn batch_norm(epsilon: f32, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    if x.rank() < 2 {
        op_bail!(
            "input must have rank >= 2 (N, C, ...), got shape {:?}",
            x.shape()
        );
    }
    let channels = x.shape()[1];
    let per_sample: usize = x.shape()[1..].iter().product();
    let spatial: usize = x.shape()[2..].iter().product();
    let names = ["scale", "bias", "mean", "var"];
    let mut params = Vec::with_capacity(4);
    let mut per_activation = false;
    for (k, name) in names.iter().enumerate() {
        let p = req(inputs, k + 1)?;
        expect_float(p, name)?;
        if p.shape() == [channels] {
            params.push((p.to_f64_vec(), false));
        } else if p.shape() == &x.shape()[1..] {
            per_activation = true;
            params.push((p.to_f64_vec(), true));
        } else {
            op_bail!(
                "{name} must have shape [{channels}] (per channel) or {:?} (per activation), got {:?}",
                &x.shape()[1..],
                p.shape()
            );
        }
    }
    // y = (x - mean) * mul + bias, with every parameter at one granularity.
    let n_params = if per_activation { per_sample } else { channels };
    let at = |(v, per_act): &(Vec<f64>, bool), i: usize| {
        if *per_act || !per_activation {
            v[i]
        } else {
            v[i / spatial.max(1)]
        }
    };
    let eps = epsilon as f64;
    let mut mul = Vec::with_capacity(n_params);
    let mut mean = Vec::with_capacity(n_params);
    let mut shift = Vec::with_capacity(n_params);
    for i in 0..n_params {
        mul.push(at(&params[0], i) / (at(&params[3], i) + eps).sqrt());
        mean.push(at(&params[2], i));
        shift.push(at(&params[1], i));
    }
    let param_of = |flat: usize| {
        let act = flat % per_sample.max(1);
        if per_activation {
            act
        } else {
            act / spatial.max(1)
        }
    };
    let apply = |flat: usize, v: f64| {
        (v - mean[param_of(flat)]) * mul[param_of(flat)] + shift[param_of(flat)]
    };
    let y = match x.as_f32() {
        Some(v) => {
            let out = v
                .iter()
                .enumerate()
                .map(|(i, &e)| apply(i, e as f64) as f32)
                .collect();
            Tensor::from_f32(x.shape().to_vec(), out)?
        }
        None => {
            let out: Vec<f64> = x
                .to_f64_vec()
                .into_iter()
                .enumerate()
                .map(|(i, e)| apply(i, e))
                .collect();
            Tensor::from_f64(x.dtype(), x.shape().to_vec(), &out)?
        }
    };
    Ok(vec![y])
}

pub fn instance_norm(epsilon: f32, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    if x.rank() < 2 {
        op_bail!(
            "input must have rank >= 2 (N, C, ...), got shape {:?}",
            x.shape()
        );
    }
    let channels = x.shape()[1];
    let scale = req(inputs, 1)?;
    let bias = req(inputs, 2)?;
    expect_vector(scale, channels, "scale")?;
    expect_vector(bias, channels, "bias")?;
    let (scale, bias) = (scale.to_f64_vec(), bias.to_f64_vec());
    let spatial: usize = x.shape()[2..].iter().product();
    let mut v = x.to_f64_vec();
    for (row, chunk) in v.chunks_mut(spatial.max(1)).enumerate() {
        let c = row % channels;
        let (mean, var) = mean_var(chunk);
        let inv = 1.0 / (var + epsilon as f64).sqrt();
        for e in chunk.iter_mut() {
            *e = (*e - mean) * inv * scale[c] + bias[c];
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), x.shape().to_vec(), &v)?])
}

pub fn layer_norm(
    axis: i64,
    epsilon: f32,
    stash_type: DType,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    let axis = normalize_axis(axis, x.rank())?;
    let scale = req(inputs, 1)?;
    expect_same_dtype(scale, x, "scale")?;
    let scale_at = unidirectional(scale, x.shape(), "scale")?;
    let bias = opt(inputs, 2);
    let bias_at = match bias {
        Some(b) => {
            expect_same_dtype(b, x, "bias")?;
            Some(unidirectional(b, x.shape(), "bias")?)
        }
        None => None,
    };
    let (scale, bias) = (scale.to_f64_vec(), bias.map(Tensor::to_f64_vec));
    let lane: usize = x.shape()[axis..].iter().product();
    let mut y = x.to_f64_vec();
    let mut means = Vec::new();
    let mut inv_stds = Vec::new();
    for (row, chunk) in y.chunks_mut(lane.max(1)).enumerate() {
        let (mean, var) = mean_var(chunk);
        let inv = 1.0 / (var + epsilon as f64).sqrt();
        for (k, e) in chunk.iter_mut().enumerate() {
            let i = row * lane + k;
            *e = (*e - mean) * inv * scale[scale_at[i]];
            if let (Some(b), Some(at)) = (&bias, &bias_at) {
                *e += b[at[i]];
            }
        }
        means.push(mean);
        inv_stds.push(inv);
    }
    if lane == 0 {
        let rows = x.shape()[..axis].iter().product();
        means = vec![f64::NAN; rows];
        inv_stds = vec![f64::NAN; rows];
    }
    let stat_shape: Vec<usize> = x
        .shape()
        .iter()
        .enumerate()
        .map(|(i, &d)| if i < axis { d } else { 1 })
        .collect();
    let mut out = vec![Tensor::from_f64(x.dtype(), x.shape().to_vec(), &y)?];
    for stat in [means, inv_stds].iter().take(n_outputs.saturating_sub(1)) {
        out.push(Tensor::from_f64(stash_type, stat_shape.clone(), stat)?);
    }
    Ok(out)
}

pub fn group_norm(
    num_groups: usize,
    epsilon: f32,
    stash_type: DType,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    if x.rank() < 2 {
        op_bail!(
            "input must have rank >= 2 (N, C, ...), got shape {:?}",
            x.shape()
        );
    }
    let channels = x.shape()[1];
    if num_groups == 0 || channels % num_groups != 0 {
        op_bail!("num_groups {num_groups} does not divide the {channels} channels");
    }
    let scale = req(inputs, 1)?;
    let bias = req(inputs, 2)?;
    expect_vector(scale, channels, "scale")?;
    expect_vector(bias, channels, "bias")?;
    let (scale, bias) = (scale.to_f64_vec(), bias.to_f64_vec());
    let spatial: usize = x.shape()[2..].iter().product();
    let group_len = channels / num_groups * spatial;
    let stash = rounder(stash_type);
    let mut y = x.to_f64_vec();
    for (group, chunk) in y.chunks_mut(group_len.max(1)).enumerate() {
        let (mean, var) = mean_var(chunk);
        let inv = 1.0 / (var + epsilon as f64).sqrt();
        let first_channel = group % num_groups * (channels / num_groups);
        for (k, e) in chunk.iter_mut().enumerate() {
            let c = first_channel + k / spatial.max(1);
            *e = stash((*e - mean) * inv) * scale[c] + bias[c];
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), x.shape().to_vec(), &y)?])
}

pub fn rms_norm(
    axis: i64,
    epsilon: f32,
    stash_type: DType,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    let axis = normalize_axis(axis, x.rank())?;
    let scale = req(inputs, 1)?;
    expect_float(scale, "scale")?;
    let scale_at = unidirectional(scale, x.shape(), "scale")?;
    let scale_v = scale.to_f64_vec();
    let lane: usize = x.shape()[axis..].iter().product();
    let stash = rounder(stash_type);
    let mut y = x.to_f64_vec();
    for (row, chunk) in y.chunks_mut(lane.max(1)).enumerate() {
        let mean_square = chunk.iter().map(|e| e * e).sum::<f64>() / lane as f64;
        let inv = 1.0 / (mean_square + epsilon as f64).sqrt();
        for (k, e) in chunk.iter_mut().enumerate() {
            *e = stash(*e * inv) * scale_v[scale_at[row * lane + k]];
        }
    }
    Ok(vec![Tensor::from_f64(
        scale.dtype(),
        x.shape().to_vec(),
        &y,
    )?])
}

pub fn lp_norm(axis: i64, p: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    if p != 1 && p != 2 {
        op_bail!("p must be 1 or 2, got {p}");
    }
    let axis = normalize_axis(axis, x.rank())?;
    let (outer, n, inner) = crate::interp::util::outer_axis_inner(x.shape(), axis);
    let mut y = x.to_f64_vec();
    for o in 0..outer {
        for i in 0..inner {
            let idx = |k: usize| o * n * inner + k * inner + i;
            let norm = if p == 1 {
                (0..n).map(|k| y[idx(k)].abs()).sum::<f64>()
            } else {
                (0..n).map(|k| y[idx(k)] * y[idx(k)]).sum::<f64>().sqrt()
            };
            for k in 0..n {
                y[idx(k)] = if norm == 0.0 { 0.0 } else { y[idx(k)] / norm };
            }
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), x.shape().to_vec(), &y)?])
}

pub fn mean_variance_norm(
    axes: &[i64],
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    expect_float(x, "input")?;
    let axes = normalize_axes(axes, x.rank())?;
    let group = group_ids(x.shape(), &axes);
    let n_groups = x
        .shape()
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &d)| d)
        .product::<usize>();
    let count = x.len() / n_groups.max(1);
    let mut y = x.to_f64_vec();
    let mut sum = vec![0.0; n_groups];
    for (&g, &e) in group.iter().zip(&y) {
        sum[g] += e;
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count as f64).collect();
    let mut sq = vec![0.0; n_groups];
    for (&g, &e) in group.iter().zip(&y) {
        sq[g] += (e - mean[g]) * (e - mean[g]);
    }
    // The spec's function adds 1e-9 to the standard deviation.
    let std: Vec<f64> = sq
        .iter()
        .map(|s| (s / count as f64).sqrt() + 1e-9)
        .collect();
    for (&g, e) in group.iter().zip(y.iter_mut()) {
        *e = (*e - mean[g]) / std[g];
    }
    Ok(vec![Tensor::from_f64(x.dtype(), x.shape().to_vec(), &y)?])
}

/// Population mean and variance of a slice (NaN when empty).
fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / n;
    (mean, var)
}

/// For each element of `x_shape`, the flat index of `t` that multiplies it when `t` broadcasts
/// to `x_shape` without changing it.
fn unidirectional(t: &Tensor, x_shape: &[usize], what: &str) -> Result<Vec<usize>, OpError> {
    let out = broadcast(x_shape, t.shape()).map_err(|_| {
        crate::op_err!(
            "{what} of shape {:?} does not broadcast to the input's {x_shape:?}",
            t.shape()
        )
    })?;
    if out != x_shape {
        op_bail!(
            "{what} of shape {:?} does not broadcast to the input's {x_shape:?}",
            t.shape()
        );
    }
    Ok(broadcast_indices(t.shape(), x_shape))
}

/// For each element of `shape`, the index of its group when `axes` are reduced (row-major over
/// the kept axes).
fn group_ids(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let kept_strides = strides(&kept);
    let n: usize = shape.iter().product();
    let mut ids = Vec::with_capacity(n);
    let mut counter = vec![0usize; shape.len()];
    for _ in 0..n {
        let id: usize = counter
            .iter()
            .zip(&kept)
            .zip(&kept_strides)
            .map(|((&c, &k), &s)| if k == 1 { 0 } else { c * s })
            .sum();
        ids.push(id);
        for ax in (0..shape.len()).rev() {
            counter[ax] += 1;
            if counter[ax] < shape[ax] {
                break;
            }
            counter[ax] = 0;
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn batch_norm_applies_running_statistics_per_channel() {
        let x = t(&[1, 2, 2], &[1.0, 3.0, 10.0, 20.0]);
        let scale = t(&[2], &[1.0, 2.0]);
        let bias = t(&[2], &[0.0, 1.0]);
        let mean = t(&[2], &[2.0, 10.0]);
        let var = t(&[2], &[1.0, 4.0]);
        let y = batch_norm(
            0.0,
            &[Some(&x), Some(&scale), Some(&bias), Some(&mean), Some(&var)],
        )
        .unwrap();
        assert!(close(&y[0].to_f32_vec(), &[-1.0, 1.0, 1.0, 11.0]));
        let bad = t(&[3], &[1.0; 3]);
        let err = batch_norm(
            0.0,
            &[Some(&x), Some(&bad), Some(&bias), Some(&mean), Some(&var)],
        )
        .unwrap_err();
        assert!(err.0.contains("scale must have shape [2]"), "{err}");
    }

    #[test]
    fn layer_norm_returns_statistics_in_the_stash_type() {
        let x = t(&[2, 2], &[1.0, 3.0, 5.0, 5.0]);
        let scale = t(&[2], &[1.0, 1.0]);
        let out = layer_norm(-1, 0.0, DType::F32, &[Some(&x), Some(&scale)], 3).unwrap();
        assert_eq!(out[1].shape(), &[2, 1]);
        assert!(close(&out[1].to_f32_vec(), &[2.0, 5.0]));
        assert!(close(&out[0].to_f32_vec()[..2], &[-1.0, 1.0]));
        assert!(out[2].to_f32_vec()[1].is_infinite());
    }

    #[test]
    fn group_norm_normalizes_each_group() {
        let x = t(&[1, 4, 1], &[1.0, 3.0, 0.0, 0.0]);
        let ones = t(&[4], &[1.0; 4]);
        let zeros = t(&[4], &[0.0; 4]);
        let y = group_norm(2, 0.0, DType::F32, &[Some(&x), Some(&ones), Some(&zeros)]).unwrap();
        let y = y[0].to_f32_vec();
        assert!(close(&y[..2], &[-1.0, 1.0]) && y[2].is_nan());
        let err = group_norm(3, 0.0, DType::F32, &[Some(&x), Some(&ones), Some(&zeros)]);
        assert!(err.unwrap_err().0.contains("does not divide"));
    }

    #[test]
    fn mean_variance_norm_reduces_the_given_axes() {
        let x = t(&[2, 2], &[1.0, 2.0, 3.0, 6.0]);
        let y = mean_variance_norm(&[0], &[Some(&x)]).unwrap()[0].to_f32_vec();
        assert!(close(&y, &[-1.0, -1.0, 1.0, 1.0]));
    }

    #[test]
    fn lp_norm_divides_by_the_norm_and_keeps_zero_lanes() {
        let x = t(&[2, 2], &[3.0, 4.0, 0.0, 0.0]);
        let y = lp_norm(1, 2, &[Some(&x)]).unwrap()[0].to_f32_vec();
        assert!(close(&y, &[0.6, 0.8, 0.0, 0.0]));
        let y = lp_norm(1, 1, &[Some(&x)]).unwrap()[0].to_f32_vec();
        assert!(close(&y, &[3.0 / 7.0, 4.0 / 7.0, 0.0, 0.0]));
    }

    #[test]
    fn rms_norm_outputs_the_scale_dtype() {
        let x = t(&[1, 2], &[3.0, 4.0]);
        let scale = Tensor::from_f64(DType::F64, vec![2], &[1.0, 2.0]).unwrap();
        let y = rms_norm(-1, 0.0, DType::F32, &[Some(&x), Some(&scale)]).unwrap();
        assert_eq!(y[0].dtype(), DType::F64);
        let r = (12.5f64).sqrt();
        let got = y[0].to_f64_vec();
        assert!((got[0] - 3.0 / r).abs() < 1e-6 && (got[1] - 8.0 / r).abs() < 1e-6);
    }
}
