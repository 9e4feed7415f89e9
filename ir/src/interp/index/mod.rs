//! Indexing ops: gather and scatter variants, OneHot, NonZero, Compress, ReverseSequence.
//! (Resize lives in `interp::resize`.)
//!
//! Every index read from a tensor is checked against the dim it addresses (negative indices
//! count from the end where the op allows them); a bad one is an error naming its value and the
//! dim, never a panic.

mod gather;
mod one_hot;
mod scatter;
mod select;

pub use gather::{gather, gather_elements, gather_nd};
pub use one_hot::one_hot;
pub use scatter::{scatter_elements, scatter_nd};
pub use select::{compress, non_zero, reverse_sequence};

use crate::error::OpError;
use crate::op_bail;
use crate::tensor::Tensor;

/// The elements of an integer index tensor.
fn index_values(t: &Tensor, what: &str) -> Result<Vec<i128>, OpError> {
    if !t.dtype().is_int() {
        op_bail!("{what} must be an integer tensor, got {}", t.dtype());
    }
    Ok(t.to_i128_vec())
}

/// Resolves `index` against an axis of size `dim`, negative values counting from the end.
fn resolve(index: i128, dim: usize, axis: usize) -> Result<usize, OpError> {
    let size = dim as i128;
    let at = if index < 0 { index + size } else { index };
    if at < 0 || at >= size {
        op_bail!("indices value {index} is out of range for dim {dim} (axis {axis})");
    }
    Ok(at as usize)
}

/// Coordinate `axis` of the element at flat position `flat` of a tensor with `strides`/`shape`.
fn coordinate(flat: usize, strides: &[usize], shape: &[usize], axis: usize) -> usize {
    (flat / strides[axis]) % shape[axis]
}
