//! Dropout in inference mode: the output is the input and the mask is all true. Training mode
//! (random masks) is refused unless the ratio is zero, where it is the identity too.

use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::{opt, req};
use crate::op_bail;
use crate::tensor::Tensor;

pub fn dropout(
    float_mask: bool,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let ratio = match opt(inputs, 1) {
        Some(r) => {
            let v = r.to_f64_vec();
            match v.as_slice() {
                [r] => *r,
                _ => op_bail!("ratio must hold one value, got shape {:?}", r.shape()),
            }
        }
        None => 0.5,
    };
    let training = match opt(inputs, 2) {
        Some(t) => match t.to_bool_vec().as_slice() {
            [b] => *b,
            _ => op_bail!(
                "training_mode must hold one value, got shape {:?}",
                t.shape()
            ),
        },
        None => false,
    };
    if training && ratio != 0.0 {
        op_bail!(
            "training mode is not supported (ratio {ratio}): Dropout runs in inference mode only"
        );
    }
    let mut out = vec![x.clone()];
    if n_outputs > 1 {
        let shape = x.shape().to_vec();
        let mask = if float_mask {
            Tensor::from_f64(x.dtype(), shape, &vec![1.0; x.len()])?
        } else {
            Tensor::new(
                DType::Bool,
                shape,
                crate::tensor::Data::Bool(vec![true; x.len()]),
            )?
        };
        out.push(mask);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_is_identity_with_a_true_mask() {
        let x = Tensor::from_f32(vec![2], vec![1.0, -2.0]).unwrap();
        let out = dropout(false, &[Some(&x)], 2).unwrap();
        assert_eq!(out[0], x);
        assert_eq!(out[1].as_bool(), Some(&[true, true][..]));
        let out = dropout(true, &[Some(&x)], 2).unwrap();
        assert_eq!(out[1].to_f32_vec(), vec![1.0, 1.0]);
    }

    #[test]
    fn training_needs_a_zero_ratio() {
        let x = Tensor::from_f32(vec![2], vec![1.0, -2.0]).unwrap();
        let on = Tensor::from_bool(vec![], vec![true]).unwrap();
        let zero = Tensor::scalar_f32(0.0);
        let half = Tensor::scalar_f32(0.5);
        assert!(dropout(false, &[Some(&x), Some(&zero), Some(&on)], 1).is_ok());
        let err = dropout(false, &[Some(&x), Some(&half), Some(&on)], 1).unwrap_err();
        assert!(err.0.contains("training mode is not supported"));
    }
}
