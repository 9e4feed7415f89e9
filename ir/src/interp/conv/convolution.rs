//! Conv and ConvInteger: im2col over tiles of output positions, then the shared GEMM per image
//! and group. f32, f64 and i32 (ConvInteger) compute natively; f16 and bf16 through f32,
//! rounded once at the end.

use super::geometry::{Axis, WindowSpec};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::linalg::gemm::{GemmElem, MatMut, MatRef, gemm};
use crate::interp::{opt, req};
use crate::op::ConvAttrs;
use crate::op_bail;
use crate::tensor::{Data, Tensor, checked_numel, strides};
use half::{bf16, f16};

/// Elements of one im2col tile, bounding its memory (8 MiB of f32).
const COL_TILE_ELEMS: usize = 1 << 21;

/// The channel bookkeeping of a grouped convolution.
struct Groups {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub group: usize,
}

/// Checks `x` `[N, C, ...]` and `w` `[M, C/group, k...]` against each other.
fn conv_groups(x: &[usize], w: &[usize], group: usize) -> Result<Groups, OpError> {
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
    if x[1] != w[1] * group {
        op_bail!(
            "input has {} channels, weight expects {} (group {group})",
            x[1],
            w[1] * group
        );
    }
    if !w[0].is_multiple_of(group) {
        op_bail!(
            "weight has {} output channels, not a multiple of group {group}",
            w[0]
        );
    }
    Ok(Groups {
        batch: x[0],
        in_channels: x[1],
        out_channels: w[0],
        group,
    })
}

/// The conv's resolved geometry and output shape.
fn conv_geometry(
    attrs: &ConvAttrs,
    x: &[usize],
    w: &[usize],
) -> Result<(Groups, Vec<Axis>, Vec<usize>), OpError> {
    let groups = conv_groups(x, w, attrs.group)?;
    let spec = WindowSpec::conv(attrs, &w[2..])?;
    let axes = spec.resolve(&x[2..])?;
    let mut out_shape = vec![groups.batch, groups.out_channels];
    out_shape.extend(axes.iter().map(|a| a.output));
    checked_numel(&out_shape)?;
    Ok((groups, axes, out_shape))
}

pub fn conv(attrs: &ConvAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let w = req(inputs, 1)?;
    if w.dtype() != x.dtype() {
        op_bail!("weight is {}, input is {}", w.dtype(), x.dtype());
    }
    let (groups, axes, out_shape) = conv_geometry(attrs, x.shape(), w.shape())?;
    let bias = opt(inputs, 2);
    if let Some(b) = bias
        && (b.len() != groups.out_channels || b.dtype() != x.dtype())
    {
        op_bail!(
            "bias must be {} of {} elements, got {} of shape {:?}",
            x.dtype(),
            groups.out_channels,
            b.dtype(),
            b.shape()
        );
    }
    let out = match (x.data(), w.data()) {
        (Data::F32(xs), Data::F32(ws)) => {
            let b = bias.map(|b| b.to_f32_vec());
            Data::F32(conv_nd(xs, ws, b.as_deref(), &groups, &axes))
        }
        (Data::F64(xs), Data::F64(ws)) => {
            let b = bias.map(|b| b.to_f64_vec());
            Data::F64(conv_nd(xs, ws, b.as_deref(), &groups, &axes))
        }
        (Data::F16(_), Data::F16(_)) | (Data::BF16(_), Data::BF16(_)) => {
            let b = bias.map(|b| b.to_f32_vec());
            let y = conv_nd(
                &x.to_f32_vec(),
                &w.to_f32_vec(),
                b.as_deref(),
                &groups,
                &axes,
            );
            round_f32(x.dtype(), y)
        }
        _ => op_bail!("dtype {} is not supported", x.dtype()),
    };
    Ok(vec![Tensor::new(x.dtype(), out_shape, out)?])
}

/// ConvInteger: the convolution of `x - x_zero_point` with `w - w_zero_point`, accumulated in
/// i32. Padding reads as `x_zero_point` (0 after the shift). `w_zero_point` is per tensor or
/// per output channel.
pub fn conv_integer(attrs: &ConvAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let w = req(inputs, 1)?;
    for (name, t) in [("x", x), ("w", w)] {
        if !matches!(t.dtype(), DType::U8 | DType::I8) {
            op_bail!("{name} must be u8 or i8, got {}", t.dtype());
        }
    }
    let (groups, axes, out_shape) = conv_geometry(attrs, x.shape(), w.shape())?;
    let x_zp = zero_points(opt(inputs, 2), x.dtype(), 1, "x_zero_point")?;
    let w_zp = zero_points(
        opt(inputs, 3),
        w.dtype(),
        groups.out_channels,
        "w_zero_point",
    )?;
    let xs: Vec<i32> = x
        .to_i128_vec()
        .iter()
        .map(|&v| v as i32 - x_zp[0])
        .collect();
    let per_filter = w.len() / groups.out_channels.max(1);
    let ws: Vec<i32> = w
        .to_i128_vec()
        .iter()
        .enumerate()
        .map(|(i, &v)| v as i32 - w_zp[(i / per_filter.max(1)) % w_zp.len()])
        .collect();
    let y: Vec<i128> = conv_nd(&xs, &ws, None, &groups, &axes)
        .iter()
        .map(|&v| v as i128)
        .collect();
    Ok(vec![Tensor::from_i128(DType::I32, out_shape, &y)?])
}

/// A zero-point input as i32 values: one (per tensor) or `per_channel` of them; 0 if absent.
fn zero_points(
    zp: Option<&Tensor>,
    dtype: DType,
    per_channel: usize,
    name: &str,
) -> Result<Vec<i32>, OpError> {
    let Some(zp) = zp else {
        return Ok(vec![0]);
    };
    if zp.dtype() != dtype {
        op_bail!("{name} is {}, its operand is {dtype}", zp.dtype());
    }
    if zp.len() != 1 && zp.len() != per_channel {
        op_bail!(
            "{name} must have 1 element{}, got shape {:?}",
            if per_channel > 1 {
                format!(" or {per_channel}")
            } else {
                String::new()
            },
            zp.shape()
        );
    }
    Ok(zp.to_i128_vec().iter().map(|&v| v as i32).collect())
}

/// f32 results stored as a 16-bit float dtype (or kept as f32).
pub(crate) fn round_f32(dtype: DType, v: Vec<f32>) -> Data {
    match dtype {
        DType::F16 => Data::F16(v.iter().map(|&x| f16::from_f32(x)).collect()),
        DType::BF16 => Data::BF16(v.iter().map(|&x| bf16::from_f32(x)).collect()),
        _ => Data::F32(v),
    }
}

/// The convolution of `x` `[N, C, in...]` with `w` `[M, C/group, k...]`, plus `bias`.
fn conv_nd<T: GemmElem>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Groups, axes: &[Axis]) -> Vec<T> {
    let in_plane: usize = axes.iter().map(|a| a.input).product();
    let out_plane: usize = axes.iter().map(|a| a.output).product();
    let taps: usize = axes.iter().map(|a| a.kernel).product();
    let (cg, mg) = (g.in_channels / g.group, g.out_channels / g.group);
    let kdim = cg * taps;
    let mut out = vec![T::default(); g.batch * g.out_channels * out_plane];
    if out.is_empty() {
        return out;
    }
    // A 1x1 window with unit stride and no padding reads the input plane as it is.
    let pointwise = axes
        .iter()
        .all(|a| a.kernel == 1 && a.stride == 1 && a.pad_begin == 0 && a.output == a.input);
    let tile = (COL_TILE_ELEMS / kdim.max(1)).clamp(1, out_plane);
    let mut col = Vec::new();
    let im2col = Im2col::new(axes);
    for img in 0..g.batch {
        for grp in 0..g.group {
            let x_start = (img * g.in_channels + grp * cg) * in_plane;
            let x_g = &x[x_start..x_start + cg * in_plane];
            let w_g = MatRef {
                data: &w[grp * mg * kdim..(grp + 1) * mg * kdim],
                row_stride: kdim,
            };
            let out_start = (img * g.out_channels + grp * mg) * out_plane;
            let out_g = &mut out[out_start..out_start + mg * out_plane];
            if let Some(b) = bias {
                for (row, &bv) in out_g.chunks_exact_mut(out_plane).zip(&b[grp * mg..]) {
                    row.fill(bv);
                }
            }
            if pointwise {
                let x_mat = MatRef {
                    data: x_g,
                    row_stride: in_plane,
                };
                let c = MatMut {
                    data: out_g,
                    row_stride: out_plane,
                };
                gemm(mg, out_plane, cg, w_g, x_mat, c);
                continue;
            }
            for j0 in (0..out_plane).step_by(tile) {
                let len = tile.min(out_plane - j0);
                im2col.fill(x_g, cg, j0, len, &mut col);
                let c = MatMut {
                    data: &mut out_g[j0..],
                    row_stride: out_plane,
                };
                gemm(
                    mg,
                    len,
                    kdim,
                    w_g,
                    MatRef {
                        data: &col,
                        row_stride: len,
                    },
                    c,
                );
            }
        }
    }
    out
}

/// Builds im2col tiles: row `(channel, tap)`, column `output position`, holding the input
/// element that tap reads for that output (0 in padding).
struct Im2col {
    /// Per axis, `[tap * output + o]`: the input coordinate read, if inside the input.
    maps: Vec<Vec<Option<usize>>>,
    kernel: Vec<usize>,
    outputs: Vec<usize>,
    in_strides: Vec<usize>,
    in_plane: usize,
}

impl Im2col {
    fn new(axes: &[Axis]) -> Im2col {
        let maps = axes
            .iter()
            .map(|a| {
                (0..a.kernel)
                    .flat_map(|t| (0..a.output).map(move |o| a.input_at(o, t)))
                    .collect()
            })
            .collect();
        let inputs: Vec<usize> = axes.iter().map(|a| a.input).collect();
        Im2col {
            maps,
            kernel: axes.iter().map(|a| a.kernel).collect(),
            outputs: axes.iter().map(|a| a.output).collect(),
            in_strides: strides(&inputs),
            in_plane: inputs.iter().product(),
        }
    }

    /// Fills `col` with the `[channels * taps, len]` tile of output positions
    /// `start..start + len` (flat, row-major over the output's spatial dims).
    fn fill<T: GemmElem>(
        &self,
        x: &[T],
        channels: usize,
        start: usize,
        len: usize,
        col: &mut Vec<T>,
    ) {
        let nd = self.kernel.len();
        let taps: usize = self.kernel.iter().product();
        let last_out = self.outputs[nd - 1];
        col.clear();
        col.resize(channels * taps * len, T::default());
        let mut tap = vec![0usize; nd];
        let mut outer = vec![0usize; nd - 1];
        for (row_idx, row) in col.chunks_exact_mut(len).enumerate() {
            let (ci, t) = (row_idx / taps, row_idx % taps);
            let plane = &x[ci * self.in_plane..(ci + 1) * self.in_plane];
            // The tap's multi-index, last axis fastest.
            let mut rem = t;
            for d in (0..nd).rev() {
                tap[d] = rem % self.kernel[d];
                rem /= self.kernel[d];
            }
            let last_map = &self.maps[nd - 1][tap[nd - 1] * last_out..(tap[nd - 1] + 1) * last_out];
            let mut p = start;
            let mut k = 0;
            while k < len {
                let o_last = p % last_out;
                let run = (last_out - o_last).min(len - k);
                // The input offset of the outer (all but last) coordinates, if all are inside.
                let mut rem = p / last_out;
                for d in (0..nd - 1).rev() {
                    outer[d] = rem % self.outputs[d];
                    rem /= self.outputs[d];
                }
                let base = (0..nd - 1).try_fold(0usize, |acc, d| {
                    self.maps[d][tap[d] * self.outputs[d] + outer[d]]
                        .map(|i| acc + i * self.in_strides[d])
                });
                let dst = &mut row[k..k + run];
                if let Some(base) = base {
                    for (v, m) in dst.iter_mut().zip(&last_map[o_last..o_last + run]) {
                        if let Some(i) = m {
                            *v = plane[base + i];
                        }
                    }
                }
                k += run;
                p += run;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::AutoPad;

    fn attrs(pads: Vec<usize>, strides: Vec<usize>, group: usize) -> ConvAttrs {
        ConvAttrs {
            kernel_shape: None,
            strides,
            dilations: vec![],
            pads,
            auto_pad: AutoPad::NotSet,
            group,
        }
    }

    /// A direct (no im2col) 2-D convolution, single image, group 1.
    fn direct(
        x: &[f32],
        [c, h, w]: [usize; 3],
        k: &[f32],
        [m, kh, kw]: [usize; 3],
        pad: usize,
        stride: usize,
    ) -> Vec<f32> {
        let oh = (h + 2 * pad - kh) / stride + 1;
        let ow = (w + 2 * pad - kw) / stride + 1;
        let mut out = vec![0.0; m * oh * ow];
        for mo in 0..m {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = 0.0;
                    for ci in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let (iy, ix) = (
                                    (oy * stride + ky) as isize - pad as isize,
                                    (ox * stride + kx) as isize - pad as isize,
                                );
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    s += x[(ci * h + iy as usize) * w + ix as usize]
                                        * k[((mo * c + ci) * kh + ky) * kw + kx];
                                }
                            }
                        }
                    }
                    out[(mo * oh + oy) * ow + ox] = s;
                }
            }
        }
        out
    }

    #[test]
    fn matches_direct_convolution() {
        let (c, h, w, m, kh, kw) = (3, 7, 6, 5, 3, 2);
        let x: Vec<f32> = (0..c * h * w).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
        let k: Vec<f32> = (0..m * c * kh * kw)
            .map(|i| ((i * 3) % 7) as f32 - 3.0)
            .collect();
        for (pad, stride) in [(0, 1), (1, 1), (1, 2), (2, 3)] {
            let xt = Tensor::from_f32(vec![1, c, h, w], x.clone()).unwrap();
            let kt = Tensor::from_f32(vec![m, c, kh, kw], k.clone()).unwrap();
            let y = conv(
                &attrs(vec![pad; 4], vec![stride; 2], 1),
                &[Some(&xt), Some(&kt)],
            )
            .unwrap();
            assert_eq!(
                y[0].as_f32().unwrap(),
                direct(&x, [c, h, w], &k, [m, kh, kw], pad, stride).as_slice(),
                "pad {pad} stride {stride}"
            );
        }
    }

    #[test]
    fn conv_integer_shifts_by_zero_points() {
        // 1x1 kernel over two u8 pixels: (x - 10) * (w - zp[m]) per output channel m.
        let x = Tensor::from_i128(DType::U8, vec![1, 1, 1, 2], &[12, 7]).unwrap();
        let w = Tensor::from_i128(DType::U8, vec![2, 1, 1, 1], &[5, 5]).unwrap();
        let x_zp = Tensor::from_i128(DType::U8, vec![], &[10]).unwrap();
        let w_zp = Tensor::from_i128(DType::U8, vec![2], &[1, 3]).unwrap();
        let y = conv_integer(
            &attrs(vec![], vec![], 1),
            &[Some(&x), Some(&w), Some(&x_zp), Some(&w_zp)],
        )
        .unwrap();
        assert_eq!(y[0].dtype(), DType::I32);
        assert_eq!(y[0].to_i128_vec(), vec![8, -12, 4, -6]);
    }

    #[test]
    fn channel_mismatch_is_an_error() {
        let x = Tensor::zeros(DType::F32, vec![1, 3, 4, 4]);
        let w = Tensor::zeros(DType::F32, vec![2, 4, 1, 1]);
        let e = conv(&attrs(vec![], vec![], 1), &[Some(&x), Some(&w)]).unwrap_err();
        assert_eq!(e.0, "input has 3 channels, weight expects 4 (group 1)");
    }
}
