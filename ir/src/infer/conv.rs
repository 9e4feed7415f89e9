//! Shape and dtype rules for convolution, transposed convolution, pooling and LRN. The window
//! arithmetic is the interpreter's (`interp::conv::geometry`); symbolic spatial dims give
//! fresh dims.

use super::{Known, fresh_dim, opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::conv::geometry::WindowSpec;
use crate::interp::conv::transpose::transpose_axes;
use crate::op::{ConvAttrs, ConvTransposeAttrs, PoolAttrs};
use crate::op_bail;
use crate::shape::{Dim, Shape, TensorType, concrete, display_shape};

fn check_float(dtype: DType) -> Result<(), OpError> {
    if !dtype.is_float() {
        op_bail!("dtype {dtype} is not supported");
    }
    Ok(())
}

/// The static sizes of `dims`, if all are static.
fn static_dims(dims: &[Dim]) -> Option<Vec<usize>> {
    concrete(dims)
}

/// Spatial output dims: each static input dim through `axis_out`, symbolic ones fresh.
fn spatial_out(
    input: &[Dim],
    hint: &str,
    axis_out: impl Fn(usize, usize) -> Result<usize, OpError>,
) -> Result<Shape, OpError> {
    input
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            Dim::Static(n) => axis_out(i, *n).map(Dim::Static),
            Dim::Symbolic(_) => Ok(fresh_dim(hint)),
        })
        .collect()
}

/// The `[N, C, spatial...]` input shape of a window op, checking its rank.
fn window_input(x: &TensorType, spatial: Option<usize>) -> Result<Option<&[Dim]>, OpError> {
    let Some(s) = x.shape.as_deref() else {
        return Ok(None);
    };
    let ok = match spatial {
        Some(n) => s.len() == n + 2,
        None => s.len() >= 3,
    };
    if !ok {
        op_bail!(
            "input must be [N, C, spatial...]{}, got {}",
            spatial.map_or(String::new(), |n| format!(" with {n} spatial dims")),
            display_shape(s)
        );
    }
    Ok(Some(s))
}

pub fn conv(a: &ConvAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?.ty;
    let w = req(inputs, 1)?.ty;
    if x.dtype != w.dtype {
        op_bail!("weight is {}, input is {}", w.dtype, x.dtype);
    }
    check_float(x.dtype)?;
    if a.group == 0 {
        op_bail!("group must be positive");
    }
    let ws = w.shape.as_deref();
    let xs = window_input(x, ws.map(|s| s.len().saturating_sub(2)))?;
    if let (Some(xs), Some(ws)) = (xs, ws)
        && let (Dim::Static(c), Dim::Static(cg)) = (&xs[1], &ws[1])
        && *c != cg * a.group
    {
        op_bail!(
            "input has {c} channels, weight expects {} (group {})",
            cg * a.group,
            a.group
        );
    }
    if let Some(b) = opt(inputs, 2)
        && let (Some([Dim::Static(nb)]), Some(Dim::Static(m))) =
            (b.ty.shape.as_deref(), ws.map(|s| &s[0]))
        && nb != m
    {
        op_bail!("bias has {nb} elements, the weight has {m} output channels");
    }
    let kernel = ws
        .and_then(|s| static_dims(&s[2..]))
        .or_else(|| a.kernel_shape.clone());
    let Some(rank) = xs.map(|s| s.len()).or(ws.map(|s| s.len())) else {
        return Ok(vec![TensorType::unknown_shape(x.dtype)]);
    };
    let mut shape = vec![
        xs.map_or_else(|| fresh_dim("conv_n"), |s| s[0].clone()),
        ws.map_or_else(|| fresh_dim("conv_m"), |s| s[0].clone()),
    ];
    let spatial: Vec<Dim> = match (xs, kernel) {
        (Some(xs), Some(kernel)) => {
            let spec = WindowSpec::conv(a, &kernel)?;
            spatial_out(&xs[2..], "conv", |i, d| spec.axis(i, d).map(|ax| ax.output))?
        }
        _ => (2..rank).map(|_| fresh_dim("conv")).collect(),
    };
    shape.extend(spatial);
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub fn conv_integer(a: &ConvAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    for (i, name) in [(0, "x"), (1, "w")] {
        let d = req(inputs, i)?.ty.dtype;
        if !matches!(d, DType::U8 | DType::I8) {
            op_bail!("{name} must be u8 or i8, got {d}");
        }
    }
    // The float rule gives the shape; it only needs the operands as one float dtype.
    let as_float = |i: usize| -> Result<TensorType, OpError> {
        Ok(TensorType {
            dtype: DType::F32,
            shape: req(inputs, i)?.ty.shape.clone(),
        })
    };
    let (x, w) = (as_float(0)?, as_float(1)?);
    let known = |ty| Some(Known { ty, value: None });
    let shape = conv(a, &[known(&x), known(&w)])?.remove(0).shape;
    Ok(vec![TensorType {
        dtype: DType::I32,
        shape,
    }])
}

pub fn conv_transpose(
    a: &ConvTransposeAttrs,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?.ty;
    let w = req(inputs, 1)?.ty;
    if x.dtype != w.dtype {
        op_bail!("weight is {}, input is {}", w.dtype, x.dtype);
    }
    check_float(x.dtype)?;
    let group = a.conv.group;
    if group == 0 {
        op_bail!("group must be positive");
    }
    let ws = w.shape.as_deref();
    let xs = window_input(x, ws.map(|s| s.len().saturating_sub(2)))?;
    if let (Some(xs), Some(ws)) = (xs, ws)
        && let (Dim::Static(c), Dim::Static(wc)) = (&xs[1], &ws[0])
        && c != wc
    {
        op_bail!("input has {c} channels, weight expects {wc} (weight is [C, M/group, k...])");
    }
    let (Some(xs), Some(ws)) = (xs, ws) else {
        return Ok(vec![match xs.or(ws) {
            Some(s) => TensorType::new(x.dtype, (0..s.len()).map(|_| fresh_dim("convt")).collect()),
            None => TensorType::unknown_shape(x.dtype),
        }]);
    };
    let out_channels = match &ws[1] {
        Dim::Static(m) => Dim::Static(m * group),
        Dim::Symbolic(_) => fresh_dim("convt_m"),
    };
    let mut shape = vec![xs[0].clone(), out_channels];
    let Some(kernel) = static_dims(&ws[2..]) else {
        shape.extend((2..xs.len()).map(|_| fresh_dim("convt")));
        return Ok(vec![TensorType::new(x.dtype, shape)]);
    };
    // Symbolic input dims stand in as 1; their outputs are only kept where output_shape fixes them.
    let placeholder: Vec<usize> = xs[2..].iter().map(|d| d.as_static().unwrap_or(1)).collect();
    let axes = transpose_axes(a, &placeholder, &kernel)?;
    let fixed = !a.output_shape.is_empty();
    for (d, ax) in xs[2..].iter().zip(&axes) {
        shape.push(match d {
            Dim::Static(_) => Dim::Static(ax.output),
            Dim::Symbolic(_) if fixed => Dim::Static(ax.output),
            Dim::Symbolic(_) => fresh_dim("convt"),
        });
    }
    Ok(vec![TensorType::new(x.dtype, shape)])
}

/// The output type of a windowed pool.
fn pool_type(attrs: &PoolAttrs, x: &TensorType) -> Result<TensorType, OpError> {
    let spec = WindowSpec::pool(attrs)?;
    let Some(xs) = window_input(x, Some(spec.rank()))? else {
        let mut shape = vec![fresh_dim("pool_n"), fresh_dim("pool_c")];
        shape.extend((0..spec.rank()).map(|_| fresh_dim("pool")));
        return Ok(TensorType::new(x.dtype, shape));
    };
    let mut shape = xs[..2].to_vec();
    shape.extend(spatial_out(&xs[2..], "pool", |i, d| {
        spec.axis(i, d).map(|ax| ax.output)
    })?);
    Ok(TensorType::new(x.dtype, shape))
}

pub fn max_pool(
    pool: &PoolAttrs,
    storage_order: i64,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?.ty;
    if !(x.dtype.is_float() || x.dtype.is_int()) {
        op_bail!("dtype {} is not supported", x.dtype);
    }
    if !matches!(storage_order, 0 | 1) {
        op_bail!("storage_order must be 0 or 1, got {storage_order}");
    }
    let y = pool_type(pool, x)?;
    let mut out = vec![y.clone()];
    if n_outputs >= 2 {
        out.push(TensorType {
            dtype: DType::I64,
            shape: y.shape,
        });
    }
    Ok(out)
}

pub fn average_pool(
    pool: &PoolAttrs,
    count_include_pad: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let _ = count_include_pad;
    let x = req(inputs, 0)?.ty;
    check_float(x.dtype)?;
    Ok(vec![pool_type(pool, x)?])
}

pub fn lp_pool(
    pool: &PoolAttrs,
    p: f32,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?.ty;
    check_float(x.dtype)?;
    if p <= 0.0 || p.is_nan() {
        op_bail!("p must be positive, got {p}");
    }
    Ok(vec![pool_type(pool, x)?])
}

/// `[N, C, 1, ...]` for a global pool.
fn global_type(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?.ty;
    check_float(x.dtype)?;
    let Some(s) = x.shape.as_deref() else {
        return Ok(vec![TensorType::unknown_shape(x.dtype)]);
    };
    if s.len() < 2 {
        op_bail!("input must be [N, C, spatial...], got {}", display_shape(s));
    }
    let mut shape = s[..2].to_vec();
    shape.resize(s.len(), Dim::Static(1));
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub fn global_average_pool(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    global_type(inputs)
}

pub fn global_max_pool(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    global_type(inputs)
}

pub fn global_lp_pool(p: f32, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    if p <= 0.0 || p.is_nan() {
        op_bail!("p must be positive, got {p}");
    }
    global_type(inputs)
}

pub fn lrn(
    alpha: f32,
    beta: f32,
    bias: f32,
    size: usize,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let _ = (alpha, beta, bias);
    let x = req(inputs, 0)?.ty;
    check_float(x.dtype)?;
    if size == 0 {
        op_bail!("size must be positive");
    }
    if let Some(s) = &x.shape
        && s.len() < 2
    {
        op_bail!("input must be [N, C, ...], got {}", display_shape(s));
    }
    Ok(vec![x.clone()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::AutoPad;
    use crate::shape::static_shape;

    fn known(ty: &TensorType) -> Option<Known<'_>> {
        Some(Known { ty, value: None })
    }

    fn conv_attrs(auto_pad: AutoPad, strides: Vec<usize>) -> ConvAttrs {
        ConvAttrs {
            kernel_shape: None,
            strides,
            dilations: vec![],
            pads: vec![],
            auto_pad,
            group: 1,
        }
    }

    #[test]
    fn conv_shape_with_symbolic_batch_and_same_padding() {
        let x = TensorType::new(
            DType::F32,
            vec![
                Dim::Symbolic("n".into()),
                Dim::Static(3),
                Dim::Static(7),
                Dim::Static(8),
            ],
        );
        let w = TensorType::new(DType::F32, static_shape(&[16, 3, 3, 3]));
        let out = conv(
            &conv_attrs(AutoPad::SameUpper, vec![2, 2]),
            &[known(&x), known(&w)],
        )
        .unwrap();
        assert_eq!(
            out[0].shape.as_ref().unwrap(),
            &vec![
                Dim::Symbolic("n".into()),
                Dim::Static(16),
                Dim::Static(4),
                Dim::Static(4)
            ]
        );
    }

    #[test]
    fn conv_channel_mismatch_names_both_counts() {
        let x = TensorType::new(DType::F32, static_shape(&[1, 3, 5, 5]));
        let w = TensorType::new(DType::F32, static_shape(&[8, 4, 3, 3]));
        let e = conv(
            &conv_attrs(AutoPad::NotSet, vec![]),
            &[known(&x), known(&w)],
        )
        .unwrap_err();
        assert_eq!(e.0, "input has 3 channels, weight expects 4 (group 1)");
    }

    #[test]
    fn max_pool_indices_share_the_output_shape() {
        let x = TensorType::new(DType::U8, static_shape(&[1, 1, 5, 5]));
        let attrs = PoolAttrs {
            kernel_shape: vec![2, 2],
            strides: vec![2, 2],
            dilations: vec![],
            pads: vec![],
            auto_pad: AutoPad::NotSet,
            ceil_mode: true,
        };
        let out = max_pool(&attrs, 0, &[known(&x)], 2).unwrap();
        assert_eq!(out[0].shape.as_ref().unwrap(), &static_shape(&[1, 1, 3, 3]));
        assert_eq!(out[1].dtype, DType::I64);
    }
}
