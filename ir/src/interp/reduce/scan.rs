//! CumSum and CumProd: running sums and products along one axis.

use super::single_i64;
use super::values::Values;
use crate::error::OpError;
use crate::interp::req;
use crate::interp::util::outer_axis_inner;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

/// Running sum along the axis given by input 1.
pub fn cum_sum(
    exclusive: bool,
    reverse: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    scan(
        Scan {
            exclusive,
            reverse,
            identity: (0.0, 0),
            float_step: |a, v| a + v,
            int_step: i128::wrapping_add,
        },
        inputs,
    )
}

/// Running product along the axis given by input 1.
pub fn cum_prod(
    exclusive: bool,
    reverse: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    scan(
        Scan {
            exclusive,
            reverse,
            identity: (1.0, 1),
            float_step: |a, v| a * v,
            int_step: i128::wrapping_mul,
        },
        inputs,
    )
}

/// One running fold: `exclusive` leaves each element out of its own result (the first result is
/// the identity), `reverse` runs from the end of the axis.
struct Scan {
    exclusive: bool,
    reverse: bool,
    identity: (f64, i128),
    float_step: fn(f64, f64) -> f64,
    int_step: fn(i128, i128) -> i128,
}

fn scan(s: Scan, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let axis = normalize_axis(single_i64(req(inputs, 1)?, "axis")?, x.rank())?;
    let (outer, dim, inner) = outer_axis_inner(x.shape(), axis);
    let out = match Values::of(x) {
        Values::Float(v) => {
            Values::Float(run(&s, &v, s.identity.0, s.float_step, (outer, dim, inner)))
        }
        Values::Int(v) => Values::Int(run(&s, &v, s.identity.1, s.int_step, (outer, dim, inner))),
    };
    Ok(vec![out.into_tensor(x.dtype(), x.shape().to_vec())?])
}

fn run<T: Copy>(
    s: &Scan,
    x: &[T],
    identity: T,
    step: fn(T, T) -> T,
    (outer, dim, inner): (usize, usize, usize),
) -> Vec<T> {
    let mut out = vec![identity; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let mut acc = identity;
            for j in 0..dim {
                let k = if s.reverse { dim - 1 - j } else { j };
                let at = (o * dim + k) * inner + i;
                if s.exclusive {
                    out[at] = acc;
                    acc = step(acc, x[at]);
                } else {
                    acc = step(acc, x[at]);
                    out[at] = acc;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_reverse_scans_start_from_the_identity_at_the_end() {
        let x = Tensor::from_i64(vec![4], vec![1, 2, 3, 4]).unwrap();
        let axis = Tensor::scalar_i64(0);
        let sum = cum_sum(true, true, &[Some(&x), Some(&axis)]).unwrap();
        assert_eq!(sum[0].as_i64().unwrap(), &[9, 7, 4, 0]);
        let prod = cum_prod(false, false, &[Some(&x), Some(&axis)]).unwrap();
        assert_eq!(prod[0].as_i64().unwrap(), &[1, 2, 6, 24]);
    }

    #[test]
    fn scans_follow_the_axis_input() {
        let x = Tensor::from_f32(vec![2, 2], vec![1., 2., 3., 4.]).unwrap();
        let axis = Tensor::scalar_i64(-1);
        let y = cum_sum(false, false, &[Some(&x), Some(&axis)]).unwrap();
        assert_eq!(y[0].to_f64_vec(), vec![1., 3., 3., 7.]);
        let bad = Tensor::scalar_i64(2);
        assert!(cum_sum(false, false, &[Some(&x), Some(&bad)]).is_err());
    }
}
