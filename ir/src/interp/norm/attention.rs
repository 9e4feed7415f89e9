//! Attention (opsets 23-25): scaled dot-product attention over 3-D or 4-D q/k/v with grouped
//! query heads, a KV cache (past/present), causal, sliding-window, padding and user masks,
//! softcapping, a softmax precision, and the optional QK intermediate output.
//!
//! The computation follows the ONNX reference step by step and rounds to the input dtype
//! wherever it does, so f16/bf16 results match it; matmuls accumulate in f32 (f64 for f64).

use super::softmax::softmax_row;
use super::{Float, expect_float, expect_same_dtype, nan_max, rounder};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::broadcast_indices;
use crate::interp::{opt, req};
use crate::op::AttentionAttrs;
use crate::shape::broadcast;
use crate::tensor::Tensor;
use crate::{op_bail, op_err};

pub fn attention(
    a: &AttentionAttrs,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let q = req(inputs, 0)?;
    expect_float(q, "Q")?;
    match q.dtype() {
        DType::F64 => run::<f64>(a, inputs, n_outputs),
        _ => run::<f32>(a, inputs, n_outputs),
    }
}

/// The sizes of one attention call, with q/k/v seen as `[batch, heads, seq, head_size]`.
#[derive(Clone, Copy, Debug)]
struct Dims {
    batch: usize,
    q_heads: usize,
    kv_heads: usize,
    q_seq: usize,
    kv_seq: usize,
    past_seq: usize,
    head_size: usize,
    v_head_size: usize,
    /// Inputs (and Y) are `[batch, seq, heads * head_size]`.
    three_d: bool,
}

impl Dims {
    fn total_seq(&self) -> usize {
        self.past_seq + self.kv_seq
    }

    fn of(a: &AttentionAttrs, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Dims, OpError> {
        let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
        let d = match (qs, ks, vs) {
            ([b, hq, sq, dq], [bk, hk, sk, dk], [bv, hv, sv, dv]) => {
                if a.q_num_heads.is_some_and(|h| h != *hq)
                    || a.kv_num_heads.is_some_and(|h| h != *hk)
                {
                    op_bail!(
                        "q_num_heads/kv_num_heads ({:?}/{:?}) contradict the 4-D shapes Q {qs:?}, K {ks:?}",
                        a.q_num_heads,
                        a.kv_num_heads
                    );
                }
                if [bk, bv] != [b, b] || hv != hk || sv != sk || dk != dq {
                    op_bail!(
                        "Q {qs:?}, K {ks:?} and V {vs:?} do not fit together (batch, heads, seq, head size)"
                    );
                }
                Dims {
                    batch: *b,
                    q_heads: *hq,
                    kv_heads: *hk,
                    q_seq: *sq,
                    kv_seq: *sk,
                    past_seq: 0,
                    head_size: *dq,
                    v_head_size: *dv,
                    three_d: false,
                }
            }
            ([b, sq, q_hidden], [bk, sk, k_hidden], [bv, sv, v_hidden]) => {
                let (Some(hq), Some(hk)) = (a.q_num_heads, a.kv_num_heads) else {
                    op_bail!("q_num_heads and kv_num_heads are required for 3-D inputs");
                };
                if hq == 0
                    || hk == 0
                    || q_hidden % hq != 0
                    || k_hidden % hk != 0
                    || v_hidden % hk != 0
                {
                    op_bail!(
                        "hidden sizes Q {q_hidden}, K {k_hidden}, V {v_hidden} are not multiples of q_num_heads {hq} / kv_num_heads {hk}"
                    );
                }
                if [bk, bv] != [b, b] || sv != sk || q_hidden / hq != k_hidden / hk {
                    op_bail!(
                        "Q {qs:?}, K {ks:?} and V {vs:?} do not fit together (batch, seq, head size)"
                    );
                }
                Dims {
                    batch: *b,
                    q_heads: hq,
                    kv_heads: hk,
                    q_seq: *sq,
                    kv_seq: *sk,
                    past_seq: 0,
                    head_size: q_hidden / hq,
                    v_head_size: v_hidden / hk,
                    three_d: true,
                }
            }
            _ => op_bail!("Q, K and V must all be 3-D or all 4-D, got {qs:?}, {ks:?}, {vs:?}"),
        };
        if d.kv_heads == 0 || d.q_heads % d.kv_heads != 0 {
            op_bail!(
                "q heads {} are not a multiple of kv heads {}",
                d.q_heads,
                d.kv_heads
            );
        }
        Ok(d)
    }
}

fn run<F: Float>(
    a: &AttentionAttrs,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let (q, k, v) = (req(inputs, 0)?, req(inputs, 1)?, req(inputs, 2)?);
    expect_same_dtype(k, q, "K")?;
    expect_same_dtype(v, q, "V")?;
    if !(0..=3).contains(&a.qk_matmul_output_mode) {
        op_bail!(
            "qk_matmul_output_mode must be 0..=3, got {}",
            a.qk_matmul_output_mode
        );
    }
    let mut d = Dims::of(a, q, k, v)?;
    let (past_key, past_value) = (opt(inputs, 4), opt(inputs, 5));
    let nonpad = opt(inputs, 6);
    let (key, value) = match (past_key, past_value) {
        (None, None) => (
            to_heads::<F>(k, &d, d.head_size),
            to_heads::<F>(v, &d, d.v_head_size),
        ),
        (Some(pk), Some(pv)) => {
            if nonpad.is_some() {
                op_bail!("nonpad_kv_seqlen cannot be combined with past_key/past_value");
            }
            expect_same_dtype(pk, q, "past_key")?;
            expect_same_dtype(pv, q, "past_value")?;
            let past_seq = pk.shape().get(2).copied().unwrap_or(0);
            let want_k = [d.batch, d.kv_heads, past_seq, d.head_size];
            let want_v = [d.batch, d.kv_heads, past_seq, d.v_head_size];
            if pk.shape() != want_k || pv.shape() != want_v {
                op_bail!(
                    "past_key {:?} / past_value {:?} must have shapes {want_k:?} / {want_v:?}",
                    pk.shape(),
                    pv.shape()
                );
            }
            let key = concat_seq(
                &F::values(pk),
                &to_heads::<F>(k, &d, d.head_size),
                &d,
                past_seq,
                d.head_size,
            );
            let value = concat_seq(
                &F::values(pv),
                &to_heads::<F>(v, &d, d.v_head_size),
                &d,
                past_seq,
                d.v_head_size,
            );
            d.past_seq = past_seq;
            (key, value)
        }
        _ => op_bail!("past_key and past_value must be given together"),
    };
    let total = d.total_seq();
    let nonpad = match nonpad {
        Some(t) => {
            if t.shape() != [d.batch] {
                op_bail!(
                    "nonpad_kv_seqlen must have shape [{}], got {:?}",
                    d.batch,
                    t.shape()
                );
            }
            Some(t.to_i64_vec()?)
        }
        None => None,
    };
    let round_t = rounder(q.dtype());
    let precision = a.softmax_precision.unwrap_or(q.dtype());
    let round_p = rounder(precision);
    let mask = Mask::new(opt(inputs, 3), &d, round_t)?;

    let scale = a.scale.map_or(1.0 / (d.head_size as f64).sqrt(), f64::from);
    let scale_sqrt = round_t(scale.sqrt());
    let scaled = |x: &[F]| -> Vec<F> {
        x.iter()
            .map(|&e| F::from_f64(round_t(e.to_f64() * scale_sqrt)))
            .collect()
    };
    let q_scaled = scaled(&to_heads::<F>(q, &d, d.head_size));
    let k_scaled = scaled(&key);

    let group = d.q_heads / d.kv_heads;
    let (dh, dv) = (d.head_size, d.v_head_size);
    let mut y = vec![F::ZERO; d.batch * d.q_heads * d.q_seq * dv];
    let want_qk = n_outputs > 3;
    let mut qk_out = vec![
        0.0;
        if want_qk {
            d.batch * d.q_heads * d.q_seq * total
        } else {
            0
        }
    ];
    let mut bias = vec![0.0; total];
    let mut row = vec![0.0; total];
    let mut acc = vec![F::ZERO; dv];
    for b in 0..d.batch {
        // Keys already in the cache before this query block (negative: leading rows see none).
        let offset = match (&nonpad, d.past_seq) {
            (Some(n), 0) => n[b] - d.q_seq as i64,
            _ => d.past_seq as i64,
        };
        for h in 0..d.q_heads {
            let kv_h = h / group;
            for i in 0..d.q_seq {
                for (j, bj) in bias.iter_mut().enumerate() {
                    *bj = mask.value(b, h, i, j)
                        + structural_bias(a, offset, i, j, nonpad.as_ref().map(|n| n[b]));
                }
                let fully_masked =
                    bias.iter().copied().fold(f64::NEG_INFINITY, nan_max) == f64::NEG_INFINITY;
                let q_row = &q_scaled[((b * d.q_heads + h) * d.q_seq + i) * dh..][..dh];
                for (j, r) in row.iter_mut().enumerate() {
                    let k_row = &k_scaled[((b * d.kv_heads + kv_h) * total + j) * dh..][..dh];
                    let mut dot = F::ZERO;
                    for (&x1, &x2) in q_row.iter().zip(k_row) {
                        dot += x1 * x2;
                    }
                    *r = round_t(dot.to_f64());
                }
                let qk_base = ((b * d.q_heads + h) * d.q_seq + i) * total;
                if want_qk && a.qk_matmul_output_mode == 0 {
                    qk_out[qk_base..qk_base + total].copy_from_slice(&row);
                }
                if a.softcap > 0.0 {
                    let cap = a.softcap as f64;
                    for r in row.iter_mut() {
                        *r = round_t(round_t(round_t(*r / cap).tanh()) * cap);
                    }
                }
                if want_qk && a.qk_matmul_output_mode == 1 {
                    qk_out[qk_base..qk_base + total].copy_from_slice(&row);
                }
                for (r, &bj) in row.iter_mut().zip(&bias) {
                    *r = round_t(*r + bj);
                }
                if want_qk && a.qk_matmul_output_mode == 2 {
                    qk_out[qk_base..qk_base + total].copy_from_slice(&row);
                }
                softmax_row(&mut row, round_p, precision == DType::BF16, true);
                for r in row.iter_mut() {
                    *r = if fully_masked { 0.0 } else { round_t(*r) };
                }
                if want_qk && a.qk_matmul_output_mode == 3 {
                    qk_out[qk_base..qk_base + total].copy_from_slice(&row);
                }
                acc.fill(F::ZERO);
                for (j, &p) in row.iter().enumerate() {
                    let p = F::from_f64(p);
                    let v_row = &value[((b * d.kv_heads + kv_h) * total + j) * dv..][..dv];
                    for (s, &x) in acc.iter_mut().zip(v_row) {
                        *s += p * x;
                    }
                }
                let y_base = if d.three_d {
                    ((b * d.q_seq + i) * d.q_heads + h) * dv
                } else {
                    ((b * d.q_heads + h) * d.q_seq + i) * dv
                };
                y[y_base..y_base + dv].copy_from_slice(&acc);
            }
        }
    }

    let dtype = q.dtype();
    let to_tensor = |shape: Vec<usize>, vals: &[F]| {
        let v: Vec<f64> = vals.iter().map(|x| x.to_f64()).collect();
        Tensor::from_f64(dtype, shape, &v)
    };
    let y_shape = if d.three_d {
        vec![d.batch, d.q_seq, d.q_heads * dv]
    } else {
        vec![d.batch, d.q_heads, d.q_seq, dv]
    };
    let mut out = vec![to_tensor(y_shape, &y)?];
    if n_outputs > 1 {
        out.push(to_tensor(vec![d.batch, d.kv_heads, total, dh], &key)?);
    }
    if n_outputs > 2 {
        out.push(to_tensor(vec![d.batch, d.kv_heads, total, dv], &value)?);
    }
    if want_qk {
        out.push(Tensor::from_f64(
            dtype,
            vec![d.batch, d.q_heads, d.q_seq, total],
            &qk_out,
        )?);
    }
    Ok(out)
}

/// The additive bias (0 or -inf) of the causal, sliding-window and padding constraints for query
/// `i` and key `j`, with `offset` keys preceding the query block.
fn structural_bias(
    a: &AttentionAttrs,
    offset: i64,
    i: usize,
    j: usize,
    nonpad: Option<i64>,
) -> f64 {
    let position = i as i64 + offset;
    let j = j as i64;
    let mut allowed = !a.is_causal || j <= position;
    if let Some(left) = a.left_window_size {
        allowed &= position - j <= left as i64;
    }
    if let Some(right) = a.right_window_size {
        allowed &= j - position <= right as i64;
    }
    if let Some(n) = nonpad {
        allowed &= j < n;
    }
    if allowed { 0.0 } else { f64::NEG_INFINITY }
}

/// The user mask, padded on its last axis to the total sequence length and broadcast to
/// `[batch, q_heads, q_seq, total_seq]`, as additive values in the input precision.
struct Mask {
    /// The padded mask's values and, for each element of the target shape, the one it reads;
    /// `None` without a mask.
    lookup: Option<(Vec<f64>, Vec<usize>)>,
    dims: Dims,
}

impl Mask {
    fn new(mask: Option<&Tensor>, d: &Dims, round: fn(f64) -> f64) -> Result<Mask, OpError> {
        let total = d.total_seq();
        let Some(m) = mask else {
            return Ok(Mask {
                lookup: None,
                dims: *d,
            });
        };
        let Some((&last, lead)) = m.shape().split_last() else {
            op_bail!("attn_mask must have rank >= 1");
        };
        if last > total {
            op_bail!(
                "attn_mask's last dim {last} is longer than the total sequence length {total}"
            );
        }
        let mut padded = lead.to_vec();
        padded.push(total);
        let target = [d.batch, d.q_heads, d.q_seq, total];
        if broadcast(&padded, &target).ok().as_deref() != Some(&target[..]) {
            return Err(op_err!(
                "attn_mask of shape {:?} (padded to {padded:?}) does not broadcast to {target:?}",
                m.shape()
            ));
        }
        let raw: Vec<f64> = if m.dtype() == DType::Bool {
            m.to_bool_vec()
                .iter()
                .map(|&b| if b { 0.0 } else { f64::NEG_INFINITY })
                .collect()
        } else {
            m.to_f64_vec().into_iter().map(round).collect()
        };
        let rows: usize = lead.iter().product();
        let mut values = Vec::with_capacity(rows * total);
        for r in 0..rows {
            values.extend_from_slice(&raw[r * last..(r + 1) * last]);
            values.extend(std::iter::repeat_n(f64::NEG_INFINITY, total - last));
        }
        let index = broadcast_indices(&padded, &target);
        Ok(Mask {
            lookup: Some((values, index)),
            dims: *d,
        })
    }

    fn value(&self, b: usize, h: usize, i: usize, j: usize) -> f64 {
        let Some((values, index)) = &self.lookup else {
            return 0.0;
        };
        let d = &self.dims;
        values[index[((b * d.q_heads + h) * d.q_seq + i) * d.total_seq() + j]]
    }
}

/// The elements of q, k or v as `[batch, heads, seq, size]` (transposing 3-D input).
fn to_heads<F: Float>(t: &Tensor, d: &Dims, size: usize) -> Vec<F> {
    let v = F::values(t);
    if !d.three_d {
        return v;
    }
    let (batch, seq) = (t.shape()[0], t.shape()[1]);
    let heads = t.shape()[2] / size.max(1);
    let mut out = Vec::with_capacity(v.len());
    for b in 0..batch {
        for h in 0..heads {
            for s in 0..seq {
                let at = ((b * seq + s) * heads + h) * size;
                out.extend_from_slice(&v[at..at + size]);
            }
        }
    }
    out
}

/// Concatenates the cache and the new keys (or values) along the sequence axis.
fn concat_seq<F: Float>(past: &[F], new: &[F], d: &Dims, past_seq: usize, size: usize) -> Vec<F> {
    let mut out = Vec::with_capacity(past.len() + new.len());
    for bh in 0..d.batch * d.kv_heads {
        out.extend_from_slice(&past[bh * past_seq * size..(bh + 1) * past_seq * size]);
        out.extend_from_slice(&new[bh * d.kv_seq * size..(bh + 1) * d.kv_seq * size]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> AttentionAttrs {
        AttentionAttrs {
            is_causal: false,
            kv_num_heads: None,
            q_num_heads: None,
            qk_matmul_output_mode: 0,
            scale: None,
            softcap: 0.0,
            softmax_precision: None,
            left_window_size: None,
            right_window_size: None,
        }
    }

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
    }

    #[test]
    fn equal_scores_average_the_values_and_causal_masks_the_future() {
        // Zero queries: every score is 0, so each row averages the keys it may see.
        let q = t(&[1, 1, 2, 1], &[0.0, 0.0]);
        let k = t(&[1, 1, 2, 1], &[1.0, 2.0]);
        let v = t(&[1, 1, 2, 1], &[2.0, 4.0]);
        let y = attention(&attrs(), &[Some(&q), Some(&k), Some(&v)], 1).unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![3.0, 3.0]);
        let causal = AttentionAttrs {
            is_causal: true,
            ..attrs()
        };
        let y = attention(&causal, &[Some(&q), Some(&k), Some(&v)], 1).unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![2.0, 3.0]);
    }

    #[test]
    fn fully_masked_rows_are_zero_and_the_cache_is_concatenated() {
        let q = t(&[1, 1, 1, 1], &[1.0]);
        let k = t(&[1, 1, 1, 1], &[1.0]);
        let v = t(&[1, 1, 1, 1], &[5.0]);
        let past = t(&[1, 1, 1, 1], &[7.0]);
        let mask = Tensor::from_bool(vec![2], vec![false, false]).unwrap();
        let ins = [
            Some(&q),
            Some(&k),
            Some(&v),
            Some(&mask),
            Some(&past),
            Some(&past),
        ];
        let out = attention(&attrs(), &ins, 4).unwrap();
        assert_eq!(out[0].to_f32_vec(), vec![0.0]);
        assert_eq!(out[1].to_f32_vec(), vec![7.0, 1.0]);
        assert_eq!(out[2].shape(), &[1, 1, 2, 1]);
        assert_eq!(out[3].shape(), &[1, 1, 1, 2]);
    }

    #[test]
    fn grouped_query_heads_share_kv_heads_in_3d_layout() {
        // Two q heads of size 1 read the single kv head.
        let a = AttentionAttrs {
            q_num_heads: Some(2),
            kv_num_heads: Some(1),
            ..attrs()
        };
        let q = t(&[1, 1, 2], &[0.0, 0.0]);
        let k = t(&[1, 2, 1], &[0.0, 0.0]);
        let v = t(&[1, 2, 1], &[1.0, 3.0]);
        let y = attention(&a, &[Some(&q), Some(&k), Some(&v)], 1).unwrap();
        assert_eq!(y[0].shape(), &[1, 1, 2]);
        assert_eq!(y[0].to_f32_vec(), vec![2.0, 2.0]);
        let bad = AttentionAttrs {
            q_num_heads: Some(2),
            kv_num_heads: Some(3),
            ..attrs()
        };
        assert!(attention(&bad, &[Some(&q), Some(&k), Some(&v)], 1).is_err());
    }

    #[test]
    fn masks_that_do_not_broadcast_are_errors() {
        let q = t(&[1, 1, 2, 1], &[0.0, 0.0]);
        let mask = t(&[3, 2], &[0.0; 6]);
        let err = attention(&attrs(), &[Some(&q), Some(&q), Some(&q), Some(&mask)], 1).unwrap_err();
        assert!(err.0.contains("does not broadcast"), "{err}");
    }
}
