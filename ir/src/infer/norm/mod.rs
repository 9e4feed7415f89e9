//! Shape and dtype rules for the softmax family, the normalizations, rotary embedding and
//! inference-mode dropout; attention and the losses live in submodules.

mod attention;
mod loss;

pub use attention::attention;
pub use loss::{nll_loss, softmax_cross_entropy};

use super::{Known, opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::normalize_axes;
use crate::op::SoftmaxKind;
use crate::op_bail;
use crate::shape::{Dim, Shape, TensorType, display_shape, normalize_axis};

pub fn softmax(
    _kind: SoftmaxKind,
    axis: i64,
    _coerce_2d: bool,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    if let Some(rank) = x.ty.rank() {
        normalize_axis(axis, rank)?;
    }
    Ok(vec![x.ty.clone()])
}

pub fn batch_norm(_epsilon: f32, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    if let Some(shape) = channel_input(x)? {
        for (k, name) in ["scale", "bias", "mean", "var"].iter().enumerate() {
            let p = float_input(inputs, k + 1, name)?;
            let Some(ps) = &p.ty.shape else { continue };
            let want: &[Dim] = if ps.len() == 1 {
                &shape[1..2]
            } else {
                &shape[1..]
            };
            if ps.len() != want.len() || !dims_may_equal(ps, want) {
                op_bail!(
                    "{name} must have shape [{}] (per channel) or {} (per activation), got {}",
                    shape[1],
                    display_shape(&shape[1..]),
                    display_shape(ps)
                );
            }
        }
    }
    Ok(vec![x.ty.clone()])
}

pub fn instance_norm(_epsilon: f32, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    if let Some(shape) = channel_input(x)? {
        expect_vector(req(inputs, 1)?, &shape[1], "scale")?;
        expect_vector(req(inputs, 2)?, &shape[1], "bias")?;
    }
    Ok(vec![x.ty.clone()])
}

pub fn layer_norm(
    axis: i64,
    _epsilon: f32,
    stash_type: DType,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    same_dtype(req(inputs, 1)?, x, "scale")?;
    if let Some(b) = opt(inputs, 2) {
        same_dtype(b, x, "bias")?;
    }
    let stat = match &x.ty.shape {
        Some(shape) => {
            let axis = normalize_axis(axis, shape.len())?;
            check_unidirectional(req(inputs, 1)?, shape, "scale")?;
            if let Some(b) = opt(inputs, 2) {
                check_unidirectional(b, shape, "bias")?;
            }
            let s: Shape = shape
                .iter()
                .enumerate()
                .map(|(i, d)| if i < axis { d.clone() } else { Dim::Static(1) })
                .collect();
            TensorType::new(stash_type, s)
        }
        None => TensorType::unknown_shape(stash_type),
    };
    let mut out = vec![x.ty.clone()];
    out.extend(std::iter::repeat_n(stat, n_outputs.saturating_sub(1)));
    Ok(out)
}

pub fn group_norm(
    num_groups: usize,
    _epsilon: f32,
    _stash_type: DType,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    if let Some(shape) = channel_input(x)? {
        if let Dim::Static(c) = shape[1]
            && (num_groups == 0 || c % num_groups != 0)
        {
            op_bail!("num_groups {num_groups} does not divide the {c} channels");
        }
        expect_vector(req(inputs, 1)?, &shape[1], "scale")?;
        expect_vector(req(inputs, 2)?, &shape[1], "bias")?;
    }
    Ok(vec![x.ty.clone()])
}

/// Y has the scale's dtype (ONNX's `V`) and the input's shape.
pub fn rms_norm(
    axis: i64,
    _epsilon: f32,
    _stash_type: DType,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    let scale = float_input(inputs, 1, "scale")?;
    if let Some(shape) = &x.ty.shape {
        normalize_axis(axis, shape.len())?;
        check_unidirectional(scale, shape, "scale")?;
    }
    Ok(vec![TensorType {
        dtype: scale.ty.dtype,
        shape: x.ty.shape.clone(),
    }])
}

pub fn lp_norm(axis: i64, p: i64, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    if p != 1 && p != 2 {
        op_bail!("p must be 1 or 2, got {p}");
    }
    if let Some(rank) = x.ty.rank() {
        normalize_axis(axis, rank)?;
    }
    Ok(vec![x.ty.clone()])
}

pub fn mean_variance_norm(
    axes: &[i64],
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    if let Some(rank) = x.ty.rank() {
        normalize_axes(axes, rank)?;
    }
    Ok(vec![x.ty.clone()])
}

pub fn rotary_embedding(
    _interleaved: bool,
    num_heads: Option<usize>,
    _rotary_embedding_dim: usize,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let x = float_input(inputs, 0, "input")?;
    same_dtype(req(inputs, 1)?, x, "cos_cache")?;
    same_dtype(req(inputs, 2)?, x, "sin_cache")?;
    match x.ty.shape.as_deref() {
        None | Some([_, _, _, _]) => {}
        Some([_, _, hidden]) => match (num_heads, hidden) {
            (None, _) => op_bail!("num_heads is required for 3-D input"),
            (Some(h), Dim::Static(n)) if h == 0 || n % h != 0 => {
                op_bail!("hidden size {n} is not a multiple of num_heads {h}")
            }
            _ => {}
        },
        Some(s) => op_bail!("input must be 3-D or 4-D, got {}", display_shape(s)),
    }
    Ok(vec![x.ty.clone()])
}

pub fn dropout(
    float_mask: bool,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let mask_dtype = if float_mask { x.ty.dtype } else { DType::Bool };
    let mut out = vec![x.ty.clone()];
    if n_outputs > 1 {
        out.push(TensorType {
            dtype: mask_dtype,
            shape: x.ty.shape.clone(),
        });
    }
    Ok(out)
}

/// Input `i`, which must hold floats.
fn float_input<'a>(
    inputs: &[Option<Known<'a>>],
    i: usize,
    what: &str,
) -> Result<Known<'a>, OpError> {
    let k = req(inputs, i)?;
    if !k.ty.dtype.is_float() {
        op_bail!("{what} must be a float tensor, got {}", k.ty.dtype);
    }
    Ok(k)
}

fn same_dtype(k: Known, x: Known, what: &str) -> Result<(), OpError> {
    if k.ty.dtype != x.ty.dtype {
        op_bail!(
            "{what} has dtype {}, expected {} like the input",
            k.ty.dtype,
            x.ty.dtype
        );
    }
    Ok(())
}

/// The shape of an `(N, C, ...)` input, if known, checking its rank.
fn channel_input(x: Known) -> Result<Option<Shape>, OpError> {
    match &x.ty.shape {
        Some(s) if s.len() < 2 => op_bail!(
            "input must have rank >= 2 (N, C, ...), got {}",
            display_shape(s)
        ),
        s => Ok(s.clone()),
    }
}

/// Whether two dims can be equal (only two different static sizes cannot).
fn dim_may_equal(a: &Dim, b: &Dim) -> bool {
    !matches!((a, b), (Dim::Static(x), Dim::Static(y)) if x != y)
}

fn dims_may_equal(a: &[Dim], b: &[Dim]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| dim_may_equal(x, y))
}

/// Errors unless `k` can be a vector of length `n`.
fn expect_vector(k: Known, n: &Dim, what: &str) -> Result<(), OpError> {
    match &k.ty.shape {
        Some(s) if s.len() != 1 || !dim_may_equal(&s[0], n) => {
            op_bail!("{what} must have shape [{n}], got {}", display_shape(s))
        }
        _ => Ok(()),
    }
}

/// Errors when `k` definitely cannot broadcast to `shape` without changing it.
fn check_unidirectional(k: Known, shape: &[Dim], what: &str) -> Result<(), OpError> {
    let Some(s) = &k.ty.shape else { return Ok(()) };
    let fits = s.len() <= shape.len()
        && s.iter()
            .rev()
            .zip(shape.iter().rev())
            .all(|(d, x)| *d == Dim::Static(1) || dim_may_equal(d, x));
    if !fits {
        op_bail!(
            "{what} of shape {} does not broadcast to the input's {}",
            display_shape(s),
            display_shape(shape)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{AttentionAttrs, LossReduction};

    fn sym(s: &str) -> Dim {
        Dim::Symbolic(s.into())
    }

    fn ty(dtype: DType, dims: &[Dim]) -> TensorType {
        TensorType::new(dtype, dims.to_vec())
    }

    fn known(t: &TensorType) -> Option<Known<'_>> {
        Some(Known { ty: t, value: None })
    }

    #[test]
    fn layer_norm_statistics_keep_the_leading_dims_in_the_stash_type() {
        let x = ty(DType::F16, &[sym("n"), Dim::Static(4), Dim::Static(8)]);
        let scale = ty(DType::F16, &[Dim::Static(8)]);
        let out = layer_norm(-1, 1e-5, DType::F32, &[known(&x), known(&scale)], 3).unwrap();
        assert_eq!(out[0], x);
        assert_eq!(
            out[1],
            ty(DType::F32, &[sym("n"), Dim::Static(4), Dim::Static(1)])
        );
        let bad = ty(DType::F16, &[Dim::Static(5)]);
        assert!(layer_norm(-1, 1e-5, DType::F32, &[known(&x), known(&bad)], 1).is_err());
    }

    #[test]
    fn attention_shapes_follow_heads_and_cache() {
        let attrs = AttentionAttrs {
            is_causal: false,
            kv_num_heads: Some(3),
            q_num_heads: Some(3),
            qk_matmul_output_mode: 0,
            scale: None,
            softcap: 0.0,
            softmax_precision: None,
            left_window_size: None,
            right_window_size: None,
        };
        let s = Dim::Static;
        let q = ty(DType::F32, &[sym("b"), sym("s"), s(24)]);
        let k = ty(DType::F32, &[sym("b"), s(6), s(24)]);
        let v = ty(DType::F32, &[sym("b"), s(6), s(30)]);
        let pk = ty(DType::F32, &[sym("b"), s(3), s(5), s(8)]);
        let pv = ty(DType::F32, &[sym("b"), s(3), s(5), s(10)]);
        let ins = [
            known(&q),
            known(&k),
            known(&v),
            None,
            known(&pk),
            known(&pv),
        ];
        let out = attention(&attrs, &ins, 4).unwrap();
        assert_eq!(out[0], ty(DType::F32, &[sym("b"), sym("s"), s(30)]));
        assert_eq!(out[1], ty(DType::F32, &[sym("b"), s(3), s(11), s(8)]));
        assert_eq!(out[2], ty(DType::F32, &[sym("b"), s(3), s(11), s(10)]));
        assert_eq!(out[3], ty(DType::F32, &[sym("b"), s(3), sym("s"), s(11)]));
        let narrow_k = ty(DType::F32, &[sym("b"), s(6), s(12)]);
        let err = attention(&attrs, &[known(&q), known(&narrow_k), known(&v)], 1).unwrap_err();
        assert!(err.0.contains("do not fit together"), "{err}");
    }

    #[test]
    fn losses_take_the_target_shape_or_reduce_to_a_scalar() {
        let x = ty(
            DType::F32,
            &[Dim::Static(3), Dim::Static(5), Dim::Static(2)],
        );
        let t = ty(DType::I64, &[sym("n"), Dim::Static(2)]);
        let none = nll_loss(None, LossReduction::None, &[known(&x), known(&t)]).unwrap();
        assert_eq!(none[0], ty(DType::F32, &[Dim::Static(3), Dim::Static(2)]));
        let mean = softmax_cross_entropy(None, LossReduction::Mean, &[known(&x), known(&t)], 2);
        let mean = mean.unwrap();
        assert_eq!(mean[0], ty(DType::F32, &[]));
        assert_eq!(mean[1], x);
        let wrong = ty(DType::I64, &[Dim::Static(3), Dim::Static(5)]);
        assert!(nll_loss(None, LossReduction::Sum, &[known(&x), known(&wrong)]).is_err());
    }

    #[test]
    fn dropout_masks_are_bool_unless_legacy() {
        let x = ty(DType::F32, &[Dim::Static(2)]);
        let out = dropout(false, &[known(&x)], 2).unwrap();
        assert_eq!(out[1].dtype, DType::Bool);
        assert_eq!(dropout(true, &[known(&x)], 2).unwrap()[1].dtype, DType::F32);
    }
}
