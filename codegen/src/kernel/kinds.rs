//! The kinds of kernel: pointwise loop nests and the anchored kinds with fused pro- and epilogues.

use crate::kernel::access::IndexCheck;
use crate::kernel::body::{Body, InstId};
use crate::kernel::buffer::BufferId;
use crate::kernel::schedule::Schedule;
use serde::{Deserialize, Serialize};

/// One unit of work: a fused group of graph nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kernel {
    /// A short name for `--plan` and messages (the first fused node's op and name).
    pub name: String,
    /// The graph nodes this kernel computes, in graph order.
    pub nodes: Vec<String>,
    /// The buffers it reads and writes; accesses and stores refer to positions in this list.
    pub args: Vec<BufferId>,
    pub kind: KernelKind,
    pub schedule: Schedule,
    /// Index buffers the runtime bounds-checks before running it.
    pub index_checks: Vec<IndexCheck>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KernelKind {
    Pointwise(PointwiseKernel),
    Row(RowKernel),
    Reduce(ReduceKernel),
    Gemm(GemmKernel),
    Conv(ConvKernel),
    Interp(InterpKernel),
}

impl KernelKind {
    /// "pointwise", "row", "reduce", "gemm", "conv" or "interp".
    pub fn label(&self) -> &'static str {
        match self {
            KernelKind::Pointwise(_) => "pointwise",
            KernelKind::Row(_) => "row",
            KernelKind::Reduce(_) => "reduce",
            KernelKind::Gemm(_) => "gemm",
            KernelKind::Conv(_) => "conv",
            KernelKind::Interp(_) => "interp",
        }
    }
}

/// `body` at every point of `shape`; its stores write dense outputs of that shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointwiseKernel {
    pub shape: Vec<usize>,
    pub body: Body,
}

/// The normalization a row kernel applies along its last dim.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum RowOp {
    /// e^(x - max) / Σ e^(x - max).
    Softmax,
    /// x - max - ln Σ e^(x - max).
    LogSoftmax,
    /// (x - mean) / sqrt(var + epsilon), var the biased variance. Scale and bias are epilogue
    /// loads.
    LayerNorm { epsilon: f32 },
    /// x / sqrt(mean(x²) + epsilon).
    RmsNorm { epsilon: f32 },
}

/// A normalization along the last dim of `shape` (the row), with fused pointwise code before
/// (`prologue`, evaluated at every point of `shape`, giving `x`; it may also store, for example
/// a residual sum that later nodes read) and after (`epilogue`, whose `Anchor` is the normalized
/// element and whose stores write the outputs, dense over `shape`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowKernel {
    pub shape: Vec<usize>,
    pub prologue: Body,
    pub x: InstId,
    pub op: RowOp,
    pub epilogue: Body,
}

/// The combining function of a reduction. Means, norms and log-sums are a sum with pointwise
/// code in the prologue and epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReduceFn {
    Sum,
    Prod,
    Max,
    Min,
}

/// Reduces `prologue`'s `x` over the dims of `shape` marked in `reduced`. The epilogue runs over
/// the kept dims (`shape` without the reduced ones), with `Anchor` the reduced value; its
/// accesses and `Index` refer to that smaller space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReduceKernel {
    pub shape: Vec<usize>,
    pub reduced: Vec<bool>,
    pub op: ReduceFn,
    pub prologue: Body,
    pub x: InstId,
    pub epilogue: Body,
}

impl ReduceKernel {
    /// The epilogue's iteration space.
    pub fn kept_shape(&self) -> Vec<usize> {
        self.shape
            .iter()
            .zip(&self.reduced)
            .filter(|(_, r)| !**r)
            .map(|(&n, _)| n)
            .collect()
    }
}

/// An f32 matrix operand of a contraction, addressed by strides (so a transposed or sliced
/// view is read in place).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GemmOperand {
    pub arg: usize,
    pub offset: i64,
    /// One stride per batch dim of the kernel (0 broadcasts).
    pub batch_strides: Vec<i64>,
    pub row_stride: i64,
    pub col_stride: i64,
}

/// `acc[b.., i, j] = alpha · Σ_p a[b.., i, p] · b[b.., p, j]` over f32, then `epilogue` over
/// `batch ++ [m, n]` with `Anchor` = acc (bias, activation, residual add, scale fuse here).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GemmKernel {
    pub batch: Vec<usize>,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: GemmOperand,
    pub b: GemmOperand,
    pub alpha: f32,
    pub epilogue: Body,
}

/// An f32 N-d convolution (NCHW layout, weights `[C_out, C_in / group, k..]`), then
/// `epilogue` over the output `[N, C_out, out..]` with `Anchor` the convolution sum (bias is an
/// epilogue load).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvKernel {
    pub input: usize,
    pub weight: usize,
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
    pub in_spatial: Vec<usize>,
    pub kernel: Vec<usize>,
    pub out_spatial: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    /// Padding before each spatial dim (padding after is implied by `out_spatial`).
    pub pads_begin: Vec<usize>,
    pub epilogue: Body,
}

/// A node the backends do not compile: run by `ir::interp` on tensors copied from and to the
/// buffers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterpKernel {
    pub op: ir::Op,
    /// Per op input: the arg that holds it, `None` for an omitted optional input.
    pub inputs: Vec<Option<usize>>,
    /// Per op output: the arg it is written to, `None` if nothing reads it.
    pub outputs: Vec<Option<usize>>,
}
