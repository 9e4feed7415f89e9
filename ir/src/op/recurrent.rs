//! Attributes of the recurrent ops (RNN, GRU, LSTM).

use serde::{Deserialize, Serialize};

/// Which recurrent cell an [`RnnAttrs`] describes, with the attributes only that cell has.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum RnnCell {
    /// One gate: `H = f(X W^T + H R^T + b)`.
    Simple,
    /// Gates z, r, h; `linear_before_reset` applies `R_h` before the reset gate.
    Gru { linear_before_reset: bool },
    /// Gates i, o, f, c; `input_forget` couples the input gate to `1 - forget`.
    Lstm { input_forget: bool },
}

impl RnnCell {
    /// Number of gate blocks stacked in `W` and `R`.
    pub fn gates(self) -> usize {
        match self {
            RnnCell::Simple => 1,
            RnnCell::Gru { .. } => 3,
            RnnCell::Lstm { .. } => 4,
        }
    }

    /// Number of activation functions per direction.
    pub fn activations(self) -> usize {
        match self {
            RnnCell::Simple => 1,
            RnnCell::Gru { .. } => 2,
            RnnCell::Lstm { .. } => 3,
        }
    }
}

/// Direction(s) a recurrent op scans the sequence in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RnnDirection {
    Forward,
    Reverse,
    Bidirectional,
}

impl RnnDirection {
    pub fn count(self) -> usize {
        match self {
            RnnDirection::Forward | RnnDirection::Reverse => 1,
            RnnDirection::Bidirectional => 2,
        }
    }
}

/// An activation function of a recurrent cell, with its parameters resolved.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum RnnActivation {
    Relu,
    Tanh,
    Sigmoid,
    Affine { alpha: f32, beta: f32 },
    LeakyRelu { alpha: f32 },
    ThresholdedRelu { alpha: f32 },
    ScaledTanh { alpha: f32, beta: f32 },
    HardSigmoid { alpha: f32, beta: f32 },
    Elu { alpha: f32 },
    Softsign,
    Softplus,
}

impl RnnActivation {
    pub fn apply(self, x: f64) -> f64 {
        match self {
            RnnActivation::Relu => x.max(0.0),
            RnnActivation::Tanh => x.tanh(),
            RnnActivation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            RnnActivation::Affine { alpha, beta } => alpha as f64 * x + beta as f64,
            RnnActivation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha as f64 * x
                }
            }
            RnnActivation::ThresholdedRelu { alpha } => {
                if x > alpha as f64 {
                    x
                } else {
                    0.0
                }
            }
            RnnActivation::ScaledTanh { alpha, beta } => alpha as f64 * (beta as f64 * x).tanh(),
            RnnActivation::HardSigmoid { alpha, beta } => {
                (alpha as f64 * x + beta as f64).clamp(0.0, 1.0)
            }
            RnnActivation::Elu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha as f64 * (x.exp() - 1.0)
                }
            }
            RnnActivation::Softsign => x / (1.0 + x.abs()),
            RnnActivation::Softplus => (1.0 + x.exp()).ln(),
        }
    }
}

/// Attributes shared by RNN, GRU and LSTM.
///
/// `activations` holds `cell.activations()` functions per direction, forward first.
/// `batch_first` is ONNX `layout = 1`: X `[batch, seq, input]`, Y `[batch, seq, dirs, hidden]`,
/// states `[batch, dirs, hidden]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RnnAttrs {
    pub cell: RnnCell,
    pub direction: RnnDirection,
    pub hidden_size: Option<usize>,
    pub activations: Vec<RnnActivation>,
    pub clip: Option<f32>,
    pub batch_first: bool,
}
