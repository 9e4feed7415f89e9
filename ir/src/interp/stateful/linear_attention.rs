//! LinearAttention: a per-head `[d_k, d_v]` state updated token by token (linear, gated, delta
//! or gated-delta rule) and read by the queries. Computed in f32 like the ONNX reference.

use crate::error::OpError;
use crate::interp::{opt, req};
use crate::op::LinearAttentionAttrs;
use crate::op_bail;
use crate::tensor::Tensor;

/// `[B, T, last]` of a rank-3 input, or an error naming it.
fn dims3(t: &Tensor, what: &str) -> Result<[usize; 3], OpError> {
    match *t.shape() {
        [b, s, l] => Ok([b, s, l]),
        _ => op_bail!(
            "{what} must be rank 3 [B, T, H*D], got shape {:?}",
            t.shape()
        ),
    }
}

/// inputs: query, key, value, past_state?, decay?, beta?; outputs: output, present_state.
pub fn linear_attention(
    rule: &LinearAttentionAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let (query, key, value) = (req(inputs, 0)?, req(inputs, 1)?, req(inputs, 2)?);
    let (past, decay, beta) = (opt(inputs, 3), opt(inputs, 4), opt(inputs, 5));
    let (hq, hkv) = (rule.q_num_heads, rule.kv_num_heads);
    if hq == 0 || hkv == 0 || hq % hkv != 0 {
        op_bail!("q_num_heads ({hq}) must be a positive multiple of kv_num_heads ({hkv})");
    }
    let [b, t, q_last] = dims3(query, "query")?;
    let [kb, kt, k_last] = dims3(key, "key")?;
    let [vb, vt, v_last] = dims3(value, "value")?;
    if q_last % hq != 0 || v_last % hkv != 0 {
        op_bail!("query's last dim {q_last} or value's {v_last} does not split into heads");
    }
    let (dk, dv) = (q_last / hq, v_last / hkv);
    if (kb, kt, k_last) != (b, t, hkv * dk) || (vb, vt) != (b, t) {
        op_bail!(
            "key {:?} and value {:?} do not match query {:?} with {hkv} kv heads",
            key.shape(),
            value.shape(),
            query.shape()
        );
    }
    if rule.gated != decay.is_some() || rule.delta != beta.is_some() {
        op_bail!("the update rule's decay/beta inputs are missing or unexpected");
    }
    // Decay is per kv head (one value) or per kv head and key channel.
    let decay_per_channel = match decay {
        Some(g) => match dims3(g, "decay")? {
            [gb, gt, l] if (gb, gt) == (b, t) && l == hkv => Some(false),
            [gb, gt, l] if (gb, gt) == (b, t) && l == hkv * dk => Some(true),
            _ => op_bail!(
                "decay shape {:?} must be [B, T, H_kv] or [B, T, H_kv*d_k]",
                g.shape()
            ),
        },
        None => None,
    };
    let beta_per_head = match beta {
        Some(bt) => match dims3(bt, "beta")? {
            [bb, btt, l] if (bb, btt) == (b, t) && l == hkv => Some(true),
            [bb, btt, 1] if (bb, btt) == (b, t) => Some(false),
            _ => op_bail!(
                "beta shape {:?} must be [B, T, H_kv] or [B, T, 1]",
                bt.shape()
            ),
        },
        None => None,
    };
    let state_shape = vec![b, hkv, dk, dv];
    let mut state = match past {
        Some(p) if p.shape() != state_shape.as_slice() => {
            op_bail!("past_state shape {:?} must be {state_shape:?}", p.shape())
        }
        Some(p) => p.to_f32_vec(),
        None => vec![0.0f32; b * hkv * dk * dv],
    };
    let (q, k, v) = (query.to_f32_vec(), key.to_f32_vec(), value.to_f32_vec());
    let g = decay.map(Tensor::to_f32_vec);
    let beta_values = beta.map(Tensor::to_f32_vec);
    let scale = rule.scale.unwrap_or(1.0 / (dk as f32).sqrt());
    let group = hq / hkv;
    let mut out = vec![0.0f32; b * t * hq * dv];
    let mut v_write = vec![0.0f32; dv];
    for bi in 0..b {
        for h in 0..hkv {
            let s = &mut state[(bi * hkv + h) * dk * dv..][..dk * dv];
            for ti in 0..t {
                let row = bi * t + ti;
                let k_t = &k[(row * hkv + h) * dk..][..dk];
                let v_t = &v[(row * hkv + h) * dv..][..dv];
                if let (Some(g), Some(per_channel)) = (&g, decay_per_channel) {
                    for d in 0..dk {
                        let log_decay = if per_channel {
                            g[(row * hkv + h) * dk + d]
                        } else {
                            g[row * hkv + h]
                        };
                        let factor = log_decay.exp();
                        s[d * dv..][..dv].iter_mut().for_each(|x| *x *= factor);
                    }
                }
                v_write.copy_from_slice(v_t);
                if let (Some(bv), Some(per_head)) = (&beta_values, beta_per_head) {
                    let rate = if per_head { bv[row * hkv + h] } else { bv[row] };
                    for (m, w) in v_write.iter_mut().enumerate() {
                        let retrieved: f32 = (0..dk).map(|d| s[d * dv + m] * k_t[d]).sum();
                        *w = rate * (*w - retrieved);
                    }
                }
                for d in 0..dk {
                    for m in 0..dv {
                        s[d * dv + m] += k_t[d] * v_write[m];
                    }
                }
                for j in 0..group {
                    let hq_index = h * group + j;
                    let q_t = &q[(row * hq + hq_index) * dk..][..dk];
                    let o = &mut out[(row * hq + hq_index) * dv..][..dv];
                    for (m, o_m) in o.iter_mut().enumerate() {
                        let dot: f32 = (0..dk).map(|d| q_t[d] * s[d * dv + m]).sum();
                        *o_m = scale * dot;
                    }
                }
            }
        }
    }
    let out_f64: Vec<f64> = out.iter().map(|&x| f64::from(x)).collect();
    let state_f64: Vec<f64> = state.iter().map(|&x| f64::from(x)).collect();
    let state_dtype = past.map_or(query.dtype(), Tensor::dtype);
    Ok(vec![
        Tensor::from_f64(query.dtype(), vec![b, t, hq * dv], &out_f64)?,
        Tensor::from_f64(state_dtype, state_shape, &state_f64)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(q_num_heads: usize, kv_num_heads: usize) -> LinearAttentionAttrs {
        LinearAttentionAttrs {
            q_num_heads,
            kv_num_heads,
            scale: Some(1.0),
            gated: false,
            delta: false,
        }
    }

    #[test]
    fn linear_rule_accumulates_outer_products() {
        // d_k = d_v = 1: the state is the running sum of k * v, read as q * state.
        let q = Tensor::from_f32(vec![1, 2, 1], vec![1.0, 2.0]).unwrap();
        let k = Tensor::from_f32(vec![1, 2, 1], vec![3.0, 1.0]).unwrap();
        let v = Tensor::from_f32(vec![1, 2, 1], vec![2.0, 4.0]).unwrap();
        let out = linear_attention(&attrs(1, 1), &[Some(&q), Some(&k), Some(&v)]).unwrap();
        assert_eq!(out[0].to_f32_vec(), vec![6.0, 20.0]);
        assert_eq!(out[1].shape(), &[1, 1, 1, 1]);
        assert_eq!(out[1].to_f32_vec(), vec![10.0]);
    }

    #[test]
    fn heads_that_do_not_divide_are_an_error() {
        let x = Tensor::from_f32(vec![1, 1, 4], vec![0.0; 4]).unwrap();
        let err = linear_attention(&attrs(3, 2), &[Some(&x), Some(&x), Some(&x)]).unwrap_err();
        assert!(err.to_string().contains("multiple"), "{err}");
    }
}
