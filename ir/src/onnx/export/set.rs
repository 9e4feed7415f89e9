//! ONNX export of set operations: Unique.

use super::cx::{Lowered, Spec};
use crate::error::Error;

pub(super) fn unique(axis: Option<i64>, sorted: bool) -> Result<Lowered, Error> {
    let s = Spec::new("Unique").flag("sorted", sorted, true);
    Ok(Lowered::Node(match axis {
        Some(a) => s.int("axis", a),
        None => s,
    }))
}
