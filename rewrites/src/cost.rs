//! What an op costs on a target: the [`CostModel`] trait extraction asks, and the analytic
//! roofline model from a [`TargetDesc`] (FLOPs against peak compute, bytes against memory
//! bandwidth, plus a fixed cost per kernel). A learned model implements the same trait.

use ir::op::BinaryOp;
use ir::shape::{Dim, concrete};
use ir::{Op, TensorType};

/// Extra cost of a division over a multiply, in FLOPs per element.
const DIV_EXTRA: f64 = 4.0;

/// Symbolic dims (batch, sequence) are costed at this size: the decisions rules offer (matrix
/// chain order, factoring a weight) depend on the static dims far more than on this guess.
pub const SYMBOLIC_DIM_GUESS: usize = 32;

/// A cost for one op application, in seconds on the target.
pub trait CostModel {
    fn op_cost(&self, op: &Op, inputs: &[Option<&TensorType>], outputs: &[TensorType]) -> f64;
}

/// A target described by its peak rates.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetDesc {
    pub name: &'static str,
    /// f32 FLOP/s the machine can reach on dense matrix products.
    pub peak_flops: f64,
    /// Bytes/s from main memory.
    pub bandwidth: f64,
    /// Seconds every kernel costs however small (launch, synchronization, loop set-up).
    pub kernel_overhead: f64,
}

impl TargetDesc {
    /// A 2-core AVX-512 machine (the reference CPU): 2 × 16 FLOPs × 2 FMA ports × ~3.3 GHz.
    pub fn cpu() -> TargetDesc {
        TargetDesc {
            name: "cpu",
            peak_flops: 2.0e11,
            bandwidth: 2.0e10,
            kernel_overhead: 2.0e-6,
        }
    }

    /// One NVIDIA H200 (f32 through TF32 tensor cores is not assumed: plain f32 FMA peak).
    pub fn h200() -> TargetDesc {
        TargetDesc {
            name: "cuda",
            peak_flops: 6.7e13,
            bandwidth: 4.8e12,
            kernel_overhead: 4.0e-6,
        }
    }

    /// The description for a target name (`cpu`, `cuda`).
    pub fn named(name: &str) -> Option<TargetDesc> {
        match name {
            "cpu" => Some(TargetDesc::cpu()),
            "cuda" | "h200" | "nvidia-h200" => Some(TargetDesc::h200()),
            _ => None,
        }
    }
}

/// Replaces symbolic dims by [`SYMBOLIC_DIM_GUESS`].
pub fn concretize(ty: &TensorType) -> TensorType {
    TensorType {
        dtype: ty.dtype,
        shape: ty.shape.as_ref().map(|s| {
            s.iter()
                .map(|d| match d {
                    Dim::Static(n) => Dim::Static(*n),
                    Dim::Symbolic(_) => Dim::Static(SYMBOLIC_DIM_GUESS),
                })
                .collect()
        }),
    }
}

/// Bytes of a value of this type (symbolic dims at the guess; unknown shapes count 0).
pub fn bytes_of(ty: &TensorType) -> f64 {
    let t = concretize(ty);
    match t.shape.as_deref().and_then(concrete) {
        Some(s) => ty.dtype.bytes_for(s.iter().product()) as f64,
        None => 0.0,
    }
}

/// FLOPs of one op (symbolic dims at the guess; 0 when a count is unknown).
pub fn flops_of(op: &Op, inputs: &[Option<&TensorType>], outputs: &[TensorType]) -> f64 {
    let ins: Vec<Option<TensorType>> = inputs.iter().map(|t| t.map(concretize)).collect();
    let ins: Vec<Option<&TensorType>> = ins.iter().map(Option::as_ref).collect();
    let outs: Vec<TensorType> = outputs.iter().map(concretize).collect();
    ir::cost::flops(op, &ins, &outs).unwrap_or(0) as f64
}

/// Ops that only relabel the same bytes: free at run time (views in the CPU backend; a
/// split along the last axis is read in place by its consumers).
pub fn is_view(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. }
            | Op::Squeeze
            | Op::Unsqueeze
            | Op::Flatten { .. }
            | Op::Identity
            | Op::Split { .. }
    )
}

/// FLOPs plus one per op: the cost that shows a structured form on instances so small that a
/// roofline would not pay for a second kernel (snapshots of what a rule does).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlopCount;

impl CostModel for FlopCount {
    fn op_cost(&self, op: &Op, inputs: &[Option<&TensorType>], outputs: &[TensorType]) -> f64 {
        flops_of(op, inputs, outputs) + 1.0
    }
}

/// The roofline cost on a target.
#[derive(Clone, Debug)]
pub struct Roofline(pub TargetDesc);

impl CostModel for Roofline {
    fn op_cost(&self, op: &Op, inputs: &[Option<&TensorType>], outputs: &[TensorType]) -> f64 {
        if is_view(op) {
            // Not quite free: among equal plans, fewer relabellings read better.
            return self.0.kernel_overhead * 1e-3;
        }
        let t = &self.0;
        let flops = flops_of(op, inputs, outputs);
        let bytes: f64 = inputs.iter().flatten().map(|t| bytes_of(t)).sum::<f64>()
            + outputs.iter().map(bytes_of).sum::<f64>();
        let mut cost = (flops / t.peak_flops).max(bytes / t.bandwidth) + t.kernel_overhead;
        if matches!(op, Op::Binary(BinaryOp::Div)) {
            // Division issues at a fraction of a multiply's rate: among equal memory-bound
            // elementwise ops, a multiply by the reciprocal is the cheaper.
            cost += flops * DIV_EXTRA / t.peak_flops;
        }
        cost
    }
}
