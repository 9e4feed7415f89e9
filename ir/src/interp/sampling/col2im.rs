//! `Col2Im`: sums the sliding blocks of `input` (N, C * prod(block), L) back into images
//! (N, C, image_shape...), the inverse layout of an im2col unfold.

use crate::error::OpError;
use crate::interp::req;
use crate::op_err;
use crate::tensor::Tensor;

/// The geometry of one spatial axis: image size, block size, dilation, pads, stride.
#[derive(Clone, Copy)]
struct Axis {
    image: usize,
    block: usize,
    dilation: usize,
    pad_begin: usize,
    stride: usize,
    /// Number of block positions along the axis.
    positions: usize,
}

/// Parses the `image_shape` and `block_shape` values and attributes into per-axis geometry.
fn axes(
    image_shape: &[i64],
    block_shape: &[i64],
    dilations: &[usize],
    pads: &[usize],
    strides: &[usize],
) -> Result<Vec<Axis>, OpError> {
    let k = image_shape.len();
    if block_shape.len() != k {
        return Err(op_err!(
            "block_shape {block_shape:?} must have as many values as image_shape {image_shape:?}"
        ));
    }
    let check_len = |name: &str, v: &[usize], n: usize| {
        if v.is_empty() || v.len() == n {
            Ok(())
        } else {
            Err(op_err!("{name} must have {n} values, got {v:?}"))
        }
    };
    check_len("dilations", dilations, k)?;
    check_len("pads", pads, 2 * k)?;
    check_len("strides", strides, k)?;
    (0..k)
        .map(|i| {
            let image = usize::try_from(image_shape[i])
                .map_err(|_| op_err!("image_shape value {} is negative", image_shape[i]))?;
            let block = usize::try_from(block_shape[i])
                .ok()
                .filter(|&b| b > 0)
                .ok_or_else(|| op_err!("block_shape value {} must be positive", block_shape[i]))?;
            let dilation = dilations.get(i).copied().unwrap_or(1);
            let stride = strides.get(i).copied().unwrap_or(1);
            if dilation == 0 || stride == 0 {
                return Err(op_err!(
                    "dilations and strides must be positive on axis {i}"
                ));
            }
            let pad_begin = pads.get(i).copied().unwrap_or(0);
            let pad_end = pads.get(k + i).copied().unwrap_or(0);
            let span = dilation as i128 * (block as i128 - 1) + 1;
            let room = image as i128 + pad_begin as i128 + pad_end as i128 - span;
            if room < 0 {
                return Err(op_err!(
                    "block of span {span} does not fit image size {image} with pads on axis {i}"
                ));
            }
            let positions = (room / stride as i128 + 1) as usize;
            Ok(Axis {
                image,
                block,
                dilation,
                pad_begin,
                stride,
                positions,
            })
        })
        .collect()
}

/// The output shape (N, C, image...) of `input_shape`, with the per-axis geometry.
fn plan(
    input_shape: &[usize],
    image_shape: &[i64],
    block_shape: &[i64],
    dilations: &[usize],
    pads: &[usize],
    strides: &[usize],
) -> Result<(Vec<usize>, Vec<Axis>), OpError> {
    let geometry = axes(image_shape, block_shape, dilations, pads, strides)?;
    let &[n, cols, l] = input_shape else {
        return Err(op_err!(
            "input must be 3-D (N, C * prod(block), L), got shape {input_shape:?}"
        ));
    };
    let block_size: usize = geometry.iter().map(|a| a.block).product();
    if cols % block_size != 0 {
        return Err(op_err!(
            "input dim 1 ({cols}) is not a multiple of the block size {block_size}"
        ));
    }
    let blocks: usize = geometry.iter().map(|a| a.positions).product();
    if l != blocks {
        return Err(op_err!(
            "input dim 2 ({l}) must equal the number of block positions {blocks}"
        ));
    }
    let mut out = vec![n, cols / block_size];
    out.extend(geometry.iter().map(|a| a.image));
    Ok((out, geometry))
}

/// The output shape of `Col2Im`, for shape inference.
pub(crate) fn col2im_shape(
    input_shape: &[usize],
    image_shape: &[i64],
    block_shape: &[i64],
    dilations: &[usize],
    pads: &[usize],
    strides: &[usize],
) -> Result<Vec<usize>, OpError> {
    plan(
        input_shape,
        image_shape,
        block_shape,
        dilations,
        pads,
        strides,
    )
    .map(|p| p.0)
}

/// Splits `flat` into per-axis indices of `sizes` (row-major).
fn unravel(mut flat: usize, sizes: impl DoubleEndedIterator<Item = usize>, out: &mut [usize]) {
    for (slot, size) in out.iter_mut().rev().zip(sizes.rev()) {
        *slot = flat % size;
        flat /= size;
    }
}

/// inputs: input, image_shape, block_shape.
pub fn col2im(
    dilations: &[usize],
    pads: &[usize],
    strides: &[usize],
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let input = req(inputs, 0)?;
    let image_shape = req(inputs, 1)?.to_i64_vec()?;
    let block_shape = req(inputs, 2)?.to_i64_vec()?;
    if !input.dtype().is_float() {
        return Err(op_err!(
            "input must be floating point, got {}",
            input.dtype()
        ));
    }
    let (out_shape, geometry) = plan(
        input.shape(),
        &image_shape,
        &block_shape,
        dilations,
        pads,
        strides,
    )?;
    let k = geometry.len();
    let (n, c) = (out_shape[0], out_shape[1]);
    let block_size: usize = geometry.iter().map(|a| a.block).product();
    let blocks: usize = geometry.iter().map(|a| a.positions).product();
    let image_size: usize = geometry.iter().map(|a| a.image).product();
    let data = input.to_f64_vec();
    let mut out = vec![0.0f64; n * c * image_size];
    let (mut offset, mut position) = (vec![0usize; k], vec![0usize; k]);
    for plane in 0..n * c {
        let src = &data[plane * block_size * blocks..(plane + 1) * block_size * blocks];
        let dst = &mut out[plane * image_size..(plane + 1) * image_size];
        for kernel in 0..block_size {
            unravel(kernel, geometry.iter().map(|a| a.block), &mut offset);
            for col in 0..blocks {
                unravel(col, geometry.iter().map(|a| a.positions), &mut position);
                let mut target = 0usize;
                let mut inside = true;
                for (a, axis) in geometry.iter().enumerate() {
                    let i = (position[a] * axis.stride + offset[a] * axis.dilation) as i128
                        - axis.pad_begin as i128;
                    if i < 0 || i >= axis.image as i128 {
                        inside = false;
                        break;
                    }
                    target = target * axis.image + i as usize;
                }
                if inside {
                    dst[target] += src[kernel * blocks + col];
                }
            }
        }
    }
    Ok(vec![Tensor::from_f64(input.dtype(), out_shape, &out)?])
}
