//! ONNX importers for the softmax family, the normalizations, Dropout and the losses;
//! Attention and RotaryEmbedding are in [`attention`].

mod attention;

use super::Registry;
use crate::dtype::DType;
use crate::error::Error;
use crate::onnx::{Emitter, OnnxNode};
use crate::op::{LossReduction, Op, SoftmaxKind};
use crate::tensor::Tensor;

pub(super) fn register(reg: &mut Registry) {
    reg.insert("Softmax", |n, e| softmax(SoftmaxKind::Softmax, n, e));
    reg.insert("LogSoftmax", |n, e| softmax(SoftmaxKind::LogSoftmax, n, e));
    reg.insert("Hardmax", |n, e| softmax(SoftmaxKind::Hardmax, n, e));
    reg.insert("BatchNormalization", batch_norm);
    reg.insert("InstanceNormalization", instance_norm);
    reg.insert("LayerNormalization", layer_norm);
    reg.insert("GroupNormalization", group_norm);
    reg.insert("RMSNormalization", rms_norm);
    reg.insert("LpNormalization", lp_norm);
    reg.insert("MeanVarianceNormalization", mean_variance_norm);
    reg.insert("Dropout", dropout);
    reg.insert("NegativeLogLikelihoodLoss", nll_loss);
    reg.insert("SoftmaxCrossEntropyLoss", softmax_cross_entropy);
    attention::register(reg);
}

const DEFAULT_EPSILON: f32 = 1e-5;

/// Before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on the op works
/// along one axis (default -1).
fn softmax(kind: SoftmaxKind, n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let coerce_2d = n.opset < 13;
    let axis = n.int("axis", if coerce_2d { 1 } else { -1 })?;
    e.pass(Op::Softmax {
        kind,
        axis,
        coerce_2d,
    });
    Ok(())
}

/// Inference mode only. `is_test`, `spatial` (per-activation parameters are recognised by their
/// shape), `momentum` and `consumed_inputs` do not change inference.
fn batch_norm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let epsilon = n.float("epsilon", DEFAULT_EPSILON)?;
    if n.opset >= 14 && n.bool("training_mode", false)? {
        return Err(n.attr_error("training_mode", "training mode is not supported"));
    }
    if e.n_outputs() > 1 {
        return Err(n.error(
            "training mode is not supported: outputs beyond Y (running or saved statistics) exist only in training mode",
        ));
    }
    e.pass(Op::BatchNormalization { epsilon });
    Ok(())
}

fn instance_norm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let epsilon = n.float("epsilon", DEFAULT_EPSILON)?;
    e.pass(Op::InstanceNormalization { epsilon });
    Ok(())
}

fn layer_norm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let op = Op::LayerNormalization {
        axis: n.int("axis", -1)?,
        epsilon: n.float("epsilon", DEFAULT_EPSILON)?,
        stash_type: stash_type(n)?,
    };
    if e.n_outputs() > 3 {
        return Err(n.error(format!("has {} outputs, at most 3 exist", e.n_outputs())));
    }
    e.pass(op);
    Ok(())
}

/// Opset 18 had one scale and bias per group; the op takes them per channel. Normalizing
/// `x` reshaped to `[N, num_groups, -1]` with `num_groups` groups of one channel each is the
/// same computation with per-group parameters, so old nodes become Reshape, GroupNormalization,
/// Reshape back.
fn group_norm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let num_groups = match n.int_opt("num_groups")? {
        None => return Err(n.attr_error("num_groups", "is required")),
        Some(g) if g <= 0 => {
            return Err(n.attr_error("num_groups", format!("must be positive, got {g}")));
        }
        Some(g) => g as usize,
    };
    let epsilon = n.float("epsilon", DEFAULT_EPSILON)?;
    if n.opset >= 21 {
        e.pass(Op::GroupNormalization {
            num_groups,
            epsilon,
            stash_type: stash_type(n)?,
        });
        return Ok(());
    }
    let grouped_shape = e.constant(tensor_i64(vec![0, num_groups as i64, -1]));
    let x = e.input(0);
    let grouped = e.node(
        Op::Reshape { allowzero: false },
        vec![x, Some(grouped_shape)],
        1,
    )[0];
    // Opset 18 has no stash type: statistics at full precision.
    let op = Op::GroupNormalization {
        num_groups,
        epsilon,
        stash_type: DType::F64,
    };
    let normalized = e.node(op, vec![Some(grouped), e.input(1), e.input(2)], 1)[0];
    let x_shape = e.node(
        Op::Shape {
            start: 0,
            end: None,
        },
        vec![x],
        1,
    )[0];
    e.finish(
        Op::Reshape { allowzero: false },
        vec![Some(normalized), Some(x_shape)],
    );
    Ok(())
}

fn rms_norm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::RmsNormalization {
        axis: n.int("axis", -1)?,
        epsilon: n.float("epsilon", DEFAULT_EPSILON)?,
        stash_type: stash_type(n)?,
    });
    Ok(())
}

fn lp_norm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let p = n.int("p", 2)?;
    if p != 1 && p != 2 {
        return Err(n.attr_error("p", format!("must be 1 or 2, got {p}")));
    }
    e.pass(Op::LpNormalization {
        axis: n.int("axis", -1)?,
        p,
    });
    Ok(())
}

fn mean_variance_norm(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let axes = n.ints("axes")?.unwrap_or_else(|| vec![0, 2, 3]);
    e.pass(Op::MeanVarianceNormalization { axes });
    Ok(())
}

/// Inference mode: before opset 12 `ratio` is an attribute (made a constant input) and there is
/// no training switch (`is_test` of opsets < 7 is ignored, as inference ignores it); from 12 on
/// a constant `training_mode` of true with a constant non-zero ratio is refused here, other
/// training switches at run time. The mask is bool from opset 10, of the input's dtype before.
fn dropout(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    let float_mask = n.opset < 10;
    if e.n_outputs() > 2 {
        return Err(n.error(format!("has {} outputs, at most 2 exist", e.n_outputs())));
    }
    if n.opset < 12 {
        let ratio = n.float("ratio", 0.5)?;
        let ratio = e.constant(Tensor::scalar_f32(ratio));
        e.finish(Op::Dropout { float_mask }, vec![e.input(0), Some(ratio)]);
        return Ok(());
    }
    let constant = |i: usize| {
        e.input(i)
            .and_then(|v| e.constant_of(v))
            .map(|t| t.to_f64_vec())
    };
    let training = constant(2).is_some_and(|t| t.first().is_some_and(|&b| b != 0.0));
    let ratio = match e.input(1) {
        None => Some(0.5),
        Some(_) => constant(1).and_then(|r| r.first().copied()),
    };
    if training && ratio.is_some_and(|r| r != 0.0) {
        return Err(n.error(
            "training mode is not supported (training_mode is true with a non-zero ratio)",
        ));
    }
    e.pass(Op::Dropout { float_mask });
    Ok(())
}

fn nll_loss(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    e.pass(Op::NegativeLogLikelihoodLoss {
        ignore_index: n.int_opt("ignore_index")?,
        reduction: reduction(n)?,
    });
    Ok(())
}

fn softmax_cross_entropy(n: &OnnxNode, e: &mut Emitter) -> Result<(), Error> {
    if e.n_outputs() > 2 {
        return Err(n.error(format!("has {} outputs, at most 2 exist", e.n_outputs())));
    }
    e.pass(Op::SoftmaxCrossEntropyLoss {
        ignore_index: n.int_opt("ignore_index")?,
        reduction: reduction(n)?,
    });
    Ok(())
}

fn reduction(n: &OnnxNode) -> Result<LossReduction, Error> {
    match n.string("reduction", "mean")?.as_str() {
        "none" => Ok(LossReduction::None),
        "sum" => Ok(LossReduction::Sum),
        "mean" => Ok(LossReduction::Mean),
        other => Err(n.bad_value("reduction", other)),
    }
}

/// The `stash_type` attribute (default float), which must name a float type.
fn stash_type(n: &OnnxNode) -> Result<DType, Error> {
    let t = n.dtype_opt("stash_type")?.unwrap_or(DType::F32);
    if !matches!(t, DType::F32 | DType::F64 | DType::F16 | DType::BF16) {
        return Err(n.attr_error("stash_type", format!("must be a float type, got {t}")));
    }
    Ok(t)
}

fn tensor_i64(v: Vec<i64>) -> Tensor {
    let n = v.len();
    Tensor::from_i64(vec![n], v).expect("a vector's shape fits its data")
}
