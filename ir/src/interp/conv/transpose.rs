//! ConvTranspose: per image and group, `W^T * X` with the shared GEMM gives one column per
//! input position and one row per (output channel, tap); col2im scatters the rows into the
//! output. Also the transposed geometry (output_shape, output_padding, auto_pad), shared with
//! shape inference.

use super::convolution::round_f32;
use super::geometry::check_bounded;
use crate::error::OpError;
use crate::interp::linalg::gemm::{GemmElem, MatMut, MatRef, gemm, transpose};
use crate::interp::{opt, req};
use crate::op::{AutoPad, ConvTransposeAttrs};
use crate::op_bail;
use crate::tensor::{Data, Tensor, checked_numel, strides};

/// One spatial axis of a transposed convolution: input `i`, tap `t` writes output coordinate
/// `i * stride + t * dilation - pad_begin` when it falls in `0..output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TAxis {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    /// Negative when an `output_shape` larger than the natural one asks for extra room.
    pub pad_begin: i64,
    pub output: usize,
}

impl TAxis {
    fn output_at(&self, i: usize, t: usize) -> Option<usize> {
        let o = (i * self.stride + t * self.dilation) as i64 - self.pad_begin;
        (o >= 0 && (o as usize) < self.output).then_some(o as usize)
    }
}

fn per_axis(name: &str, list: &[usize], n: usize, default: usize) -> Result<Vec<usize>, OpError> {
    match list.len() {
        0 => Ok(vec![default; n]),
        l if l == n => Ok(list.to_vec()),
        l => op_bail!("{name} has {l} values, expected {n} (one per spatial axis)"),
    }
}

/// Resolves each spatial axis of a transposed convolution.
///
/// Without `output_shape` the output is `stride * (in - 1) + output_padding + extent - pads`
/// (SAME_* pick the pads so that it is `in * stride`). With `output_shape`, SAME_* derive the
/// pads from it, and explicit pads (default 0) are kept, as in the ONNX reference.
pub(crate) fn transpose_axes(
    attrs: &ConvTransposeAttrs,
    input: &[usize],
    kernel: &[usize],
) -> Result<Vec<TAxis>, OpError> {
    let a = &attrs.conv;
    let n = kernel.len();
    if let Some(k) = &a.kernel_shape
        && k.as_slice() != kernel
    {
        op_bail!("kernel_shape {k:?} differs from the weight's spatial shape {kernel:?}");
    }
    let strides = per_axis("strides", &a.strides, n, 1)?;
    let dilations = per_axis("dilations", &a.dilations, n, 1)?;
    let pads = per_axis("pads", &a.pads, 2 * n, 0)?;
    let output_padding = per_axis("output_padding", &attrs.output_padding, n, 0)?;
    let output_shape: &[usize] = match attrs.output_shape.len() {
        0 => &[],
        l if l == n => &attrs.output_shape,
        l if l == n + 2 => &attrs.output_shape[2..],
        l => op_bail!("output_shape has {l} values, expected {n} (one per spatial axis)"),
    };
    if let Some(i) = strides
        .iter()
        .chain(&dilations)
        .chain(kernel)
        .position(|&v| v == 0)
    {
        op_bail!("strides, dilations and kernel dims must be positive (value {i} is 0)");
    }
    for (name, list) in [
        ("input dim", input),
        ("kernel dim", kernel),
        ("strides", &strides),
        ("dilations", &dilations),
        ("pads", &pads),
        ("output_padding", &output_padding),
        ("output_shape", output_shape),
    ] {
        check_bounded(name, list)?;
    }
    (0..n)
        .map(|i| {
            let (input, kernel, stride, dilation) = (input[i], kernel[i], strides[i], dilations[i]);
            let extent = ((kernel - 1) * dilation + 1) as i64;
            let natural =
                (stride * input.saturating_sub(1)) as i64 + output_padding[i] as i64 + extent;
            let same = matches!(a.auto_pad, AutoPad::SameUpper | AutoPad::SameLower);
            let (pad_begin, output) = if same {
                let output = output_shape.get(i).copied().unwrap_or(input * stride);
                let total = natural - output as i64;
                let begin = if a.auto_pad == AutoPad::SameUpper {
                    total.div_euclid(2)
                } else {
                    total - total.div_euclid(2)
                };
                (begin, output)
            } else if a.auto_pad == AutoPad::Valid {
                (0, output_shape.get(i).copied().unwrap_or(natural as usize))
            } else if let Some(&o) = output_shape.get(i) {
                (pads[i] as i64, o)
            } else {
                let o = natural - (pads[i] + pads[n + i]) as i64;
                if o < 0 {
                    op_bail!(
                        "spatial axis {i}: pads {} and {} exceed the full output size {natural}",
                        pads[i],
                        pads[n + i]
                    );
                }
                (pads[i] as i64, o as usize)
            };
            Ok(TAxis {
                input,
                kernel,
                stride,
                dilation,
                pad_begin,
                output,
            })
        })
        .collect()
}

/// Checks `x` `[N, C, ...]` against `w` `[C, M/group, k...]`; returns (N, C, M).
pub(crate) fn transpose_channels(
    x: &[usize],
    w: &[usize],
    group: usize,
) -> Result<(usize, usize, usize), OpError> {
    if x.len() < 3 {
        op_bail!("input must be [N, C, spatial...] with at least one spatial dim, got {x:?}");
    }
    if w.len() != x.len() {
        op_bail!(
            "weight has rank {} ({w:?}), input has rank {} ({x:?})",
            w.len(),
            x.len()
        );
    }
    if group == 0 {
        op_bail!("group must be positive");
    }
    if w[0] != x[1] {
        op_bail!(
            "input has {} channels, weight expects {} (weight is [C, M/group, k...])",
            x[1],
            w[0]
        );
    }
    if !x[1].is_multiple_of(group) {
        op_bail!(
            "input has {} channels, not a multiple of group {group}",
            x[1]
        );
    }
    Ok((x[0], x[1], w[1] * group))
}

pub fn conv_transpose(
    attrs: &ConvTransposeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let w = req(inputs, 1)?;
    if w.dtype() != x.dtype() {
        op_bail!("weight is {}, input is {}", w.dtype(), x.dtype());
    }
    let group = attrs.conv.group;
    let (batch, in_channels, out_channels) = transpose_channels(x.shape(), w.shape(), group)?;
    let axes = transpose_axes(attrs, &x.shape()[2..], &w.shape()[2..])?;
    let bias = opt(inputs, 2);
    if let Some(b) = bias
        && (b.len() != out_channels || b.dtype() != x.dtype())
    {
        op_bail!(
            "bias must be {} of {out_channels} elements, got {} of shape {:?}",
            x.dtype(),
            b.dtype(),
            b.shape()
        );
    }
    let shape = Shape {
        batch,
        in_channels,
        out_channels,
        group,
    };
    let mut out_shape = vec![batch, out_channels];
    out_shape.extend(axes.iter().map(|a| a.output));
    checked_numel(&out_shape)?;
    let out = match (x.data(), w.data()) {
        (Data::F32(xs), Data::F32(ws)) => {
            let b = bias.map(|b| b.to_f32_vec());
            Data::F32(conv_transpose_nd(xs, ws, b.as_deref(), &shape, &axes))
        }
        (Data::F64(xs), Data::F64(ws)) => {
            let b = bias.map(|b| b.to_f64_vec());
            Data::F64(conv_transpose_nd(xs, ws, b.as_deref(), &shape, &axes))
        }
        (Data::F16(_), Data::F16(_)) | (Data::BF16(_), Data::BF16(_)) => {
            let b = bias.map(|b| b.to_f32_vec());
            let y = conv_transpose_nd(
                &x.to_f32_vec(),
                &w.to_f32_vec(),
                b.as_deref(),
                &shape,
                &axes,
            );
            round_f32(x.dtype(), y)
        }
        _ => op_bail!("dtype {} is not supported", x.dtype()),
    };
    Ok(vec![Tensor::new(x.dtype(), out_shape, out)?])
}

struct Shape {
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    group: usize,
}

fn conv_transpose_nd<T: GemmElem>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    s: &Shape,
    axes: &[TAxis],
) -> Vec<T> {
    let in_plane: usize = axes.iter().map(|a| a.input).product();
    let outputs: Vec<usize> = axes.iter().map(|a| a.output).collect();
    let out_plane: usize = outputs.iter().product();
    let kernel: Vec<usize> = axes.iter().map(|a| a.kernel).collect();
    let taps: usize = kernel.iter().product();
    let (cg, mg) = (s.in_channels / s.group, s.out_channels / s.group);
    let rows = mg * taps;
    let mut out = vec![T::default(); s.batch * s.out_channels * out_plane];
    if out.is_empty() {
        return out;
    }
    if let Some(b) = bias {
        for (plane, &bv) in out.chunks_exact_mut(out_plane).zip(b.iter().cycle()) {
            plane.fill(bv);
        }
    }
    // Per axis, `[tap * input + i]`: the output coordinate written, if inside the output.
    let maps: Vec<Vec<Option<usize>>> = axes
        .iter()
        .map(|a| {
            (0..a.kernel)
                .flat_map(|t| (0..a.input).map(move |i| a.output_at(i, t)))
                .collect()
        })
        .collect();
    let inputs: Vec<usize> = axes.iter().map(|a| a.input).collect();
    let out_strides = strides(&outputs);
    // W_g^T for each group: [mg * taps, cg].
    let w_t: Vec<Vec<T>> = (0..s.group)
        .map(|g| transpose(&w[g * cg * rows..(g + 1) * cg * rows], cg, rows))
        .collect();
    let mut col = vec![T::default(); rows * in_plane];
    let mut tap = vec![0usize; axes.len()];
    let mut pos = vec![0usize; axes.len()];
    for img in 0..s.batch {
        for (g, w_g) in w_t.iter().enumerate() {
            let x_start = (img * s.in_channels + g * cg) * in_plane;
            col.fill(T::default());
            gemm(
                rows,
                in_plane,
                cg,
                MatRef {
                    data: w_g,
                    row_stride: cg,
                },
                MatRef {
                    data: &x[x_start..x_start + cg * in_plane],
                    row_stride: in_plane,
                },
                MatMut {
                    data: &mut col,
                    row_stride: in_plane,
                },
            );
            let out_start = (img * s.out_channels + g * mg) * out_plane;
            for (r, row) in col.chunks_exact(in_plane).enumerate() {
                let (mo, t) = (r / taps, r % taps);
                let mut rem = t;
                for d in (0..axes.len()).rev() {
                    tap[d] = rem % kernel[d];
                    rem /= kernel[d];
                }
                let plane = &mut out[out_start + mo * out_plane..out_start + (mo + 1) * out_plane];
                pos.fill(0);
                for &v in row {
                    let target = (0..axes.len()).try_fold(0usize, |acc, d| {
                        maps[d][tap[d] * inputs[d] + pos[d]].map(|o| acc + o * out_strides[d])
                    });
                    if let Some(o) = target {
                        plane[o] = T::add(plane[o], v);
                    }
                    for d in (0..axes.len()).rev() {
                        pos[d] += 1;
                        if pos[d] < inputs[d] {
                            break;
                        }
                        pos[d] = 0;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::ConvAttrs;

    fn attrs(
        strides: Vec<usize>,
        output_shape: Vec<usize>,
        auto_pad: AutoPad,
    ) -> ConvTransposeAttrs {
        ConvTransposeAttrs {
            conv: ConvAttrs {
                kernel_shape: None,
                strides,
                dilations: vec![],
                pads: vec![],
                auto_pad,
                group: 1,
            },
            output_padding: vec![],
            output_shape,
        }
    }

    #[test]
    fn scatters_each_input_through_the_kernel() {
        // 1-D: x = [1, 2], w = [1, 10, 100], stride 2 -> length 2 * 1 + 3 = 5.
        let x = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 2.0]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 3], vec![1.0, 10.0, 100.0]).unwrap();
        let y = conv_transpose(
            &attrs(vec![2], vec![], AutoPad::NotSet),
            &[Some(&x), Some(&w)],
        )
        .unwrap();
        assert_eq!(y[0].as_f32().unwrap(), &[1.0, 10.0, 102.0, 20.0, 200.0]);
    }

    #[test]
    fn output_shape_and_same_padding() {
        let a = transpose_axes(&attrs(vec![3], vec![10], AutoPad::NotSet), &[3], &[3]).unwrap();
        assert_eq!((a[0].pad_begin, a[0].output), (0, 10));
        let a = transpose_axes(&attrs(vec![2], vec![], AutoPad::SameUpper), &[3], &[3]).unwrap();
        assert_eq!((a[0].pad_begin, a[0].output), (0, 6));
        let a = transpose_axes(&attrs(vec![2], vec![], AutoPad::SameLower), &[3], &[3]).unwrap();
        assert_eq!((a[0].pad_begin, a[0].output), (1, 6));
    }
}
