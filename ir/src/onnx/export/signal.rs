//! ONNX export of the signal ops: the windows, DFT (the opset 20 form with `axis` as input 2),
//! STFT and MelWeightMatrix.

use super::cx::{Lowered, Spec};
use crate::dtype::DType;
use crate::error::Error;
use crate::onnx::dtype_to_onnx;
use crate::op::WindowKind;

fn output_datatype(s: Spec, d: DType) -> Spec {
    s.int_or(
        "output_datatype",
        dtype_to_onnx(d) as i64,
        dtype_to_onnx(DType::F32) as i64,
    )
}

pub(super) fn window(kind: WindowKind, periodic: bool, dtype: DType) -> Result<Lowered, Error> {
    let s = Spec::new(kind.name()).flag("periodic", periodic, true);
    Ok(Lowered::Node(output_datatype(s, dtype)))
}

pub(super) fn dft(inverse: bool, onesided: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("DFT")
            .flag("inverse", inverse, false)
            .flag("onesided", onesided, false),
    ))
}

pub(super) fn stft(onesided: bool) -> Result<Lowered, Error> {
    Ok(Lowered::Node(
        Spec::new("STFT").flag("onesided", onesided, true),
    ))
}

pub(super) fn mel_weight_matrix(dtype: DType) -> Result<Lowered, Error> {
    Ok(Lowered::Node(output_datatype(
        Spec::new("MelWeightMatrix"),
        dtype,
    )))
}
