//! ONNX export of RNN, GRU and LSTM: direction, layout, clip, the cell's own flag, and the
//! activation functions with their alpha/beta lists when they differ from the defaults.

use super::cx::{Lowered, Spec};
use crate::error::Error;
use crate::op::{RnnActivation, RnnAttrs, RnnCell, RnnDirection};

/// The spec's default activations of one direction.
fn defaults(cell: RnnCell) -> &'static [RnnActivation] {
    match cell {
        RnnCell::Simple => &[RnnActivation::Tanh],
        RnnCell::Gru { .. } => &[RnnActivation::Sigmoid, RnnActivation::Tanh],
        RnnCell::Lstm { .. } => &[
            RnnActivation::Sigmoid,
            RnnActivation::Tanh,
            RnnActivation::Tanh,
        ],
    }
}

/// An activation's ONNX name and the alpha and beta it consumes from the attribute lists.
fn activation(a: RnnActivation) -> (&'static str, Option<f32>, Option<f32>) {
    match a {
        RnnActivation::Relu => ("Relu", None, None),
        RnnActivation::Tanh => ("Tanh", None, None),
        RnnActivation::Sigmoid => ("Sigmoid", None, None),
        RnnActivation::Affine { alpha, beta } => ("Affine", Some(alpha), Some(beta)),
        RnnActivation::LeakyRelu { alpha } => ("LeakyRelu", Some(alpha), None),
        RnnActivation::ThresholdedRelu { alpha } => ("ThresholdedRelu", Some(alpha), None),
        RnnActivation::ScaledTanh { alpha, beta } => ("ScaledTanh", Some(alpha), Some(beta)),
        RnnActivation::HardSigmoid { alpha, beta } => ("HardSigmoid", Some(alpha), Some(beta)),
        RnnActivation::Elu { alpha } => ("Elu", Some(alpha), None),
        RnnActivation::Softsign => ("Softsign", None, None),
        RnnActivation::Softplus => ("Softplus", None, None),
    }
}

pub(super) fn recurrent(a: &RnnAttrs) -> Result<Lowered, Error> {
    let s = match a.cell {
        RnnCell::Simple => Spec::new("RNN"),
        RnnCell::Gru {
            linear_before_reset,
        } => Spec::new("GRU").flag("linear_before_reset", linear_before_reset, false),
        RnnCell::Lstm { input_forget } => {
            Spec::new("LSTM").flag("input_forget", input_forget, false)
        }
    };
    let direction = match a.direction {
        RnnDirection::Forward => "forward",
        RnnDirection::Reverse => "reverse",
        RnnDirection::Bidirectional => "bidirectional",
    };
    let mut s = s
        .string_or("direction", direction, "forward")
        .flag("layout", a.batch_first, false);
    if let Some(h) = a.hidden_size {
        s = s.int("hidden_size", h as i64);
    }
    if let Some(c) = a.clip {
        s = s.float("clip", c);
    }
    let default: Vec<RnnActivation> = defaults(a.cell)
        .iter()
        .copied()
        .cycle()
        .take(a.cell.activations() * a.direction.count())
        .collect();
    if a.activations != default {
        let mut names = Vec::with_capacity(a.activations.len());
        let (mut alphas, mut betas) = (Vec::new(), Vec::new());
        for &f in &a.activations {
            let (name, alpha, beta) = activation(f);
            names.push(name);
            alphas.extend(alpha);
            betas.extend(beta);
        }
        s = s.strings("activations", &names);
        if !alphas.is_empty() {
            s = s.floats("activation_alpha", &alphas);
        }
        if !betas.is_empty() {
            s = s.floats("activation_beta", &betas);
        }
    }
    Ok(Lowered::Node(s))
}
