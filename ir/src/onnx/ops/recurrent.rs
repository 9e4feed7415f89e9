//! ONNX importers for: RNN, GRU, LSTM.

use super::Registry;
use crate::error::Error;
use crate::onnx::proto::attribute_proto::AttributeType;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{Op, RnnActivation, RnnAttrs, RnnCell, RnnDirection};

pub(super) fn register(reg: &mut Registry) {
    reg.insert("RNN", |n, e| recurrent(n, e, RnnCell::Simple));
    reg.insert("GRU", |n, e| {
        let linear_before_reset = n.bool("linear_before_reset", false)?;
        recurrent(
            n,
            e,
            RnnCell::Gru {
                linear_before_reset,
            },
        )
    });
    reg.insert("LSTM", |n, e| {
        let input_forget = n.bool("input_forget", false)?;
        recurrent(n, e, RnnCell::Lstm { input_forget })
    });
}

/// A list-of-strings attribute (the node API has no getter for this type).
fn strings_attr(node: &OnnxNode, name: &str) -> Result<Option<Vec<String>>, Error> {
    let Some(a) = node.proto.attribute.iter().find(|a| a.name == name) else {
        return Ok(None);
    };
    if a.r#type != AttributeType::Strings as i32 {
        return Err(node.attr_error(name, "expected a list of strings"));
    }
    a.strings
        .iter()
        .map(|s| {
            String::from_utf8(s.clone()).map_err(|_| node.attr_error(name, "is not valid UTF-8"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The spec's default activations of one direction.
fn default_activations(cell: RnnCell) -> &'static [&'static str] {
    match cell {
        RnnCell::Simple => &["Tanh"],
        RnnCell::Gru { .. } => &["Sigmoid", "Tanh"],
        RnnCell::Lstm { .. } => &["Sigmoid", "Tanh", "Tanh"],
    }
}

/// Resolves activation names; `activation_alpha`/`activation_beta` are consumed in order by
/// the functions that take them, the rest use each function's default.
fn activations(node: &OnnxNode, cell: RnnCell, dirs: usize) -> Result<Vec<RnnActivation>, Error> {
    let names: Vec<String> = match strings_attr(node, "activations")? {
        Some(v) => v,
        None => default_activations(cell)
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let per_dir = cell.activations();
    // A list for one direction is reused for the second.
    let names: Vec<String> = if names.len() == per_dir && dirs == 2 {
        names.iter().chain(names.iter()).cloned().collect()
    } else {
        names
    };
    if names.len() != per_dir * dirs {
        return Err(node.attr_error(
            "activations",
            format!("has {} entries, expected {}", names.len(), per_dir * dirs),
        ));
    }
    let alphas = node.floats("activation_alpha")?.unwrap_or_default();
    let betas = node.floats("activation_beta")?.unwrap_or_default();
    let (mut next_alpha, mut next_beta) = (alphas.into_iter(), betas.into_iter());
    let mut alpha = |d: f32| next_alpha.next().unwrap_or(d);
    let mut beta = |d: f32| next_beta.next().unwrap_or(d);
    names
        .iter()
        .map(|name| {
            Ok(match name.to_ascii_lowercase().as_str() {
                "relu" => RnnActivation::Relu,
                "tanh" => RnnActivation::Tanh,
                "sigmoid" => RnnActivation::Sigmoid,
                "affine" => RnnActivation::Affine {
                    alpha: alpha(1.0),
                    beta: beta(0.0),
                },
                "leakyrelu" => RnnActivation::LeakyRelu { alpha: alpha(0.01) },
                "thresholdedrelu" => RnnActivation::ThresholdedRelu { alpha: alpha(1.0) },
                "scaledtanh" => RnnActivation::ScaledTanh {
                    alpha: alpha(1.0),
                    beta: beta(1.0),
                },
                "hardsigmoid" => RnnActivation::HardSigmoid {
                    alpha: alpha(0.2),
                    beta: beta(0.5),
                },
                "elu" => RnnActivation::Elu { alpha: alpha(1.0) },
                "softsign" => RnnActivation::Softsign,
                "softplus" => RnnActivation::Softplus,
                _ => return Err(node.bad_value("activations", name)),
            })
        })
        .collect()
}

fn recurrent(node: &OnnxNode, e: &mut Emitter, cell: RnnCell) -> Result<(), Error> {
    let direction = match node.string("direction", "forward")?.as_str() {
        "forward" => RnnDirection::Forward,
        "reverse" => RnnDirection::Reverse,
        "bidirectional" => RnnDirection::Bidirectional,
        other => return Err(node.bad_value("direction", other)),
    };
    let batch_first = match node.int("layout", 0)? {
        0 => false,
        1 => true,
        other => return Err(node.bad_value("layout", other)),
    };
    let attrs = RnnAttrs {
        cell,
        direction,
        hidden_size: node.int_opt("hidden_size")?.map(|h| h.max(0) as usize),
        activations: activations(node, cell, direction.count())?,
        clip: node.float_opt("clip")?,
        batch_first,
    };
    e.pass(Op::Recurrent(attrs));
    Ok(())
}
