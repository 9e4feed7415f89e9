//! Shape and dtype inference.
//!
//! Each op has a rule that maps its input types (and, where known at compile time, input
//! values) to output types. A rule returns an error only for a definite contradiction (shapes
//! that cannot broadcast, an axis out of range); what it cannot know (a data-dependent size, an
//! unknown rank) becomes a fresh symbolic dim or an unknown shape.
//!
//! [`infer_graph`] walks the graph in order and also folds small all-constant subgraphs (shape
//! arithmetic such as `Shape -> Gather -> Concat -> Reshape`) through the interpreter, so
//! downstream rules see their values.
//!
//! Invariant: `infer` matches every `Op` variant explicitly.

mod bits;
mod cache;
mod control;
mod conv;
mod detection;
mod determinant;
mod elementwise;
mod gated;
mod index;
mod layout;
mod linalg;
mod norm;
mod quant;
mod recurrent;
mod reduce;
mod resize;
mod sampling;
mod set;
mod signal;
mod stateful;

use crate::error::{Error, OpError};
use crate::graph::{Graph, Source};
use crate::interp;
use crate::op::Op;
use crate::shape::{Dim, TensorType, concrete};
use crate::tensor::Tensor;
pub(crate) use control::{loop_counter_type, scan_axis, scan_body_inputs, typed_body};
use std::sync::Arc;

/// What inference knows of one input: its type and, if known at compile time, its value.
#[derive(Clone, Copy, Debug)]
pub struct Known<'a> {
    pub ty: &'a TensorType,
    pub value: Option<&'a Tensor>,
}

/// Results of all-constant subgraphs at most this many elements are computed during inference.
const FOLD_LIMIT: usize = 1 << 16;

/// Infers the output types of one op.
pub fn infer(
    op: &Op,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    match op {
        Op::Unary(u) => elementwise::unary(*u, inputs),
        Op::Binary(b) => elementwise::binary(*b, inputs),
        Op::Where => elementwise::where_(inputs),
        Op::Clip => elementwise::clip(inputs),
        Op::Cast { to, saturate } => elementwise::cast(*to, *saturate, inputs),
        Op::CastLike { saturate } => elementwise::cast_like(*saturate, inputs),
        Op::MatMul => linalg::matmul(inputs),
        Op::Gemm(a) => linalg::gemm(a, inputs),
        Op::Einsum { equation } => linalg::einsum(equation, inputs),
        Op::MatMulInteger => linalg::matmul_integer(inputs),
        Op::QLinearMatMul => linalg::qlinear_matmul(inputs),
        Op::Conv(a) => conv::conv(a, inputs),
        Op::ConvTranspose(a) => conv::conv_transpose(a, inputs),
        Op::ConvInteger(a) => conv::conv_integer(a, inputs),
        Op::MaxPool {
            pool,
            storage_order,
        } => conv::max_pool(pool, *storage_order, inputs, n_outputs),
        Op::AveragePool {
            pool,
            count_include_pad,
        } => conv::average_pool(pool, *count_include_pad, inputs),
        Op::LpPool { pool, p } => conv::lp_pool(pool, *p, inputs),
        Op::GlobalAveragePool => conv::global_average_pool(inputs),
        Op::GlobalMaxPool => conv::global_max_pool(inputs),
        Op::GlobalLpPool { p } => conv::global_lp_pool(*p, inputs),
        Op::Lrn {
            alpha,
            beta,
            bias,
            size,
        } => conv::lrn(*alpha, *beta, *bias, *size, inputs),
        Op::Softmax {
            kind,
            axis,
            coerce_2d,
        } => norm::softmax(*kind, *axis, *coerce_2d, inputs),
        Op::BatchNormalization { epsilon } => norm::batch_norm(*epsilon, inputs),
        Op::InstanceNormalization { epsilon } => norm::instance_norm(*epsilon, inputs),
        Op::LayerNormalization {
            axis,
            epsilon,
            stash_type,
        } => norm::layer_norm(*axis, *epsilon, *stash_type, inputs, n_outputs),
        Op::GroupNormalization {
            num_groups,
            epsilon,
            stash_type,
        } => norm::group_norm(*num_groups, *epsilon, *stash_type, inputs),
        Op::RmsNormalization {
            axis,
            epsilon,
            stash_type,
        } => norm::rms_norm(*axis, *epsilon, *stash_type, inputs),
        Op::LpNormalization { axis, p } => norm::lp_norm(*axis, *p, inputs),
        Op::MeanVarianceNormalization { axes } => norm::mean_variance_norm(axes, inputs),
        Op::Attention(a) => norm::attention(a, inputs, n_outputs),
        Op::RotaryEmbedding {
            interleaved,
            num_heads,
            rotary_embedding_dim,
        } => norm::rotary_embedding(*interleaved, *num_heads, *rotary_embedding_dim, inputs),
        Op::Dropout { float_mask } => norm::dropout(*float_mask, inputs, n_outputs),
        Op::NegativeLogLikelihoodLoss {
            ignore_index,
            reduction,
        } => norm::nll_loss(*ignore_index, *reduction, inputs),
        Op::SoftmaxCrossEntropyLoss {
            ignore_index,
            reduction,
        } => norm::softmax_cross_entropy(*ignore_index, *reduction, inputs, n_outputs),
        Op::Reduce {
            kind,
            keepdims,
            noop_with_empty_axes,
        } => reduce::reduce(*kind, *keepdims, *noop_with_empty_axes, inputs),
        Op::ArgReduce {
            kind,
            axis,
            keepdims,
            select_last_index,
        } => reduce::arg_reduce(*kind, *axis, *keepdims, *select_last_index, inputs),
        Op::TopK {
            axis,
            largest,
            sorted,
        } => reduce::top_k(*axis, *largest, *sorted, inputs),
        Op::CumSum { exclusive, reverse } => reduce::cum_sum(*exclusive, *reverse, inputs),
        Op::CumProd { exclusive, reverse } => reduce::cum_prod(*exclusive, *reverse, inputs),
        Op::Reshape { allowzero } => layout::reshape(*allowzero, inputs),
        Op::Transpose { perm } => layout::transpose(perm.as_deref(), inputs),
        Op::Squeeze => layout::squeeze(inputs),
        Op::Unsqueeze => layout::unsqueeze(inputs),
        Op::Flatten { axis } => layout::flatten(*axis, inputs),
        Op::Concat { axis } => layout::concat(*axis, inputs),
        Op::Split { axis, num_outputs } => layout::split(*axis, *num_outputs, inputs, n_outputs),
        Op::Slice => layout::slice(inputs),
        Op::Expand => layout::expand(inputs),
        Op::Tile => layout::tile(inputs),
        Op::Pad { mode } => layout::pad(*mode, inputs),
        Op::Shape { start, end } => layout::shape(*start, *end, inputs),
        Op::Size => layout::size(inputs),
        Op::ConstantOfShape { value } => layout::constant_of_shape(value, inputs),
        Op::Range => layout::range(inputs),
        Op::Identity => layout::identity(inputs),
        Op::Trilu { upper } => layout::trilu(*upper, inputs),
        Op::DepthToSpace { blocksize, mode } => layout::depth_to_space(*blocksize, *mode, inputs),
        Op::SpaceToDepth { blocksize, mode } => layout::space_to_depth(*blocksize, *mode, inputs),
        Op::EyeLike { dtype, k } => layout::eye_like(*dtype, *k, inputs),
        Op::Gather { axis } => index::gather(*axis, inputs),
        Op::GatherElements { axis } => index::gather_elements(*axis, inputs),
        Op::GatherNd { batch_dims } => index::gather_nd(*batch_dims, inputs),
        Op::ScatterElements { axis, reduction } => {
            index::scatter_elements(*axis, *reduction, inputs)
        }
        Op::ScatterNd { reduction } => index::scatter_nd(*reduction, inputs),
        Op::OneHot { axis } => index::one_hot(*axis, inputs),
        Op::NonZero => index::non_zero(inputs),
        Op::Resize(a) => resize::resize(a, inputs),
        Op::Compress { axis } => index::compress(*axis, inputs),
        Op::ReverseSequence {
            batch_axis,
            time_axis,
        } => index::reverse_sequence(*batch_axis, *time_axis, inputs),
        Op::GridSample { .. } => sampling::grid_sample(inputs),
        Op::AffineGrid { .. } => sampling::affine_grid(inputs),
        Op::CenterCropPad { axes } => sampling::center_crop_pad(axes.as_deref(), inputs),
        Op::RoiAlign(a) => sampling::roi_align(a, inputs),
        Op::MaxUnpool {
            kernel_shape,
            pads,
            strides,
        } => sampling::max_unpool(kernel_shape, pads, strides, inputs),
        Op::Col2Im {
            dilations,
            pads,
            strides,
        } => sampling::col2im(dilations, pads, strides, inputs),
        Op::DeformConv(a) => sampling::deform_conv(a, inputs),
        Op::QuantizeLinear(a) => quant::quantize_linear(a, inputs),
        Op::DequantizeLinear(a) => quant::dequantize_linear(a, inputs),
        Op::DynamicQuantizeLinear => quant::dynamic_quantize_linear(inputs),
        Op::Recurrent(a) => recurrent::recurrent(a, inputs, n_outputs),
        Op::Window { dtype, .. } => signal::window(*dtype, inputs),
        Op::Dft { inverse, onesided } => signal::dft(*inverse, *onesided, inputs),
        Op::Stft { onesided } => signal::stft(*onesided, inputs),
        Op::MelWeightMatrix { dtype } => signal::mel_weight_matrix(*dtype, inputs),
        Op::NonMaxSuppression { .. } => detection::non_max_suppression(inputs),
        Op::BitCast { to } => bits::bit_cast(*to, inputs),
        Op::Unique { axis, .. } => set::unique(*axis, inputs, n_outputs),
        Op::SwiGlu { .. } => gated::swiglu(inputs),
        Op::TensorScatter { .. } => cache::tensor_scatter(inputs),
        Op::Det => determinant::det(inputs),
        Op::LinearAttention(a) => stateful::linear_attention(a, inputs),
        Op::If {
            then_branch,
            else_branch,
        } => control::if_(then_branch, else_branch, inputs, n_outputs),
        Op::Scan(a) => control::scan(a, inputs, n_outputs),
        Op::Loop { body, carried } => control::loop_(body, *carried, inputs, n_outputs),
        Op::CausalConvWithState { .. } => stateful::causal_conv_with_state(inputs),
    }
}

/// Assigns a type to every value of `graph`. Graph inputs and constants must already have one.
pub fn infer_graph(graph: &mut Graph) -> Result<(), Error> {
    infer_graph_values(graph).map(|_| ())
}

/// [`infer_graph`], also returning, per value, its value where known at compile time: constants
/// and the results of folded constant subgraphs (such as shape arithmetic once input shapes are
/// static).
pub fn infer_graph_values(graph: &mut Graph) -> Result<Vec<Option<Arc<Tensor>>>, Error> {
    let mut known: Vec<Option<Arc<Tensor>>> = graph
        .values
        .iter()
        .map(|v| match &v.source {
            Source::Constant(t) => Some(t.clone()),
            Source::Input | Source::Node { .. } => None,
        })
        .collect();
    for n in 0..graph.nodes.len() {
        let node = &graph.nodes[n];
        let mut tys = Vec::with_capacity(node.inputs.len());
        for v in &node.inputs {
            tys.push(match v {
                Some(v) => Some(graph.value(*v).ty.clone().ok_or_else(|| {
                    Error::Model(format!(
                        "node '{}' reads '{}', whose type is unknown",
                        node.name,
                        graph.value_label(*v)
                    ))
                })?),
                None => None,
            });
        }
        let ins: Vec<Option<Known>> = node
            .inputs
            .iter()
            .zip(&tys)
            .map(|(v, ty)| {
                Some(Known {
                    ty: ty.as_ref()?,
                    value: known[v.as_ref()?.index()].as_deref(),
                })
            })
            .collect();
        let ctx = |e: OpError| Error::node(&node.name, node.op.name(), e);
        let mut out = infer(&node.op, &ins, node.outputs.len()).map_err(ctx)?;
        if out.len() != node.outputs.len() {
            return Err(ctx(OpError::new(format!(
                "shape rule gave {} outputs, node has {}",
                out.len(),
                node.outputs.len()
            ))));
        }
        for ty in &out {
            check_fits_in_memory(ty).map_err(ctx)?;
        }
        let mut values: Vec<Option<Arc<Tensor>>> = vec![None; out.len()];
        if let Some(folded) = fold(&node.op, &ins, &out).map_err(ctx)? {
            for (k, t) in folded.into_iter().enumerate() {
                out[k] = TensorType::new(t.dtype(), crate::shape::static_shape(t.shape()));
                values[k] = Some(Arc::new(t));
            }
        } else if let (Op::Shape { start, end }, Some(Some(x))) = (&node.op, ins.first())
            && let Some(dims) = x.ty.shape.as_deref().and_then(concrete)
        {
            // The shape of a statically shaped value is known even though the value is not.
            let (s, e) = shape_range(dims.len(), *start, *end);
            let v: Vec<i64> = dims[s..e].iter().map(|&d| d as i64).collect();
            values[0] = Some(Arc::new(Tensor::from_i64(vec![v.len()], v).map_err(ctx)?));
        }
        let outputs = node.outputs.clone();
        for ((o, ty), v) in outputs.into_iter().zip(out).zip(values) {
            graph.value_mut(o).ty = Some(ty);
            known[o.index()] = v;
        }
    }
    Ok(known)
}

/// The largest tensor a graph may produce: more cannot be allocated on any machine tenfold
/// targets, and asking the allocator for it would abort the process instead of failing.
pub const MAX_TENSOR_BYTES: u128 = 1 << 40;

/// Rejects a statically known output larger than [`MAX_TENSOR_BYTES`].
fn check_fits_in_memory(ty: &TensorType) -> Result<(), OpError> {
    let Some(dims) = ty.shape.as_deref().and_then(concrete) else {
        return Ok(());
    };
    let elems = dims
        .iter()
        .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128));
    let bytes = elems.map(|n| n * ty.dtype.bits() as u128 / 8);
    match bytes {
        Some(b) if b <= MAX_TENSOR_BYTES => Ok(()),
        _ => Err(OpError::new(format!(
            "output {ty} would need {} bytes, more than the {} bytes a tensor may hold",
            bytes.map_or_else(|| "over 2^128".to_string(), |b| b.to_string()),
            MAX_TENSOR_BYTES
        ))),
    }
}

/// Evaluates a node whose inputs are all known, if its outputs are small and static.
pub fn fold(
    op: &Op,
    ins: &[Option<Known>],
    out: &[TensorType],
) -> Result<Option<Vec<Tensor>>, OpError> {
    if ins.iter().flatten().any(|k| k.value.is_none()) {
        return Ok(None);
    }
    let small = out.iter().all(|t| {
        t.shape
            .as_deref()
            .and_then(concrete)
            .is_some_and(|s| s.iter().product::<usize>() <= FOLD_LIMIT)
    });
    let data_dependent = out.iter().any(|t| {
        t.shape
            .as_ref()
            .is_some_and(|s| s.iter().any(|d| matches!(d, Dim::Symbolic(_))))
    });
    if !small && !data_dependent {
        return Ok(None);
    }
    let values: Vec<Option<&Tensor>> = ins.iter().map(|k| k.and_then(|k| k.value)).collect();
    let res = interp::eval(op, &values, out.len())?;
    if res.iter().any(|t| t.len() > FOLD_LIMIT) {
        return Ok(None);
    }
    Ok(Some(res))
}

/// The `[start, end)` range of dims that `Shape` returns for a rank, with ONNX's clamping.
pub fn shape_range(rank: usize, start: i64, end: Option<i64>) -> (usize, usize) {
    let r = rank as i64;
    let clamp = |x: i64| (if x < 0 { x + r } else { x }).clamp(0, r) as usize;
    let s = clamp(start);
    let e = end.map_or(rank, clamp);
    (s, e.max(s))
}

/// A fresh symbolic dim for a size only known at run time, unique within one inference run.
pub fn fresh_dim(hint: &str) -> Dim {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    Dim::Symbolic(format!("{hint}_{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// The known type of input `i`, or an error naming the missing input.
pub fn req<'a>(inputs: &[Option<Known<'a>>], i: usize) -> Result<Known<'a>, OpError> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| OpError::new(format!("required input {i} is missing")))
}

/// The known type of optional input `i`, if given.
pub fn opt<'a>(inputs: &[Option<Known<'a>>], i: usize) -> Option<Known<'a>> {
    inputs.get(i).copied().flatten()
}
