//! ONNX importers for: DFT, STFT, HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix.

use super::Registry;
use crate::dtype::DType;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{Op, WindowKind};
use crate::tensor::Tensor;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("DFT", dft);
    reg.insert("STFT", stft);
    reg.insert("HannWindow", |n, e| window(WindowKind::Hann, n, e));
    reg.insert("HammingWindow", |n, e| window(WindowKind::Hamming, n, e));
    reg.insert("BlackmanWindow", |n, e| window(WindowKind::Blackman, n, e));
    reg.insert("MelWeightMatrix", mel_weight_matrix);
}

fn window(kind: WindowKind, node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let dtype = node.dtype_opt("output_datatype")?.unwrap_or(DType::F32);
    e.pass(Op::Window {
        kind,
        periodic: node.bool("periodic", true)?,
        dtype,
    });
    Ok(())
}

/// Opset 17 took `axis` as an attribute (default 1); opset 20 as an input (default -2). The op
/// always takes it as input 2.
fn dft(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let op = Op::Dft {
        inverse: node.bool("inverse", false)?,
        onesided: node.bool("onesided", false)?,
    };
    let axis = match e.input(2) {
        Some(axis) if node.opset >= 20 => axis,
        _ => {
            let default = if node.opset >= 20 { -2 } else { 1 };
            e.constant(Tensor::scalar_i64(node.int("axis", default)?))
        }
    };
    let x = e.input(0);
    let dft_length = e.input(1);
    e.finish(op, vec![x, dft_length, Some(axis)]);
    Ok(())
}

fn stft(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::Stft {
        onesided: node.bool("onesided", true)?,
    });
    Ok(())
}

fn mel_weight_matrix(node: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let dtype = node.dtype_opt("output_datatype")?.unwrap_or(DType::F32);
    e.pass(Op::MelWeightMatrix { dtype });
    Ok(())
}
