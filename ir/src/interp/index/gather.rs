//! Gather, GatherElements and GatherND: reading elements at given indices.

use super::{coordinate, index_values, resolve};
use crate::error::OpError;
use crate::interp::req;
use crate::interp::util::outer_axis_inner;
use crate::op_bail;
use crate::shape::normalize_axis;
use crate::tensor::{Tensor, strides};

/// Slices of `data` along `axis` picked by `indices`: the output shape is
/// `data[..axis] ++ indices ++ data[axis+1..]`.
pub fn gather(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let data = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    let axis = normalize_axis(axis, data.rank())?;
    let (outer, dim, inner) = outer_axis_inner(data.shape(), axis);
    let picked = index_values(indices, "indices")?
        .into_iter()
        .map(|i| resolve(i, dim, axis))
        .collect::<Result<Vec<_>, _>>()?;
    let mut source = Vec::with_capacity(outer * picked.len() * inner);
    for o in 0..outer {
        for &k in &picked {
            let base = (o * dim + k) * inner;
            source.extend(base..base + inner);
        }
    }
    let mut shape = data.shape()[..axis].to_vec();
    shape.extend_from_slice(indices.shape());
    shape.extend_from_slice(&data.shape()[axis + 1..]);
    Ok(vec![Tensor::new(
        data.dtype(),
        shape,
        data.data().gather(&source),
    )?])
}

/// `out[p] = data[p with coordinate axis replaced by indices[p]]`; the output has the shape of
/// `indices`, whose dims other than `axis` may not exceed those of `data`.
pub fn gather_elements(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let data = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    let axis = normalize_axis(axis, data.rank())?;
    check_element_shape(data.shape(), indices.shape(), axis, "indices")?;
    let source = element_offsets(data.shape(), indices, axis)?;
    Ok(vec![Tensor::new(
        data.dtype(),
        indices.shape().to_vec(),
        data.data().gather(&source),
    )?])
}

/// Checks the shape of GatherElements' / ScatterElements' `indices` against `data`: the same
/// rank, and no dim other than `axis` larger than data's.
pub(super) fn check_element_shape(
    data: &[usize],
    indices: &[usize],
    axis: usize,
    what: &str,
) -> Result<(), OpError> {
    if indices.len() != data.len() {
        op_bail!("{what} of shape {indices:?} must have the rank of data, shape {data:?}");
    }
    for (d, (&i, &n)) in indices.iter().zip(data).enumerate() {
        if d != axis && i > n {
            op_bail!("{what} shape {indices:?} exceeds data shape {data:?} on axis {d}");
        }
    }
    Ok(())
}

/// For each element of `indices` (same rank as data), the flat offset in data it addresses.
pub(super) fn element_offsets(
    data_shape: &[usize],
    indices: &Tensor,
    axis: usize,
) -> Result<Vec<usize>, OpError> {
    let data_strides = strides(data_shape);
    let index_strides = strides(indices.shape());
    index_values(indices, "indices")?
        .into_iter()
        .enumerate()
        .map(|(p, i)| {
            let mut offset = resolve(i, data_shape[axis], axis)? * data_strides[axis];
            for d in (0..data_shape.len()).filter(|&d| d != axis) {
                offset += coordinate(p, &index_strides, indices.shape(), d) * data_strides[d];
            }
            Ok(offset)
        })
        .collect()
}

/// Slices of `data` addressed by the index tuples in the last dim of `indices`, the first
/// `batch_dims` dims of both being a shared batch.
pub fn gather_nd(batch_dims: usize, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let data = req(inputs, 0)?;
    let indices = req(inputs, 1)?;
    let nd = NdIndexing::new(data.shape(), indices.shape(), batch_dims)?;
    let tuples = index_values(indices, "indices")?;
    let mut source = Vec::with_capacity(nd.n_tuples() * nd.slice);
    for t in 0..nd.n_tuples() {
        let offset = nd.offset(data.shape(), t, &tuples)?;
        source.extend(offset..offset + nd.slice);
    }
    let q = indices.rank();
    let mut shape = indices.shape()[..q - 1].to_vec();
    shape.extend_from_slice(&data.shape()[batch_dims + nd.depth..]);
    Ok(vec![Tensor::new(
        data.dtype(),
        shape,
        data.data().gather(&source),
    )?])
}

/// The addressing of GatherND and ScatterND: index tuples of length `depth` in the last dim of
/// `indices`, each naming a slice of `slice` elements of data, within a batch.
pub(super) struct NdIndexing {
    batch_dims: usize,
    /// The length of one index tuple.
    depth: usize,
    /// Elements per addressed slice.
    pub slice: usize,
    batches: usize,
    tuples_per_batch: usize,
    /// Elements of data per batch.
    batch_size: usize,
    /// Strides of data's dims after the batch dims.
    inner_strides: Vec<usize>,
}

impl NdIndexing {
    pub fn new(data: &[usize], indices: &[usize], batch_dims: usize) -> Result<Self, OpError> {
        let (r, q) = (data.len(), indices.len());
        let Some(&depth) = indices.last() else {
            op_bail!("indices must have rank at least 1");
        };
        if batch_dims >= q || batch_dims > r {
            op_bail!(
                "batch_dims {batch_dims} needs indices of rank above it and data of at least its rank (indices {indices:?}, data {data:?})"
            );
        }
        if batch_dims + depth > r {
            op_bail!(
                "index tuples of length {depth} after {batch_dims} batch dims exceed the rank of data shape {data:?}"
            );
        }
        if data[..batch_dims] != indices[..batch_dims] {
            op_bail!(
                "batch dims of indices {indices:?} and data {data:?} differ (batch_dims {batch_dims})"
            );
        }
        Ok(NdIndexing {
            batch_dims,
            depth,
            slice: data[batch_dims + depth..].iter().product(),
            batches: data[..batch_dims].iter().product(),
            tuples_per_batch: indices[batch_dims..q - 1].iter().product(),
            batch_size: data[batch_dims..].iter().product(),
            inner_strides: strides(&data[batch_dims..]),
        })
    }

    pub fn n_tuples(&self) -> usize {
        self.batches * self.tuples_per_batch
    }

    /// The flat offset in data of the slice that tuple `t` (row-major over indices' leading
    /// dims) addresses.
    pub fn offset(&self, data: &[usize], t: usize, tuples: &[i128]) -> Result<usize, OpError> {
        let batch = t / self.tuples_per_batch.max(1);
        let mut offset = batch * self.batch_size;
        for j in 0..self.depth {
            let axis = self.batch_dims + j;
            offset +=
                resolve(tuples[t * self.depth + j], data[axis], axis)? * self.inner_strides[j];
        }
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x23() -> Tensor {
        Tensor::from_f32(vec![2, 3], vec![0., 1., 2., 10., 11., 12.]).unwrap()
    }

    #[test]
    fn gather_wraps_negative_indices_and_inserts_the_indices_shape() {
        let idx = Tensor::from_i64(vec![2, 1], vec![-1, 0]).unwrap();
        let y = gather(1, &[Some(&x23()), Some(&idx)]).unwrap().remove(0);
        assert_eq!(y.shape(), &[2, 2, 1]);
        assert_eq!(y.to_f64_vec(), vec![2., 0., 12., 10.]);
    }

    #[test]
    fn out_of_range_indices_name_the_value_and_the_dim() {
        let idx = Tensor::from_i64(vec![1], vec![3]).unwrap();
        let err = gather(1, &[Some(&x23()), Some(&idx)]).unwrap_err();
        assert!(
            err.0.contains("value 3") && err.0.contains("dim 3"),
            "{err}"
        );
        let err = gather_elements(0, &[Some(&x23()), Some(&idx)]).unwrap_err();
        assert!(err.0.contains("rank"), "{err}");
        let nd = Tensor::from_i64(vec![1, 2], vec![0, -4]).unwrap();
        let err = gather_nd(0, &[Some(&x23()), Some(&nd)]).unwrap_err();
        assert!(err.0.contains("value -4"), "{err}");
    }

    #[test]
    fn gather_elements_reads_along_the_axis() {
        let idx = Tensor::from_i64(vec![2, 2], vec![2, 0, -1, 1]).unwrap();
        let y = gather_elements(1, &[Some(&x23()), Some(&idx)])
            .unwrap()
            .remove(0);
        assert_eq!(y.to_f64_vec(), vec![2., 0., 12., 11.]);
    }

    #[test]
    fn gather_nd_with_batch_dims_indexes_within_each_batch() {
        let idx = Tensor::from_i64(vec![2, 1], vec![2, 0]).unwrap();
        let y = gather_nd(1, &[Some(&x23()), Some(&idx)]).unwrap().remove(0);
        assert_eq!(y.shape(), &[2]);
        assert_eq!(y.to_f64_vec(), vec![2., 10.]);
        let rows = Tensor::from_i64(vec![1, 1], vec![1]).unwrap();
        let y = gather_nd(0, &[Some(&x23()), Some(&rows)])
            .unwrap()
            .remove(0);
        assert_eq!(y.shape(), &[1, 3]);
        assert_eq!(y.to_f64_vec(), vec![10., 11., 12.]);
    }
}
