//! Key/value cache updates: TensorScatter.

use super::layout::concat;
use super::{opt, req};
use crate::error::OpError;
use crate::op_bail;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

/// inputs: past_cache, update, write_indices? (one per batch entry, default 0). Writes
/// `update`'s sequence positions into the cache along `axis` starting at each batch entry's
/// write index (modulo the cache length when `circular`).
pub fn tensor_scatter(
    axis: i64,
    circular: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let past = req(inputs, 0)?;
    let update = req(inputs, 1)?;
    let rank = past.rank();
    let axis = normalize_axis(axis, rank)?;
    if axis == 0 {
        op_bail!("TensorScatter's axis must not be the batch axis 0");
    }
    if update.rank() != rank || past.dtype() != update.dtype() {
        op_bail!(
            "update ({} {:?}) must match past_cache ({} {:?}) in rank and dtype",
            update.dtype(),
            update.shape(),
            past.dtype(),
            past.shape()
        );
    }
    for (i, (&p, &u)) in past.shape().iter().zip(update.shape()).enumerate() {
        if (i != axis && p != u) || (i == axis && u > p) {
            op_bail!(
                "update shape {:?} does not fit past_cache shape {:?} at dim {i}",
                update.shape(),
                past.shape()
            );
        }
    }
    let batch = past.shape()[0];
    let write_indices = match opt(inputs, 2) {
        Some(t) => t.to_i64_vec()?,
        None => vec![0; batch],
    };
    if write_indices.len() != batch {
        op_bail!(
            "write_indices has {} entries, batch is {batch}",
            write_indices.len()
        );
    }
    let max_len = past.shape()[axis];
    let seq_len = update.shape()[axis];
    let inner: usize = past.shape()[axis + 1..].iter().product();
    let prefixes: usize = past.shape()[..axis].iter().product();
    let prefixes_per_batch = prefixes / batch.max(1);
    // Output element i reads `combined[sources[i]]`, where `combined` is past ++ update.
    let mut sources: Vec<usize> = (0..past.len()).collect();
    for p in 0..prefixes {
        let start = write_indices[p / prefixes_per_batch.max(1)];
        for s in 0..seq_len {
            let Some(position) = start.checked_add(s as i64) else {
                op_bail!("write index {start} overflows when advanced by {s}");
            };
            let slot = if circular {
                position.rem_euclid(max_len.max(1) as i64)
            } else {
                position
            };
            if slot < 0 || slot as usize >= max_len {
                op_bail!("write position {position} is out of range for cache length {max_len}");
            }
            let to = (p * max_len + slot as usize) * inner;
            let from = past.len() + (p * seq_len + s) * inner;
            for k in 0..inner {
                sources[to + k] = from + k;
            }
        }
    }
    let flat = |t: &Tensor| t.clone().reshaped(vec![t.len()]);
    let (past_flat, update_flat) = (flat(past)?, flat(update)?);
    let combined = concat(0, &[Some(&past_flat), Some(&update_flat)])?;
    let Some(combined) = combined.first() else {
        op_bail!("concat produced no output");
    };
    let data = combined.data().gather(&sources);
    Ok(vec![Tensor::new(
        past.dtype(),
        past.shape().to_vec(),
        data,
    )?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_and_update() -> (Tensor, Tensor) {
        let past = Tensor::from_f32(vec![1, 4, 1], vec![0.0; 4]).unwrap();
        let update = Tensor::from_f32(vec![1, 2, 1], vec![7.0, 8.0]).unwrap();
        (past, update)
    }

    #[test]
    fn circular_writes_wrap_around() {
        let (past, update) = cache_and_update();
        let at = Tensor::from_i64(vec![1], vec![3]).unwrap();
        let out = tensor_scatter(1, true, &[Some(&past), Some(&update), Some(&at)]).unwrap();
        assert_eq!(out[0].to_f32_vec(), vec![8.0, 0.0, 0.0, 7.0]);
    }

    #[test]
    fn linear_writes_past_the_end_are_an_error() {
        let (past, update) = cache_and_update();
        let at = Tensor::from_i64(vec![1], vec![3]).unwrap();
        let err = tensor_scatter(1, false, &[Some(&past), Some(&update), Some(&at)]).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }
}
