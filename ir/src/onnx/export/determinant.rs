//! ONNX export of matrix determinants: Det.

use super::cx::{Lowered, Spec};
use crate::error::Error;

pub(super) fn det() -> Result<Lowered, Error> {
    Ok(Lowered::Node(Spec::new("Det")))
}
