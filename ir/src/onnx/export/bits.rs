//! ONNX export of bit-level reinterpretation: BitCast (opset 26).

use super::cx::{Lowered, Spec};
use crate::dtype::DType;
use crate::error::Error;

pub(super) fn bit_cast(to: DType) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("BitCast").dtype("to", to).since(26),
    ))
}
