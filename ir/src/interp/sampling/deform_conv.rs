//! `DeformConv` (2-D): a convolution whose kernel taps read `x` at positions moved by
//! per-output `offset`s, sampled bilinearly (zeros outside), each scaled by an optional `mask`.

use crate::error::OpError;
use crate::interp::{opt, req};
use crate::op::DeformConvAttrs;
use crate::op_err;
use crate::tensor::Tensor;

/// The validated geometry of one call.
pub(crate) struct Plan {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub in_size: [usize; 2],
    pub kernel: [usize; 2],
    pub out_size: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Top and left pads.
    pub pad_begin: [usize; 2],
    pub group: usize,
    pub offset_group: usize,
}

/// `list` as two values, or `[default; 2]` when empty.
fn pair(name: &str, list: &[usize], default: usize) -> Result<[usize; 2], OpError> {
    match list {
        [] => Ok([default; 2]),
        &[a, b] => Ok([a, b]),
        _ => Err(op_err!("{name} must have 2 values, got {list:?}")),
    }
}

/// Checks the shapes of x, w and offset against the attributes.
pub(crate) fn plan(
    a: &DeformConvAttrs,
    x: &[usize],
    w: &[usize],
    offset: &[usize],
) -> Result<Plan, OpError> {
    let (&[n, ic, ih, iw], &[oc, icg, wkh, wkw], &[on, oc2, oh, ow]) = (x, w, offset) else {
        return Err(op_err!(
            "only 2-D DeformConv is supported: x, w and offset must be 4-D, got {x:?}, {w:?}, {offset:?}"
        ));
    };
    let kernel = pair("kernel_shape", &a.kernel_shape, 0)?;
    let kernel = if a.kernel_shape.is_empty() {
        [wkh, wkw]
    } else {
        kernel
    };
    if kernel != [wkh, wkw] {
        return Err(op_err!(
            "kernel_shape {kernel:?} does not match weights {w:?}"
        ));
    }
    let strides = pair("strides", &a.strides, 1)?;
    let dilations = pair("dilations", &a.dilations, 1)?;
    let pads = match a.pads.as_slice() {
        [] => [0; 4],
        &[t, l, b, r] => [t, l, b, r],
        p => return Err(op_err!("pads must have 4 values, got {p:?}")),
    };
    if strides.contains(&0) || dilations.contains(&0) || a.group == 0 || a.offset_group == 0 {
        return Err(op_err!(
            "strides, dilations, group and offset_group must be positive"
        ));
    }
    if ic != icg * a.group || oc % a.group != 0 {
        return Err(op_err!(
            "x has {ic} channels and w shape {w:?}; with group {} they must be {} and a multiple of it",
            a.group,
            icg * a.group
        ));
    }
    if ic % a.offset_group != 0 {
        return Err(op_err!(
            "x's {ic} channels are not divisible by offset_group {}",
            a.offset_group
        ));
    }
    let taps = wkh * wkw;
    if on != n || oc2 != a.offset_group * taps * 2 {
        return Err(op_err!(
            "offset must have shape [{n}, {}, out_h, out_w], got {offset:?}",
            a.offset_group * taps * 2
        ));
    }
    let in_size = [ih, iw];
    for d in 0..2 {
        let span = (kernel[d].max(1) - 1) * dilations[d] + 1;
        let padded = in_size[d] + pads[d] + pads[d + 2];
        let expected = padded.checked_sub(span).map(|r| r / strides[d] + 1);
        if expected != Some([oh, ow][d]) {
            return Err(op_err!(
                "offset's output size {:?} does not match the convolution of x {x:?} (expected {expected:?} on axis {d})",
                [oh, ow]
            ));
        }
    }
    Ok(Plan {
        batch: n,
        in_channels: ic,
        out_channels: oc,
        in_size,
        kernel,
        out_size: [oh, ow],
        strides,
        dilations,
        pad_begin: [pads[0], pads[1]],
        group: a.group,
        offset_group: a.offset_group,
    })
}

/// Bilinear sample of `plane` (h x w) at (y, x), reading zeros outside.
fn bilinear(plane: &[f64], h: usize, w: usize, y: f64, x: f64) -> f64 {
    let (y0, x0) = (y.floor(), x.floor());
    let (ty, tx) = (y - y0, x - x0);
    let (y0, x0) = (y0 as i64, x0 as i64);
    let at = |yy: i64, xx: i64| {
        if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
            plane[yy as usize * w + xx as usize]
        } else {
            0.0
        }
    };
    (1.0 - ty) * ((1.0 - tx) * at(y0, x0) + tx * at(y0, x0.saturating_add(1)))
        + ty * ((1.0 - tx) * at(y0.saturating_add(1), x0)
            + tx * at(y0.saturating_add(1), x0.saturating_add(1)))
}

/// inputs: x, w, offset, b?, mask?.
pub fn deform_conv(
    a: &DeformConvAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let w = req(inputs, 1)?;
    let offset = req(inputs, 2)?;
    if !x.dtype().is_float() {
        return Err(op_err!("x must be floating point, got {}", x.dtype()));
    }
    let p = plan(a, x.shape(), w.shape(), offset.shape())?;
    let [ih, iw] = p.in_size;
    let [kh, kw] = p.kernel;
    let [oh, ow] = p.out_size;
    let (taps, positions) = (kh * kw, oh * ow);
    let bias = match opt(inputs, 3) {
        Some(b) if b.len() != p.out_channels => {
            return Err(op_err!(
                "b must have {} values, got shape {:?}",
                p.out_channels,
                b.shape()
            ));
        }
        Some(b) => b.to_f64_vec(),
        None => vec![0.0; p.out_channels],
    };
    let mask_len = p.batch * p.offset_group * taps * positions;
    let mask = match opt(inputs, 4) {
        Some(m) if m.len() != mask_len => {
            return Err(op_err!(
                "mask must have shape [{}, {}, {oh}, {ow}], got {:?}",
                p.batch,
                p.offset_group * taps,
                m.shape()
            ));
        }
        Some(m) => m.to_f64_vec(),
        None => vec![1.0; mask_len],
    };
    let (xv, wv, ov) = (x.to_f64_vec(), w.to_f64_vec(), offset.to_f64_vec());
    let per_group_in = p.in_channels / p.group;
    let per_group_out = p.out_channels / p.group;
    let per_offset_group = p.in_channels / p.offset_group;
    let mut out = Vec::with_capacity(p.batch * p.out_channels * positions);
    // Sampled (and masked) columns of one image: [channel][tap][position].
    let mut columns = vec![0.0f64; p.in_channels * taps * positions];
    for b in 0..p.batch {
        for c in 0..p.in_channels {
            let g = c / per_offset_group;
            let plane =
                &xv[(b * p.in_channels + c) * ih * iw..(b * p.in_channels + c + 1) * ih * iw];
            for t in 0..taps {
                let (ky, kx) = (t / kw, t % kw);
                let offset_base = ((b * p.offset_group + g) * taps + t) * 2 * positions;
                let mask_base = ((b * p.offset_group + g) * taps + t) * positions;
                for pos in 0..positions {
                    let (i, j) = (pos / ow, pos % ow);
                    let y = (i * p.strides[0] + ky * p.dilations[0]) as f64 - p.pad_begin[0] as f64
                        + ov[offset_base + pos];
                    let xx = (j * p.strides[1] + kx * p.dilations[1]) as f64
                        - p.pad_begin[1] as f64
                        + ov[offset_base + positions + pos];
                    columns[(c * taps + t) * positions + pos] =
                        bilinear(plane, ih, iw, y, xx) * mask[mask_base + pos];
                }
            }
        }
        for o in 0..p.out_channels {
            let g = o / per_group_out;
            let mut acc = vec![bias[o]; positions];
            for ci in 0..per_group_in {
                let c = g * per_group_in + ci;
                for t in 0..taps {
                    let weight = wv[(o * per_group_in + ci) * taps + t];
                    let col = &columns[(c * taps + t) * positions..(c * taps + t + 1) * positions];
                    for (acc, v) in acc.iter_mut().zip(col) {
                        *acc += weight * v;
                    }
                }
            }
            out.extend(acc);
        }
    }
    let shape = vec![p.batch, p.out_channels, oh, ow];
    Ok(vec![Tensor::from_f64(x.dtype(), shape, &out)?])
}
