//! CausalConvWithState: a depthwise 1-D convolution over `past_state ++ input`, returning the
//! last `k - 1` positions as the next call's state.

use crate::error::OpError;
use crate::interp::{opt, req};
use crate::op_bail;
use crate::tensor::Tensor;

/// inputs: input [B, C, L], weight [C, 1, k], bias? [C], past_state? [B, C, k-1]; outputs:
/// output [B, C, L] (with SiLU when `silu`), present_state [B, C, k-1].
pub fn causal_conv_with_state(
    silu: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let weight = req(inputs, 1)?;
    let (bias, past) = (opt(inputs, 2), opt(inputs, 3));
    let &[b, c, l] = x.shape() else {
        op_bail!(
            "input must be rank 3 [batch, channels, length], got shape {:?}",
            x.shape()
        );
    };
    let k = match *weight.shape() {
        [wc, 1, k] if wc == c && k > 0 => k,
        _ => op_bail!(
            "weight shape {:?} must be [{c}, 1, k] with k >= 1",
            weight.shape()
        ),
    };
    let carry = k - 1;
    if let Some(bias) = bias
        && bias.shape() != [c]
    {
        op_bail!("bias shape {:?} must be [{c}]", bias.shape());
    }
    if let Some(p) = past
        && p.shape() != [b, c, carry]
    {
        op_bail!(
            "past_state shape {:?} must be [{b}, {c}, {carry}]",
            p.shape()
        );
    }
    let xs = x.to_f64_vec();
    let ws = weight.to_f64_vec();
    let bs = bias.map(Tensor::to_f64_vec);
    let ps = past.map(Tensor::to_f64_vec);
    let padded_len = carry + l;
    let mut out = Vec::with_capacity(b * c * l);
    let mut present = Vec::with_capacity(b * c * carry);
    for row in 0..b * c {
        let channel = row % c;
        let padded: Vec<f64> = (0..padded_len)
            .map(|i| match (i < carry, &ps) {
                (true, Some(p)) => p[row * carry + i],
                (true, None) => 0.0,
                (false, _) => xs[row * l + i - carry],
            })
            .collect();
        let w = &ws[channel * k..][..k];
        let shift = bs.as_ref().map_or(0.0, |b| b[channel]);
        for t in 0..l {
            out.push(shift + (0..k).map(|j| w[j] * padded[t + j]).sum::<f64>());
        }
        present.extend_from_slice(&padded[l..]);
    }
    let mut output = Tensor::from_f64(x.dtype(), vec![b, c, l], &out)?;
    if silu {
        // The activation reads the convolution already rounded to the output dtype.
        let activated: Vec<f64> = output
            .to_f64_vec()
            .iter()
            .map(|&v| v / (1.0 + (-v).exp()))
            .collect();
        output = Tensor::from_f64(x.dtype(), vec![b, c, l], &activated)?;
    }
    Ok(vec![
        output,
        Tensor::from_f64(x.dtype(), vec![b, c, carry], &present)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_state_feeds_the_first_outputs() {
        let x = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 2.0]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 2], vec![10.0, 1.0]).unwrap();
        let past = Tensor::from_f32(vec![1, 1, 1], vec![3.0]).unwrap();
        let out = causal_conv_with_state(false, &[Some(&x), Some(&w), None, Some(&past)]).unwrap();
        assert_eq!(out[0].to_f32_vec(), vec![31.0, 12.0]);
        assert_eq!(out[1].to_f32_vec(), vec![2.0]);
    }

    #[test]
    fn weight_channel_mismatch_is_an_error() {
        let x = Tensor::from_f32(vec![1, 2, 2], vec![0.0; 4]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 2], vec![0.0; 2]).unwrap();
        assert!(causal_conv_with_state(false, &[Some(&x), Some(&w)]).is_err());
    }
}
