//! RotaryEmbedding (opset 23): rotates pairs of each head's first `rotary_embedding_dim`
//! features by position-dependent angles read from cos/sin caches.

use super::{expect_float, expect_same_dtype, rounder};
use crate::error::OpError;
use crate::interp::{opt, req};
use crate::op_bail;
use crate::tensor::Tensor;

pub fn rotary_embedding(
    interleaved: bool,
    num_heads: Option<usize>,
    rotary_embedding_dim: usize,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let cos = req(inputs, 1)?;
    let sin = req(inputs, 2)?;
    expect_float(x, "input")?;
    expect_same_dtype(cos, x, "cos_cache")?;
    expect_same_dtype(sin, x, "sin_cache")?;
    // (batch, heads, seq, head_size) and the flat offset of element (b, s, h, 0).
    let (batch, heads, seq, head_size, heads_outer) = match *x.shape() {
        [b, h, s, d] => (b, h, s, d, true),
        [b, s, hidden] => {
            let h =
                num_heads.ok_or_else(|| crate::op_err!("num_heads is required for 3-D input"))?;
            if h == 0 || hidden % h != 0 {
                op_bail!("hidden size {hidden} is not a multiple of num_heads {h}");
            }
            (b, h, s, hidden / h, false)
        }
        _ => op_bail!("input must be 3-D or 4-D, got shape {:?}", x.shape()),
    };
    let offset = |b: usize, s: usize, h: usize| {
        if heads_outer {
            ((b * heads + h) * seq + s) * head_size
        } else {
            ((b * seq + s) * heads + h) * head_size
        }
    };
    let rot = if rotary_embedding_dim == 0 {
        head_size
    } else {
        rotary_embedding_dim
    };
    if rot > head_size || rot % 2 != 0 {
        op_bail!("rotary_embedding_dim {rot} must be even and at most the head size {head_size}");
    }
    let half = rot / 2;
    let position_ids = opt(inputs, 3).map(Tensor::to_i64_vec).transpose()?;
    // For each (b, s), the row of the caches to read.
    let rows: Vec<usize> = match (&position_ids, opt(inputs, 3)) {
        (Some(ids), Some(t)) => {
            if t.shape() != [batch, seq] {
                op_bail!(
                    "position_ids must have shape [{batch}, {seq}], got {:?}",
                    t.shape()
                );
            }
            for c in [cos, sin] {
                if c.rank() != 2 || c.shape()[1] != half {
                    op_bail!(
                        "with position_ids, the caches must have shape [max_position, {half}], got {:?}",
                        c.shape()
                    );
                }
            }
            let max_pos = cos.shape()[0].min(sin.shape()[0]);
            ids.iter()
                .map(|&p| {
                    usize::try_from(p)
                        .ok()
                        .filter(|&p| p < max_pos)
                        .ok_or_else(|| {
                            crate::op_err!(
                                "position id {p} is out of range for {max_pos} cached positions"
                            )
                        })
                })
                .collect::<Result<_, _>>()?
        }
        _ => {
            for c in [cos, sin] {
                if c.shape() != [batch, seq, half] {
                    op_bail!(
                        "without position_ids, the caches must have shape [{batch}, {seq}, {half}], got {:?}",
                        c.shape()
                    );
                }
            }
            (0..batch * seq).collect()
        }
    };
    let (cos, sin) = (cos.to_f64_vec(), sin.to_f64_vec());
    let round = rounder(x.dtype());
    let mut y = x.to_f64_vec();
    for b in 0..batch {
        for s in 0..seq {
            let row = rows[b * seq + s] * half;
            for h in 0..heads {
                let base = offset(b, s, h);
                for j in 0..half {
                    let (i1, i2) = if interleaved {
                        (base + 2 * j, base + 2 * j + 1)
                    } else {
                        (base + j, base + j + half)
                    };
                    let (x1, x2) = (y[i1], y[i2]);
                    let (c, sn) = (cos[row + j], sin[row + j]);
                    y[i1] = round(round(c * x1) - round(sn * x2));
                    y[i2] = round(round(sn * x1) + round(c * x2));
                }
            }
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), x.shape().to_vec(), &y)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_halves_by_the_cached_angle() {
        // One head of size 4, rotary dim 2: features 2 and 3 pass through.
        let x = Tensor::from_f32(vec![1, 1, 1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let cos = Tensor::from_f32(vec![1, 1, 1], vec![0.0]).unwrap();
        let sin = Tensor::from_f32(vec![1, 1, 1], vec![1.0]).unwrap();
        let y = rotary_embedding(false, None, 2, &[Some(&x), Some(&cos), Some(&sin)]).unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![-2.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn position_ids_index_the_caches() {
        let x = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 2.0]).unwrap();
        let cos = Tensor::from_f32(vec![2, 1], vec![1.0, 0.0]).unwrap();
        let sin = Tensor::from_f32(vec![2, 1], vec![0.0, 1.0]).unwrap();
        let ids = Tensor::from_i64(vec![1, 1], vec![1]).unwrap();
        let ins = [Some(&x), Some(&cos), Some(&sin), Some(&ids)];
        let y = rotary_embedding(true, Some(1), 0, &ins).unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![-2.0, 1.0]);
        let bad = Tensor::from_i64(vec![1, 1], vec![2]).unwrap();
        let err = rotary_embedding(
            true,
            Some(1),
            0,
            &[Some(&x), Some(&cos), Some(&sin), Some(&bad)],
        );
        assert!(err.unwrap_err().0.contains("position id 2 is out of range"));
    }
}
