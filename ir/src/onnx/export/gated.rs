//! ONNX export of gated activations: SwiGLU, written as `a * sigmoid(alpha * a) * b` in
//! opset-21 ops (the SwiGLU op needs opset 28, which few runtimes implement).

use super::cx::{Cx, Lowered, Spec};
use crate::error::Error;
use crate::tensor::Tensor;

pub(super) fn swiglu(cx: &mut Cx, alpha: f32) -> Result<Lowered, Error> {
    let a = cx.input_name(0);
    let b = cx.input_name(1);
    if a.is_empty() || b.is_empty() {
        return Err(cx.error("SwiGLU needs both inputs"));
    }
    let scaled = if alpha == 1.0 {
        a.clone()
    } else {
        let alpha = cx.constant(&Tensor::scalar_f32(alpha));
        let alpha = cx.emit1(Spec::new("CastLike"), vec![alpha, a.clone()]);
        cx.emit1(Spec::new("Mul"), vec![a.clone(), alpha])
    };
    let gate = cx.emit1(Spec::new("Sigmoid"), vec![scaled]);
    let swish = cx.emit1(Spec::new("Mul"), vec![a, gate]);
    let out = cx.output_name(0);
    cx.emit(Spec::new("Mul"), vec![swish, b], vec![out]);
    Ok(Lowered::Written)
}
