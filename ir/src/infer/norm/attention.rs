//! Shape and dtype rules for Attention: Y, present_key, present_value and qk_matmul_output
//! from 3-D or 4-D q/k/v, the head counts and the optional KV cache.

use super::{dim_may_equal, float_input, same_dtype};
use crate::error::OpError;
use crate::infer::{Known, fresh_dim, opt, req};
use crate::op::AttentionAttrs;
use crate::op_bail;
use crate::shape::{Dim, Shape, TensorType, broadcast, concrete, display_shape};

pub fn attention(
    a: &AttentionAttrs,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let q = float_input(inputs, 0, "Q")?;
    let (k, v) = (req(inputs, 1)?, req(inputs, 2)?);
    same_dtype(k, q, "K")?;
    same_dtype(v, q, "V")?;
    for (i, name) in [(4, "past_key"), (5, "past_value")] {
        if let Some(p) = opt(inputs, i) {
            same_dtype(p, q, name)?;
        }
    }
    if opt(inputs, 4).is_some() != opt(inputs, 5).is_some() {
        op_bail!("past_key and past_value must be given together");
    }
    if opt(inputs, 4).is_some() && opt(inputs, 6).is_some() {
        op_bail!("nonpad_kv_seqlen cannot be combined with past_key/past_value");
    }
    let dtype = q.ty.dtype;
    let (Some(qs), Some(ks), Some(vs)) = (&q.ty.shape, &k.ty.shape, &v.ty.shape) else {
        return Ok(vec![TensorType::unknown_shape(dtype); n_outputs]);
    };
    let d = Dims::of(a, qs, ks, vs)?;
    let past_seq = match opt(inputs, 4).map(|p| p.ty.shape.as_deref()) {
        None => Some(Dim::Static(0)),
        Some(Some([_, _, p, _])) => Some(p.clone()),
        Some(Some(s)) => op_bail!("past_key must be 4-D, got {}", display_shape(s)),
        Some(None) => None,
    };
    let total = match past_seq {
        Some(Dim::Static(0)) => d.kv_seq.clone(),
        Some(Dim::Static(p)) => match &d.kv_seq {
            Dim::Static(s) => Dim::Static(p + s),
            Dim::Symbolic(_) => fresh_dim("total_seq"),
        },
        _ => fresh_dim("total_seq"),
    };
    if let Some(m) = opt(inputs, 3) {
        check_mask(m, &d, &total)?;
    }
    let y = if d.three_d {
        let hidden = match (&d.v_head, &d.v_hidden) {
            (Dim::Static(s), _) => Dim::Static(s * d.q_heads_n),
            (_, h) if d.q_heads_n == d.kv_heads_n => h.clone(),
            _ => fresh_dim("hidden"),
        };
        vec![d.batch.clone(), d.q_seq.clone(), hidden]
    } else {
        vec![
            d.batch.clone(),
            d.q_heads.clone(),
            d.q_seq.clone(),
            d.v_head.clone(),
        ]
    };
    let present = |size: &Dim| -> Shape {
        vec![
            d.batch.clone(),
            d.kv_heads.clone(),
            total.clone(),
            size.clone(),
        ]
    };
    let all = [
        TensorType::new(dtype, y),
        TensorType::new(dtype, present(&d.head)),
        TensorType::new(dtype, present(&d.v_head)),
        TensorType::new(
            dtype,
            vec![
                d.batch.clone(),
                d.q_heads.clone(),
                d.q_seq.clone(),
                total.clone(),
            ],
        ),
    ];
    if n_outputs > all.len() {
        op_bail!("Attention has at most 4 outputs, node has {n_outputs}");
    }
    Ok(all[..n_outputs].to_vec())
}

/// The sizes of q/k/v as `[batch, heads, seq, head_size]`; head counts are static for 3-D
/// inputs (attributes) and may be symbolic for 4-D ones (then `*_n` is 0).
struct Dims {
    batch: Dim,
    q_heads: Dim,
    kv_heads: Dim,
    q_heads_n: usize,
    kv_heads_n: usize,
    q_seq: Dim,
    kv_seq: Dim,
    head: Dim,
    v_head: Dim,
    /// V's hidden size for 3-D inputs.
    v_hidden: Dim,
    three_d: bool,
}

impl Dims {
    fn of(a: &AttentionAttrs, qs: &[Dim], ks: &[Dim], vs: &[Dim]) -> Result<Dims, OpError> {
        let shapes = || {
            format!(
                "Q {}, K {}, V {}",
                display_shape(qs),
                display_shape(ks),
                display_shape(vs)
            )
        };
        let d = match (qs, ks, vs) {
            ([b, hq, sq, dq], [bk, hk, sk, dk], [bv, hv, sv, dv]) => {
                let attr_clash = |attr: Option<usize>, dim: &Dim| {
                    attr.is_some_and(|h| !dim_may_equal(&Dim::Static(h), dim))
                };
                if attr_clash(a.q_num_heads, hq) || attr_clash(a.kv_num_heads, hk) {
                    op_bail!(
                        "q_num_heads/kv_num_heads contradict the 4-D shapes {}",
                        shapes()
                    );
                }
                let pairs = [(b, bk), (b, bv), (hk, hv), (sk, sv), (dq, dk)];
                if !pairs.iter().all(|(x, y)| dim_may_equal(x, y)) {
                    op_bail!(
                        "{} do not fit together (batch, heads, seq, head size)",
                        shapes()
                    );
                }
                Dims {
                    batch: b.clone(),
                    q_heads: hq.clone(),
                    kv_heads: hk.clone(),
                    q_heads_n: hq.as_static().unwrap_or(0),
                    kv_heads_n: hk.as_static().unwrap_or(0),
                    q_seq: sq.clone(),
                    kv_seq: sk.clone(),
                    head: dq.clone(),
                    v_head: dv.clone(),
                    v_hidden: dv.clone(),
                    three_d: false,
                }
            }
            ([b, sq, q_hidden], [bk, sk, k_hidden], [bv, sv, v_hidden]) => {
                let (Some(hq), Some(hk)) = (a.q_num_heads, a.kv_num_heads) else {
                    op_bail!("q_num_heads and kv_num_heads are required for 3-D inputs");
                };
                let head = split_heads(q_hidden, hq, "Q")?;
                let k_head = split_heads(k_hidden, hk, "K")?;
                if !dim_may_equal(&head, &k_head)
                    || ![(b, bk), (b, bv), (sk, sv)]
                        .iter()
                        .all(|(x, y)| dim_may_equal(x, y))
                {
                    op_bail!("{} do not fit together (batch, seq, head size)", shapes());
                }
                Dims {
                    batch: b.clone(),
                    q_heads: Dim::Static(hq),
                    kv_heads: Dim::Static(hk),
                    q_heads_n: hq,
                    kv_heads_n: hk,
                    q_seq: sq.clone(),
                    kv_seq: sk.clone(),
                    head,
                    v_head: split_heads(v_hidden, hk, "V")?,
                    v_hidden: v_hidden.clone(),
                    three_d: true,
                }
            }
            _ => op_bail!("Q, K and V must all be 3-D or all 4-D, got {}", shapes()),
        };
        if d.kv_heads_n > 0 && d.q_heads_n > 0 && d.q_heads_n % d.kv_heads_n != 0 {
            op_bail!(
                "q heads {} are not a multiple of kv heads {}",
                d.q_heads_n,
                d.kv_heads_n
            );
        }
        Ok(d)
    }
}

/// `hidden / heads`, checking divisibility when static.
fn split_heads(hidden: &Dim, heads: usize, what: &str) -> Result<Dim, OpError> {
    match hidden {
        _ if heads == 0 => op_bail!("the head count for {what} must be positive"),
        Dim::Static(n) if n % heads != 0 => {
            op_bail!("{what}'s hidden size {n} is not a multiple of its {heads} heads")
        }
        Dim::Static(n) => Ok(Dim::Static(n / heads)),
        Dim::Symbolic(_) if heads == 1 => Ok(hidden.clone()),
        Dim::Symbolic(_) => Ok(fresh_dim("head_size")),
    }
}

/// Errors when a static mask cannot be padded and broadcast to `[batch, q_heads, q_seq, total]`.
fn check_mask(m: Known, d: &Dims, total: &Dim) -> Result<(), OpError> {
    let Some(ms) = &m.ty.shape else { return Ok(()) };
    let Some((last, lead)) = ms.split_last() else {
        op_bail!("attn_mask must have rank >= 1");
    };
    let target = [
        d.batch.clone(),
        d.q_heads.clone(),
        d.q_seq.clone(),
        total.clone(),
    ];
    let (Some(lead), Some(target), Some(last)) =
        (concrete(lead), concrete(&target), last.as_static())
    else {
        return Ok(());
    };
    if last > target[3] {
        op_bail!(
            "attn_mask's last dim {last} is longer than the total sequence length {}",
            target[3]
        );
    }
    let mut padded = lead;
    padded.push(target[3]);
    if broadcast(&padded, &target).ok().as_deref() != Some(&target[..]) {
        op_bail!(
            "attn_mask of shape {} does not broadcast to {target:?}",
            display_shape(ms)
        );
    }
    Ok(())
}
