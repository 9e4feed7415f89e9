//! Shape and dtype rules for sequence ops that carry a recurrent state: LinearAttention and
//! CausalConvWithState.

use super::{Known, fresh_dim, opt, req};
use crate::error::OpError;
use crate::op::LinearAttentionAttrs;
use crate::op_bail;
use crate::shape::{Dim, TensorType, display_shape};

/// Dim `i` of a known-rank-3 input, or an error naming it.
fn dims3(k: Known, what: &str) -> Result<Option<Vec<Dim>>, OpError> {
    match &k.ty.shape {
        Some(s) if s.len() != 3 => {
            op_bail!(
                "{what} must be rank 3 [B, T, H*D], got shape {}",
                display_shape(s)
            )
        }
        s => Ok(s.clone()),
    }
}

/// output `[B, T, H_q * d_v]` (query's dtype), present_state `[B, H_kv, d_k, d_v]` (past
/// state's dtype, else query's).
pub fn linear_attention(
    a: &LinearAttentionAttrs,
    inputs: &[Option<Known>],
) -> Result<Vec<TensorType>, OpError> {
    let query = req(inputs, 0)?;
    let q = dims3(query, "query")?;
    dims3(req(inputs, 1)?, "key")?;
    let v = dims3(req(inputs, 2)?, "value")?;
    let (hq, hkv) = (a.q_num_heads, a.kv_num_heads);
    if hq == 0 || hkv == 0 || hq % hkv != 0 {
        op_bail!("q_num_heads ({hq}) must be a positive multiple of kv_num_heads ({hkv})");
    }
    let per_head = |d: Option<&Dim>, heads: usize, what: &str| -> Result<Dim, OpError> {
        match d {
            Some(Dim::Static(n)) if n % heads != 0 => {
                op_bail!("{what}'s last dim {n} does not split into {heads} heads")
            }
            Some(Dim::Static(n)) => Ok(Dim::Static(n / heads)),
            _ => Ok(fresh_dim(what)),
        }
    };
    let dk = per_head(q.as_ref().map(|s| &s[2]), hq, "query")?;
    let dv = per_head(v.as_ref().map(|s| &s[2]), hkv, "value")?;
    let batch = q
        .as_ref()
        .map_or_else(|| fresh_dim("batch"), |s| s[0].clone());
    let time = q
        .as_ref()
        .map_or_else(|| fresh_dim("time"), |s| s[1].clone());
    let out_last = match &dv {
        Dim::Static(n) => Dim::Static(n * hq),
        Dim::Symbolic(_) => fresh_dim("linear_attention"),
    };
    let state_dtype = opt(inputs, 3).map_or(query.ty.dtype, |p| p.ty.dtype);
    Ok(vec![
        TensorType::new(query.ty.dtype, vec![batch.clone(), time, out_last]),
        TensorType::new(state_dtype, vec![batch, Dim::Static(hkv), dk, dv]),
    ])
}

/// output: the input's type; present_state `[B, C, k - 1]` from the weight's kernel size.
pub fn causal_conv_with_state(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let x = req(inputs, 0)?;
    let weight = req(inputs, 1)?;
    let xs = dims3(x, "input")?;
    let carry = match weight.ty.shape.as_deref() {
        Some([_, _, Dim::Static(0)]) => op_bail!("weight's kernel size must be at least 1"),
        Some([_, _, Dim::Static(k)]) => Dim::Static(k - 1),
        Some(s) if s.len() != 3 => {
            op_bail!(
                "weight must be rank 3 [C, 1, k], got shape {}",
                display_shape(s)
            )
        }
        _ => fresh_dim("carry"),
    };
    let state_shape = xs.as_ref().map_or_else(
        || vec![fresh_dim("batch"), fresh_dim("channels"), carry.clone()],
        |s| vec![s[0].clone(), s[1].clone(), carry.clone()],
    );
    Ok(vec![x.ty.clone(), TensorType::new(x.ty.dtype, state_shape)])
}
