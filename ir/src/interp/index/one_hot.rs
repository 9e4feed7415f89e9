//! OneHot: indices expanded into a new axis of `depth` positions, `on` at the index, `off`
//! elsewhere.

use crate::error::OpError;
use crate::interp::req;
use crate::op_bail;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

/// Inputs: indices (any numeric dtype, floats truncated), depth (one value of any numeric
/// dtype), values `[off, on]`, whose dtype the output takes. Negative indices count from the
/// end of the new axis; indices outside `[-depth, depth)` give a row of `off`.
pub fn one_hot(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let indices = req(inputs, 0)?;
    let depth = req(inputs, 1)?;
    let values = req(inputs, 2)?;
    let depth = match depth.to_f64_vec().as_slice() {
        [d] if *d >= 0.0 && d.is_finite() => d.trunc() as usize,
        [d] => op_bail!("depth must be a non-negative number, got {d}"),
        _ => op_bail!(
            "depth must hold exactly one value, got shape {:?}",
            depth.shape()
        ),
    };
    if values.len() != 2 {
        op_bail!(
            "values must hold [off_value, on_value], got shape {:?}",
            values.shape()
        );
    }
    let axis = normalize_axis(axis, indices.rank() + 1)?;
    let outer: usize = indices.shape()[..axis].iter().product();
    let inner: usize = indices.shape()[axis..].iter().product();
    let positions = indices.to_i128_vec();
    let size = depth as i128;
    // Per output element, 0 (off) or 1 (on): the position in `values` to copy.
    let mut source = Vec::with_capacity(outer * depth * inner);
    for o in 0..outer {
        for d in 0..size {
            for i in 0..inner {
                let p = positions[o * inner + i];
                let p = if p < 0 { p + size } else { p };
                source.push(usize::from(p == d));
            }
        }
    }
    let mut shape = indices.shape().to_vec();
    shape.insert(axis, depth);
    Ok(vec![Tensor::new(
        values.dtype(),
        shape,
        values.data().gather(&source),
    )?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_wraps_negative_and_ignores_out_of_range_indices() {
        let idx = Tensor::from_i64(vec![3], vec![-1, 5, 0]).unwrap();
        let depth = Tensor::scalar_f32(3.0);
        let values = Tensor::from_i64(vec![2], vec![-2, 9]).unwrap();
        let y = one_hot(0, &[Some(&idx), Some(&depth), Some(&values)])
            .unwrap()
            .remove(0);
        assert_eq!(y.shape(), &[3, 3]);
        assert_eq!(y.as_i64().unwrap(), &[-2, -2, 9, -2, -2, -2, 9, -2, -2]);
    }

    #[test]
    fn one_hot_checks_depth_and_values() {
        let idx = Tensor::from_i64(vec![1], vec![0]).unwrap();
        let depth = Tensor::scalar_i64(-2);
        let values = Tensor::from_f32(vec![2], vec![0., 1.]).unwrap();
        assert!(one_hot(-1, &[Some(&idx), Some(&depth), Some(&values)]).is_err());
        let depth = Tensor::scalar_i64(2);
        let three = Tensor::from_f32(vec![3], vec![0., 1., 2.]).unwrap();
        assert!(one_hot(-1, &[Some(&idx), Some(&depth), Some(&three)]).is_err());
    }
}
