//! The reference interpreter: the semantics of every op, and the oracle every other executor is
//! checked against.
//!
//! Kernels favour clarity over speed, with two exceptions kept simple enough to audit: f32
//! MatMul/Gemm/Conv use a cache-friendly loop order, because the conformance suite runs real
//! CNNs through this code. Floating-point elementwise math is done in f64 and rounded once to
//! the output dtype; integer math in i128, wrapped to the output width.
//!
//! Invariant: `eval` matches every `Op` variant explicitly.

mod bits;
mod cache;
mod control;
pub mod conv;
mod detection;
mod determinant;
mod elementwise;
mod gated;
mod index;
pub mod layout;
pub(crate) mod linalg;
mod norm;
pub(crate) mod quant;
mod recurrent;
mod reduce;
pub(crate) mod resize;
pub(crate) mod sampling;
mod set;
pub(crate) mod signal;
mod stateful;
pub mod util;

use crate::error::{Error, OpError};
use crate::graph::{Graph, Source};
use crate::op::Op;
use crate::shape::Dim;
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::sync::Arc;

/// Evaluates one op on concrete inputs (`None` for omitted optional inputs), producing
/// `n_outputs` outputs.
pub fn eval(op: &Op, inputs: &[Option<&Tensor>], n_outputs: usize) -> Result<Vec<Tensor>, OpError> {
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
        Op::GridSample {
            mode,
            padding,
            align_corners,
        } => sampling::grid_sample(*mode, *padding, *align_corners, inputs),
        Op::AffineGrid { align_corners } => sampling::affine_grid(*align_corners, inputs),
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
        Op::Window {
            kind,
            periodic,
            dtype,
        } => signal::window(*kind, *periodic, *dtype, inputs),
        Op::Dft { inverse, onesided } => signal::dft_op(*inverse, *onesided, inputs),
        Op::Stft { onesided } => signal::stft(*onesided, inputs),
        Op::MelWeightMatrix { dtype } => signal::mel_weight_matrix(*dtype, inputs),
        Op::NonMaxSuppression { center_point_box } => {
            detection::non_max_suppression(*center_point_box, inputs)
        }
        Op::BitCast { to } => bits::bit_cast(*to, inputs),
        Op::Unique { axis, sorted } => set::unique(*axis, *sorted, inputs, n_outputs),
        Op::SwiGlu { alpha } => gated::swiglu(*alpha, inputs),
        Op::TensorScatter { axis, circular } => cache::tensor_scatter(*axis, *circular, inputs),
        Op::Det => determinant::det(inputs),
        Op::LinearAttention(a) => stateful::linear_attention(a, inputs),
        Op::If {
            then_branch,
            else_branch,
        } => control::if_(then_branch, else_branch, inputs),
        Op::Scan(a) => control::scan(a, inputs),
        Op::Loop { body, carried } => control::loop_(body, *carried, inputs),
        Op::CausalConvWithState { silu } => stateful::causal_conv_with_state(*silu, inputs),
    }
}

/// Runs a graph on named feeds.
///
/// Every graph input must be fed, with its declared dtype and rank; static dims must match and
/// each symbolic dim must take one size across all inputs. Intermediate tensors are dropped
/// after their last use.
pub fn run(graph: &Graph, feeds: &HashMap<String, Tensor>) -> Result<Vec<(String, Tensor)>, Error> {
    run_with_stats(graph, feeds).map(|(outputs, _)| outputs)
}

/// What a run cost in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// The most bytes held at once by graph inputs and intermediate tensors (constants excluded).
    pub peak_bytes: usize,
}

/// [`run`], also reporting [`RunStats`].
pub fn run_with_stats(
    graph: &Graph,
    feeds: &HashMap<String, Tensor>,
) -> Result<(Vec<(String, Tensor)>, RunStats), Error> {
    let bound = bind_feeds(graph, feeds)?
        .into_iter()
        .map(|t| Arc::new(t.clone()))
        .collect();
    run_inputs(graph, bound)
}

/// Runs `graph` with `inputs` bound to its inputs in order (unchecked against their declared
/// types: the caller has bound them).
pub(crate) fn run_inputs(
    graph: &Graph,
    inputs: Vec<Arc<Tensor>>,
) -> Result<(Vec<(String, Tensor)>, RunStats), Error> {
    let bytes_of = |t: &Tensor| t.dtype().bytes_for(t.len());
    let mut live_bytes = 0usize;
    let mut stats = RunStats::default();
    let mut env: Vec<Option<Arc<Tensor>>> = vec![None; graph.values.len()];
    for (&input, t) in graph.inputs.iter().zip(inputs) {
        live_bytes += bytes_of(&t);
        env[input.index()] = Some(t);
    }
    stats.peak_bytes = live_bytes;
    for (i, v) in graph.values.iter().enumerate() {
        if let Source::Constant(t) = &v.source {
            env[i] = Some(t.clone());
        }
    }
    let last_use = last_uses(graph);
    for (n, node) in graph.nodes.iter().enumerate() {
        let args: Vec<Option<Arc<Tensor>>> = node
            .inputs
            .iter()
            .map(|i| i.and_then(|v| env[v.index()].clone()))
            .collect();
        let refs: Vec<Option<&Tensor>> = args.iter().map(|a| a.as_deref()).collect();
        let outs = eval(&node.op, &refs, node.outputs.len())
            .map_err(|e| Error::node(&node.name, node.op.name(), e))?;
        if outs.len() != node.outputs.len() {
            return Err(Error::node(
                &node.name,
                node.op.name(),
                OpError::new(format!(
                    "kernel produced {} outputs, node has {}",
                    outs.len(),
                    node.outputs.len()
                )),
            ));
        }
        drop(args);
        for (&o, t) in node.outputs.iter().zip(outs) {
            live_bytes += bytes_of(&t);
            env[o.index()] = Some(Arc::new(t));
        }
        stats.peak_bytes = stats.peak_bytes.max(live_bytes);
        for v in node.inputs.iter().flatten() {
            if last_use[v.index()] == Some(n) && !is_constant(graph, *v) {
                if let Some(t) = env[v.index()].take() {
                    live_bytes -= bytes_of(&t);
                }
            } else if last_use[v.index()] == Some(n) {
                env[v.index()] = None;
            }
        }
    }
    let outputs = graph
        .outputs
        .iter()
        .map(|&o| {
            let t = env[o.index()].as_ref().ok_or_else(|| {
                Error::Model(format!(
                    "output '{}' was not computed",
                    graph.value_label(o)
                ))
            })?;
            Ok((graph.value(o).name.clone(), (**t).clone()))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((outputs, stats))
}

/// The feed of each graph input, in the graph's input order, checked against the declared
/// dtype and shape (each symbolic dim taking one size across all inputs).
pub fn bind_feeds<'a>(
    graph: &Graph,
    feeds: &'a HashMap<String, Tensor>,
) -> Result<Vec<&'a Tensor>, Error> {
    let mut bound: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(graph.inputs.len());
    for &input in &graph.inputs {
        let value = graph.value(input);
        let t = feeds.get(&value.name).ok_or_else(|| Error::Input {
            name: value.name.clone(),
            msg: "no tensor was given for this graph input".into(),
        })?;
        if let Some(ty) = &value.ty {
            check_feed(&value.name, ty, t, &mut bound)?;
        }
        out.push(t);
    }
    Ok(out)
}

fn is_constant(graph: &Graph, v: crate::graph::ValueId) -> bool {
    matches!(graph.value(v).source, Source::Constant(_))
}

/// For each value, the last node reading it, unless it is a graph output (kept to the end).
fn last_uses(graph: &Graph) -> Vec<Option<usize>> {
    let mut last = vec![None; graph.values.len()];
    for (n, node) in graph.nodes.iter().enumerate() {
        for v in node.inputs.iter().flatten() {
            last[v.index()] = Some(n);
        }
    }
    for o in &graph.outputs {
        last[o.index()] = None;
    }
    last
}

fn check_feed(
    name: &str,
    ty: &crate::shape::TensorType,
    t: &Tensor,
    bound: &mut HashMap<String, usize>,
) -> Result<(), Error> {
    let err = |msg: String| Error::Input {
        name: name.to_string(),
        msg,
    };
    if t.dtype() != ty.dtype {
        return Err(err(format!(
            "expected dtype {}, got {}",
            ty.dtype,
            t.dtype()
        )));
    }
    let Some(shape) = &ty.shape else {
        return Ok(());
    };
    if shape.len() != t.rank() {
        return Err(err(format!(
            "expected shape {} (rank {}), got {}",
            crate::shape::display_shape(shape),
            shape.len(),
            concrete_text(t.shape())
        )));
    }
    for (i, (d, &n)) in shape.iter().zip(t.shape()).enumerate() {
        match d {
            Dim::Static(s) if *s != n => {
                return Err(err(format!(
                    "expected shape {}, got {} (dim {i} is {n}, must be {s})",
                    crate::shape::display_shape(shape),
                    concrete_text(t.shape())
                )));
            }
            Dim::Symbolic(sym) => {
                let prev = *bound.entry(sym.clone()).or_insert(n);
                if prev != n {
                    return Err(err(format!(
                        "dim {i} ('{sym}') is {n}, but another input set '{sym}' to {prev}"
                    )));
                }
            }
            Dim::Static(_) => {}
        }
    }
    Ok(())
}

fn concrete_text(dims: &[usize]) -> String {
    crate::shape::display_shape(&crate::shape::static_shape(dims))
}

/// The value feeding input `i`, or an error naming the missing input.
pub fn req<'a>(inputs: &[Option<&'a Tensor>], i: usize) -> Result<&'a Tensor, OpError> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| OpError::new(format!("required input {i} is missing")))
}

/// The value feeding optional input `i`, if given.
pub fn opt<'a>(inputs: &[Option<&'a Tensor>], i: usize) -> Option<&'a Tensor> {
    inputs.get(i).copied().flatten()
}
