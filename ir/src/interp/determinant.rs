//! Matrix determinants: Det.

use super::req;
use crate::error::OpError;
use crate::op_bail;
use crate::tensor::Tensor;

/// The determinant of one row-major `n x n` matrix by LU decomposition with partial pivoting.
fn determinant(mut m: Vec<f64>, n: usize) -> f64 {
    let mut det = 1.0;
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&a, &b| m[a * n + col].abs().total_cmp(&m[b * n + col].abs()))
            .unwrap_or(col);
        if m[pivot * n + col] == 0.0 {
            return 0.0;
        }
        if pivot != col {
            for k in 0..n {
                m.swap(pivot * n + k, col * n + k);
            }
            det = -det;
        }
        let p = m[col * n + col];
        det *= p;
        for row in col + 1..n {
            let factor = m[row * n + col] / p;
            for k in col..n {
                m[row * n + k] -= factor * m[col * n + k];
            }
        }
    }
    det
}

/// inputs: x `[*, M, M]`; output `[*]`.
pub fn det(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let rank = x.rank();
    if rank < 2 || x.shape()[rank - 1] != x.shape()[rank - 2] {
        op_bail!(
            "Det needs square matrices [*, M, M], got shape {:?}",
            x.shape()
        );
    }
    if !x.dtype().is_float() {
        op_bail!("Det needs a float input, got {}", x.dtype());
    }
    let n = x.shape()[rank - 1];
    let values = x.to_f64_vec();
    let dets: Vec<f64> = if n == 0 {
        vec![1.0; x.shape()[..rank - 2].iter().product()]
    } else {
        values
            .chunks_exact(n * n)
            .map(|m| determinant(m.to_vec(), n))
            .collect()
    };
    Ok(vec![Tensor::from_f64(
        x.dtype(),
        x.shape()[..rank - 2].to_vec(),
        &dets,
    )?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_determinants_need_pivoting() {
        // The second matrix has a zero leading entry, so elimination must swap rows.
        let x = Tensor::from_f64(
            crate::dtype::DType::F64,
            vec![2, 2, 2],
            &[2.0, 1.0, 1.0, 3.0, 0.0, 1.0, 1.0, 0.0],
        )
        .unwrap();
        let out = det(&[Some(&x)]).unwrap();
        assert_eq!(out[0].shape(), &[2]);
        assert_eq!(out[0].to_f64_vec(), vec![5.0, -1.0]);
    }

    #[test]
    fn non_square_input_is_an_error() {
        let x = Tensor::from_f32(vec![2, 3], vec![0.0; 6]).unwrap();
        assert!(det(&[Some(&x)]).is_err());
    }
}
