//! ONNX export of object-detection post-processing: NonMaxSuppression.

use super::cx::{Lowered, Spec};
use crate::error::Error;

pub(super) fn non_max_suppression(center_point_box: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("NonMaxSuppression").flag(
        "center_point_box",
        center_point_box,
        false,
    )))
}
