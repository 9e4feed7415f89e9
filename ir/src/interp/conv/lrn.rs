//! LRN: each element divided by a power of the sum of squares over neighbouring channels.

use crate::error::OpError;
use crate::interp::req;
use crate::op_bail;
use crate::tensor::Tensor;

/// `y = x / (bias + alpha / size * sum(x[c'] ^ 2))^beta`, the sum over channels
/// `c - floor((size - 1) / 2) ..= c + ceil((size - 1) / 2)` clipped to the tensor.
pub fn lrn(
    alpha: f32,
    beta: f32,
    bias: f32,
    size: usize,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    if !x.dtype().is_float() {
        op_bail!("dtype {} is not supported", x.dtype());
    }
    if x.rank() < 2 {
        op_bail!("input must be [N, C, ...], got shape {:?}", x.shape());
    }
    if size == 0 {
        op_bail!("size must be positive");
    }
    let (batch, channels) = (x.shape()[0], x.shape()[1]);
    let inner: usize = x.shape()[2..].iter().product();
    let values = x.to_f64_vec();
    let (before, after) = ((size - 1) / 2, (size - 1).div_ceil(2));
    let scale = alpha as f64 / size as f64;
    let mut out = vec![0.0; values.len()];
    for n in 0..batch {
        let image = &values[n * channels * inner..(n + 1) * channels * inner];
        for c in 0..channels {
            let lo = c.saturating_sub(before);
            let hi = (c + after).min(channels - 1);
            for i in 0..inner {
                let square_sum: f64 = (lo..=hi).map(|k| image[k * inner + i].powi(2)).sum();
                let v = image[c * inner + i];
                out[(n * channels + c) * inner + i] =
                    v / (bias as f64 + scale * square_sum).powf(beta as f64);
            }
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), x.shape().to_vec(), &out)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_across_neighbouring_channels() {
        let x = Tensor::from_f32(vec![1, 3, 1, 1], vec![1.0, 2.0, 3.0]).unwrap();
        let y = lrn(3.0, 1.0, 1.0, 3, &[Some(&x)]).unwrap();
        // Channel 1 sees all three squares: 1 + (1 + 4 + 9) = 15.
        let got = y[0].as_f32().unwrap();
        assert_eq!(got[1], 2.0 / 15.0);
        assert_eq!(got[0], 1.0 / 6.0);
    }
}
