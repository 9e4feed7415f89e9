//! Reductions, ArgMax/ArgMin, TopK and the cumulative scans.

mod reduction;
mod scan;
mod select;
pub(in crate::interp) mod values;

pub use reduction::reduce;
pub use scan::{cum_prod, cum_sum};
pub use select::{arg_reduce, top_k};

use crate::error::OpError;
use crate::op_bail;
use crate::tensor::Tensor;

/// The one value of a scalar or one-element integer input (TopK's `k`, a scan's `axis`).
fn single_i64(t: &Tensor, what: &str) -> Result<i64, OpError> {
    let v = t.to_i64_vec()?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => op_bail!(
            "{what} must hold exactly one value, got shape {:?}",
            t.shape()
        ),
    }
}
