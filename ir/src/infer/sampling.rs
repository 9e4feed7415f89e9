//! Shape rules of spatial sampling ops: `GridSample`, `AffineGrid`, `CenterCropPad`,
//! `RoiAlign`, `MaxUnpool`, `Col2Im`, `DeformConv`.

use super::{Known, fresh_dim, opt, req};
use crate::error::OpError;
use crate::interp::sampling::{
    col2im_shape, crop_targets, deform_conv_plan, spatial_sizes, unpooled_shape,
};
use crate::op::{DeformConvAttrs, RoiAlignAttrs};
use crate::op_err;
use crate::shape::{Dim, TensorType, concrete, display_shape};

fn require_float(k: &Known, name: &str) -> Result<(), OpError> {
    if k.ty.dtype.is_float() {
        Ok(())
    } else {
        Err(op_err!("{name} must be floating point, got {}", k.ty.dtype))
    }
}

/// inputs: x, grid. Output: (N, C, grid's output dims).
pub fn grid_sample(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let grid = req(inputs, 1)?;
    require_float(&x, "x")?;
    require_float(&grid, "grid")?;
    let dtype = x.ty.dtype;
    let (Some(xs), Some(gs)) = (x.ty.shape.as_deref(), grid.ty.shape.as_deref()) else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    if xs.len() < 3 || gs.len() != xs.len() {
        return Err(op_err!(
            "x must have rank 3 or more and grid the same rank, got {} and {}",
            display_shape(xs),
            display_shape(gs)
        ));
    }
    let k = xs.len() - 2;
    if let Some(last) = gs[gs.len() - 1].as_static()
        && last != k
    {
        return Err(op_err!(
            "grid's last dim must be {k} for x of shape {}, got grid {}",
            display_shape(xs),
            display_shape(gs)
        ));
    }
    let mut out = vec![xs[0].clone(), xs[1].clone()];
    out.extend_from_slice(&gs[1..gs.len() - 1]);
    Ok(vec![TensorType::new(dtype, out)])
}

/// inputs: theta, size. Output: (N, spatial dims of size, k).
pub fn affine_grid(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let theta = req(inputs, 0)?;
    let size = req(inputs, 1)?;
    require_float(&theta, "theta")?;
    let dtype = theta.ty.dtype;
    let theta_shape = theta.ty.shape.as_deref();
    if let Some(v) = size.value {
        let size = v.to_i64_vec()?;
        if let Some(ts) = theta_shape.and_then(concrete) {
            let spatial = spatial_sizes(&size, &ts)?;
            let mut out = vec![ts[0]];
            out.extend_from_slice(&spatial);
            out.push(spatial.len());
            return Ok(vec![TensorType::new(
                dtype,
                crate::shape::static_shape(&out),
            )]);
        }
    }
    // Without both values, the rank still follows from theta's (N, k, k + 1).
    let Some(ts) = theta_shape else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    if ts.len() != 3 {
        return Err(op_err!("theta must be 3-D, got {}", display_shape(ts)));
    }
    let Some(k) = ts[1].as_static() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let mut out = vec![ts[0].clone()];
    out.extend((0..k).map(|_| fresh_dim("affine_grid")));
    out.push(Dim::Static(k));
    Ok(vec![TensorType::new(dtype, out)])
}

/// inputs: x, shape. Output: x's shape with the chosen axes set to `shape`.
pub fn center_crop_pad(
    axes: Option<&[i64]>,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let shape = req(inputs, 1)?;
    let dtype = x.ty.dtype;
    let Some(xs) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let Some(v) = shape.value else {
        let mut out: Vec<Dim> = xs.to_vec();
        match axes {
            Some(axes) => {
                for &a in axes {
                    let a = crate::shape::normalize_axis(a, xs.len())?;
                    out[a] = fresh_dim("center_crop_pad");
                }
            }
            None => out
                .iter_mut()
                .for_each(|d| *d = fresh_dim("center_crop_pad")),
        }
        return Ok(vec![TensorType::new(dtype, out)]);
    };
    let mut out: Vec<Dim> = xs.to_vec();
    for (a, size) in crop_targets(xs.len(), axes, &v.to_i64_vec()?)? {
        out[a] = Dim::Static(size);
    }
    Ok(vec![TensorType::new(dtype, out)])
}

/// inputs: x, rois, batch_indices. Output: (R, C, output_height, output_width).
pub fn roi_align(a: &RoiAlignAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let rois = req(inputs, 1)?;
    let batch_indices = req(inputs, 2)?;
    require_float(&x, "x")?;
    let channels = match x.ty.shape.as_deref() {
        Some([_, c, _, _]) => c.clone(),
        Some(s) => {
            return Err(op_err!(
                "x must be 4-D (N, C, H, W), got {}",
                display_shape(s)
            ));
        }
        None => fresh_dim("roi_align_channels"),
    };
    let n_rois = match (rois.ty.shape.as_deref(), batch_indices.ty.shape.as_deref()) {
        (_, Some([r])) => r.clone(),
        (Some([r, _]), _) => r.clone(),
        _ => fresh_dim("roi_align_rois"),
    };
    let out = vec![
        n_rois,
        channels,
        Dim::Static(a.output_height),
        Dim::Static(a.output_width),
    ];
    Ok(vec![TensorType::new(x.ty.dtype, out)])
}

/// inputs: x, indices, output_shape?. Output: `output_shape` when given, else the unpooled
/// shape of x.
pub fn max_unpool(
    kernel_shape: &[usize],
    pads: &[usize],
    strides: &[usize],
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let dtype = x.ty.dtype;
    let rank = kernel_shape.len() + 2;
    if let Some(shape) = opt(inputs, 2) {
        let out = match shape.value {
            Some(v) => v
                .to_i64_vec()?
                .iter()
                .map(|&d| {
                    usize::try_from(d)
                        .map(Dim::Static)
                        .map_err(|_| op_err!("output_shape value {d} is negative"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => (0..rank).map(|_| fresh_dim("max_unpool")).collect(),
        };
        return Ok(vec![TensorType::new(dtype, out)]);
    }
    let Some(xs) = x.ty.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    if xs.len() != rank {
        return Err(op_err!(
            "x must have rank {rank} for a {}-D kernel, got {}",
            kernel_shape.len(),
            display_shape(xs)
        ));
    }
    let Some(concrete_x) = concrete(xs) else {
        let mut out = xs[..2].to_vec();
        out.extend((2..rank).map(|_| fresh_dim("max_unpool")));
        return Ok(vec![TensorType::new(dtype, out)]);
    };
    let mut out: Vec<Dim> = xs[..2].to_vec();
    let unpooled = unpooled_shape(&concrete_x, kernel_shape, pads, strides)?;
    out.extend(unpooled[2..].iter().map(|&d| Dim::Static(d)));
    Ok(vec![TensorType::new(dtype, out)])
}

/// inputs: input, image_shape, block_shape. Output: (N, C, image_shape...).
pub fn col2im(
    dilations: &[usize],
    pads: &[usize],
    strides: &[usize],
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let input = req(inputs, 0)?;
    let image_shape = req(inputs, 1)?;
    let block_shape = req(inputs, 2)?;
    require_float(&input, "input")?;
    let dtype = input.ty.dtype;
    let shape = input.ty.shape.as_deref();
    if let (Some(xs), Some(image), Some(block)) = (
        shape.and_then(concrete),
        image_shape.value,
        block_shape.value,
    ) {
        let out = col2im_shape(
            &xs,
            &image.to_i64_vec()?,
            &block.to_i64_vec()?,
            dilations,
            pads,
            strides,
        )?;
        return Ok(vec![TensorType::new(
            dtype,
            crate::shape::static_shape(&out),
        )]);
    }
    let n = match shape {
        Some([n, _, _]) => n.clone(),
        Some(s) => {
            return Err(op_err!("input must be 3-D, got {}", display_shape(s)));
        }
        None => fresh_dim("col2im_batch"),
    };
    let mut out = vec![n, fresh_dim("col2im_channels")];
    match image_shape.value {
        Some(v) => {
            for d in v.to_i64_vec()? {
                let d =
                    usize::try_from(d).map_err(|_| op_err!("image_shape value {d} is negative"))?;
                out.push(Dim::Static(d));
            }
        }
        None => match image_shape.ty.shape.as_deref() {
            Some([Dim::Static(k)]) => out.extend((0..*k).map(|_| fresh_dim("col2im"))),
            _ => return Ok(vec![TensorType::unknown_shape(dtype)]),
        },
    }
    Ok(vec![TensorType::new(dtype, out)])
}

/// inputs: x, w, offset, b?, mask?. Output: (N, out channels, offset's output dims).
pub fn deform_conv(
    a: &DeformConvAttrs,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let w = req(inputs, 1)?;
    let offset = req(inputs, 2)?;
    require_float(&x, "x")?;
    let dtype = x.ty.dtype;
    let (Some(xs), Some(ws), Some(os)) = (
        x.ty.shape.as_deref(),
        w.ty.shape.as_deref(),
        offset.ty.shape.as_deref(),
    ) else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    if let (Some(xc), Some(wc), Some(oc)) = (concrete(xs), concrete(ws), concrete(os)) {
        deform_conv_plan(a, &xc, &wc, &oc)?;
    }
    match (xs, ws, os) {
        ([n, ..], [m, ..], [_, _, spatial @ ..]) if xs.len() == 4 && os.len() == 4 => {
            let mut out = vec![n.clone(), m.clone()];
            out.extend_from_slice(spatial);
            Ok(vec![TensorType::new(dtype, out)])
        }
        _ => Err(op_err!(
            "only 2-D DeformConv is supported: x, w and offset must be 4-D, got {}, {}, {}",
            display_shape(xs),
            display_shape(ws),
            display_shape(os)
        )),
    }
}
