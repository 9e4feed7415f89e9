//! NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss over inputs `[N, C, d1..dk]` and
//! class targets `[N, d1..dk]`, with optional class weights and an ignored target value.

use super::{expect_float, expect_same_dtype, expect_vector};
use crate::error::OpError;
use crate::interp::{opt, req};
use crate::op::LossReduction;
use crate::op_bail;
use crate::tensor::Tensor;

pub fn nll_loss(
    ignore_index: Option<i64>,
    reduction: LossReduction,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let layout = Layout::of(x, req(inputs, 1)?, opt(inputs, 2))?;
    let loss = layout.loss(&x.to_f64_vec(), ignore_index, reduction)?;
    Ok(vec![loss])
}

pub fn softmax_cross_entropy(
    ignore_index: Option<i64>,
    reduction: LossReduction,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let layout = Layout::of(x, req(inputs, 1)?, opt(inputs, 2))?;
    let mut log_prob = x.to_f64_vec();
    let (c, d) = (layout.classes, layout.inner);
    for i in 0..layout.batch {
        for k in 0..d {
            let idx = |cls: usize| (i * c + cls) * d + k;
            let m = (0..c)
                .map(|cls| log_prob[idx(cls)])
                .fold(f64::NEG_INFINITY, super::nan_max);
            let s: f64 = (0..c).map(|cls| (log_prob[idx(cls)] - m).exp()).sum();
            let log_s = s.ln();
            for cls in 0..c {
                log_prob[idx(cls)] = log_prob[idx(cls)] - m - log_s;
            }
        }
    }
    let mut out = vec![layout.loss(&log_prob, ignore_index, reduction)?];
    if n_outputs > 1 {
        out.push(Tensor::from_f64(x.dtype(), x.shape().to_vec(), &log_prob)?);
    }
    Ok(out)
}

/// The checked inputs of a loss, viewed as `[batch, classes, inner]` log-probabilities and
/// `[batch, inner]` targets.
struct Layout<'a> {
    x: &'a Tensor,
    batch: usize,
    classes: usize,
    inner: usize,
    targets: Vec<i64>,
    target_shape: Vec<usize>,
    weights: Option<Vec<f64>>,
}

impl<'a> Layout<'a> {
    fn of(x: &'a Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Layout<'a>, OpError> {
        expect_float(x, "input")?;
        if x.rank() < 2 {
            op_bail!(
                "input must have rank >= 2 (N, C, ...), got shape {:?}",
                x.shape()
            );
        }
        if !matches!(
            target.dtype(),
            crate::dtype::DType::I32 | crate::dtype::DType::I64
        ) {
            op_bail!("target must be int32 or int64, got {}", target.dtype());
        }
        let want: Vec<usize> = x
            .shape()
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != 1)
            .map(|(_, &d)| d)
            .collect();
        if target.shape() != want.as_slice() {
            op_bail!(
                "target has shape {:?}, expected {want:?} for input of shape {:?}",
                target.shape(),
                x.shape()
            );
        }
        let classes = x.shape()[1];
        let weights = match weight {
            Some(w) => {
                expect_same_dtype(w, x, "weight")?;
                expect_vector(w, classes, "weight")?;
                Some(w.to_f64_vec())
            }
            None => None,
        };
        Ok(Layout {
            x,
            batch: x.shape()[0],
            classes,
            inner: x.shape()[2..].iter().product(),
            targets: target.to_i64_vec()?,
            target_shape: want,
            weights,
        })
    }

    /// The weighted negative log-likelihood of `log_prob` (laid out like the input), reduced.
    fn loss(
        &self,
        log_prob: &[f64],
        ignore_index: Option<i64>,
        reduction: LossReduction,
    ) -> Result<Tensor, OpError> {
        let (c, d) = (self.classes, self.inner);
        let mut losses = Vec::with_capacity(self.targets.len());
        let mut total_weight = 0.0;
        for (flat, &t) in self.targets.iter().enumerate() {
            if Some(t) == ignore_index {
                losses.push(0.0);
                continue;
            }
            if t < 0 || t as usize >= c {
                op_bail!("target value {t} is out of range for {c} classes");
            }
            let (i, k) = (flat / d.max(1), flat % d.max(1));
            let w = self.weights.as_ref().map_or(1.0, |w| w[t as usize]);
            total_weight += w;
            losses.push(-log_prob[(i * c + t as usize) * d + k] * w);
        }
        let dtype = self.x.dtype();
        match reduction {
            LossReduction::None => Tensor::from_f64(dtype, self.target_shape.clone(), &losses),
            LossReduction::Sum => Tensor::from_f64(dtype, vec![], &[losses.iter().sum()]),
            LossReduction::Mean => {
                Tensor::from_f64(dtype, vec![], &[losses.iter().sum::<f64>() / total_weight])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nll_mean_divides_by_the_weight_of_counted_targets() {
        let x = Tensor::from_f32(vec![2, 2], vec![-1.0, -2.0, -3.0, -4.0]).unwrap();
        let t = Tensor::from_i64(vec![2], vec![1, 0]).unwrap();
        let w = Tensor::from_f32(vec![2], vec![1.0, 3.0]).unwrap();
        let y = nll_loss(None, LossReduction::Mean, &[Some(&x), Some(&t), Some(&w)]).unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![(2.0 * 3.0 + 3.0) / 4.0]);
        let y = nll_loss(Some(0), LossReduction::None, &[Some(&x), Some(&t), None]).unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![2.0, 0.0]);
    }

    #[test]
    fn out_of_range_targets_are_errors() {
        let x = Tensor::from_f32(vec![1, 2], vec![-1.0, -2.0]).unwrap();
        let t = Tensor::from_i64(vec![1], vec![5]).unwrap();
        let err = nll_loss(None, LossReduction::Sum, &[Some(&x), Some(&t)]).unwrap_err();
        assert!(
            err.0
                .contains("target value 5 is out of range for 2 classes"),
            "{err}"
        );
    }

    #[test]
    fn cross_entropy_of_uniform_scores_is_log_c() {
        let x = Tensor::from_f32(vec![1, 4], vec![0.5; 4]).unwrap();
        let t = Tensor::from_i64(vec![1], vec![2]).unwrap();
        let out =
            softmax_cross_entropy(None, LossReduction::Mean, &[Some(&x), Some(&t)], 2).unwrap();
        assert!((out[0].to_f32_vec()[0] - 4f32.ln()).abs() < 1e-6);
        assert_eq!(out[1].shape(), &[1, 4]);
    }
}
