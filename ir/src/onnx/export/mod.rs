//! ONNX export in pure Rust: a [`Graph`] to a standard `ModelProto` that other runtimes run.
//!
//! The model imports the default domain at opset [`BASE_OPSET`], or at the newest opset one of
//! its nodes needs (an op introduced later, an attribute or dtype an op gained later), with the
//! IR version onnx pairs with that opset. Each op is written in its modern form: values that
//! old opsets held as attributes are inputs. The few IR forms with no single ONNX op (softmax
//! with the opset < 13 2-D coercion, per-activation batch norm, float dropout masks...) become
//! small groups of standard ops. An op that standard ONNX cannot express is an [`Error`] naming
//! the node and op; export never panics.
//!
//! Names: graph inputs and outputs keep theirs; other values keep a non-empty unique name or
//! get `v{id}`. Constants become initializers; a constant that is also a graph output is
//! produced by an `Identity` of its initializer.
//!
//! [`ExportOptions`] holds the choices that shape the model for the runtimes that run it
//! without changing what it computes.

mod bits;
mod cache;
mod control;
mod conv;
mod cx;
mod detection;
mod determinant;
mod elementwise;
mod gated;
mod index;
mod layout;
mod linalg;
mod norm;
mod opset;
mod quant;
mod recurrent;
mod reduce;
mod resize;
mod sampling;
mod set;
mod signal;
mod stateful;
mod subgraph;
#[cfg(test)]
mod tests;
mod view_outputs;

pub use cx::BASE_OPSET;

use super::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};
use super::{dtype_to_onnx, tensor_to_proto};
use crate::error::Error;
use crate::graph::{Graph, Node, Source};
use crate::op::Op;
use crate::shape::{Dim, TensorType};
use cx::{Cx, Lowered, Spec};
use prost::Message;
use std::collections::HashSet;

/// How an exported model is written for the runtimes that run it. No option changes what the
/// model computes; the default writes each node as its plain ONNX form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Large f32/f64 graph outputs that a view op (Reshape, Flatten, Squeeze, Unsqueeze,
    /// Identity) would produce are written by an exact `Mul` by one, which runtimes split
    /// across their threads; a view written as a graph output is copied by one thread.
    pub parallel_view_outputs: bool,
}

impl ExportOptions {
    /// The options for a model meant to run fast on other runtimes (`tenfold optimize`).
    pub fn for_runtimes() -> ExportOptions {
        ExportOptions {
            parallel_view_outputs: true,
        }
    }
}

/// Exports a graph as serialized ONNX `ModelProto` bytes.
pub fn export_model(graph: &Graph) -> Result<Vec<u8>, Error> {
    export_model_with(graph, ExportOptions::default())
}

/// Exports a graph as serialized ONNX `ModelProto` bytes, written as `opts` says.
pub fn export_model_with(graph: &Graph, opts: ExportOptions) -> Result<Vec<u8>, Error> {
    Ok(export_proto_with(graph, opts)?.encode_to_vec())
}

/// Exports a graph as an ONNX `ModelProto`.
pub fn export_proto(graph: &Graph) -> Result<ModelProto, Error> {
    export_proto_with(graph, ExportOptions::default())
}

/// Exports a graph as an ONNX `ModelProto`, written as `opts` says.
pub fn export_proto_with(graph: &Graph, opts: ExportOptions) -> Result<ModelProto, Error> {
    let mut w = Writer::new(graph)?;
    w.constant_outputs();
    for node in &graph.nodes {
        w.write_node(node)?;
    }
    if opts.parallel_view_outputs {
        w.parallel_view_outputs();
    }
    Ok(w.finish())
}

/// The IR version onnx 1.23 pairs with a default-domain opset.
pub fn ir_version_for(opset: i64) -> i64 {
    match opset {
        ..=20 => 9,
        21 | 22 => 10,
        23 => 11,
        24 => 12,
        25..=27 => 13,
        _ => 14,
    }
}

/// The model being written.
pub(super) struct Writer<'g> {
    graph: &'g Graph,
    /// The ONNX name of every value, by id.
    names: Vec<String>,
    /// Whether a value is read by a node or is a graph output, by id.
    used_values: Vec<bool>,
    /// Every value name given out.
    taken: HashSet<String>,
    node_names: HashSet<String>,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    opset: i64,
}

impl<'g> Writer<'g> {
    fn new(graph: &'g Graph) -> Result<Writer<'g>, Error> {
        let mut w = Writer::unnamed(graph)?;
        w.name_values()?;
        w.write_initializers();
        Ok(w)
    }

    /// A writer for `graph` whose values have no names yet.
    fn unnamed(graph: &'g Graph) -> Result<Writer<'g>, Error> {
        let n = graph.values.len();
        let check = |v: crate::graph::ValueId, what: &str| {
            if v.index() >= n {
                Err(Error::Model(format!(
                    "cannot export to ONNX: {what} {v}, which is not a value of the graph"
                )))
            } else {
                Ok(())
            }
        };
        let mut used_values = vec![false; n];
        for node in &graph.nodes {
            for &v in node.inputs.iter().flatten() {
                check(v, &format!("node '{}' reads", node.name))?;
                used_values[v.index()] = true;
            }
            for &v in &node.outputs {
                check(v, &format!("node '{}' writes", node.name))?;
            }
        }
        for &v in &graph.inputs {
            check(v, "graph input")?;
        }
        for &v in &graph.outputs {
            check(v, "graph output")?;
            used_values[v.index()] = true;
        }
        Ok(Writer {
            graph,
            names: vec![String::new(); n],
            used_values,
            taken: HashSet::new(),
            node_names: HashSet::new(),
            nodes: Vec::new(),
            initializers: Vec::new(),
            opset: BASE_OPSET,
        })
    }

    /// Names every value: graph inputs and outputs keep their names, the rest keep theirs when
    /// non-empty and unique, else get `v{id}`.
    fn name_values(&mut self) -> Result<(), Error> {
        let g = self.graph;
        let mut io: Vec<crate::graph::ValueId> = g.inputs.clone();
        io.extend(&g.outputs);
        for &v in &io {
            let name = &g.value(v).name;
            if name.is_empty() || !self.names[v.index()].is_empty() {
                continue;
            }
            if !self.taken.insert(name.clone()) {
                return Err(Error::Model(format!(
                    "cannot export to ONNX: two different graph inputs or outputs are named '{name}'"
                )));
            }
            self.names[v.index()] = name.clone();
        }
        for i in 0..g.values.len() {
            if !self.names[i].is_empty() {
                continue;
            }
            let own = &g.values[i].name;
            self.names[i] = if !own.is_empty() && !self.taken.contains(own) {
                self.taken.insert(own.clone());
                own.clone()
            } else {
                self.unique_value_name(format!("v{i}"))
            };
        }
        Ok(())
    }

    /// `base`, or `base_1`, `base_2`... whichever is free first; marks it taken.
    pub(super) fn unique_value_name(&mut self, base: String) -> String {
        let name = unique(&self.taken, base);
        self.taken.insert(name.clone());
        name
    }

    pub(super) fn unique_node_name(&mut self, base: String) -> String {
        let base = if base.is_empty() {
            "node".to_string()
        } else {
            base
        };
        let name = unique(&self.node_names, base);
        self.node_names.insert(name.clone());
        name
    }

    /// Constants read by nodes become initializers under their value's name. A constant that is
    /// a graph output is written by [`Writer::constant_outputs`] instead.
    fn write_initializers(&mut self) {
        let g = self.graph;
        for (i, v) in g.values.iter().enumerate() {
            let Source::Constant(t) = &v.source else {
                continue;
            };
            let id = crate::graph::ValueId(i as u32);
            if !self.used_values[i] || g.outputs.contains(&id) {
                continue;
            }
            self.initializers.push(tensor_to_proto(&self.names[i], t));
        }
    }

    /// A constant that is a graph output is an `Identity` of an initializer holding it, so the
    /// output is produced by a node under its own name.
    fn constant_outputs(&mut self) {
        let g = self.graph;
        let mut done = HashSet::new();
        for &v in &g.outputs {
            let Source::Constant(t) = &g.value(v).source else {
                continue;
            };
            if !done.insert(v) {
                continue;
            }
            let out = self.names[v.index()].clone();
            let init = self.unique_value_name(format!("{out}/value"));
            self.initializers.push(tensor_to_proto(&init, t));
            self.opset = self.opset.max(opset::for_dtype("Identity", t.dtype()));
            let name = self.unique_node_name(format!("{out}/identity"));
            self.nodes.push(NodeProto {
                name,
                op_type: "Identity".into(),
                input: vec![init],
                output: vec![out],
                ..NodeProto::default()
            });
        }
    }

    fn write_node(&mut self, node: &'g Node) -> Result<(), Error> {
        if node.outputs.is_empty() {
            return Err(Error::Node {
                node: node.name.clone(),
                op: node.op.name().to_string(),
                msg: "cannot export to ONNX: the node has no outputs".into(),
            });
        }
        let mut cx = Cx {
            w: self,
            node,
            count: 0,
            emitted: 0,
        };
        match lower(&mut cx)? {
            Lowered::Node(spec) => {
                let inputs = cx.input_names();
                let outputs = cx.output_names();
                cx.emit(spec, inputs, outputs);
            }
            Lowered::Written => {}
        }
        Ok(())
    }

    fn value_info(&self, v: crate::graph::ValueId) -> ValueInfoProto {
        ValueInfoProto {
            name: self.names[v.index()].clone(),
            r#type: self.graph.value(v).ty.as_ref().map(type_proto),
            ..ValueInfoProto::default()
        }
    }

    fn finish(self) -> ModelProto {
        let g = self.graph;
        let input = g.inputs.iter().map(|&v| self.value_info(v)).collect();
        let output = g.outputs.iter().map(|&v| self.value_info(v)).collect();
        let name = if g.name.is_empty() {
            "tenfold".to_string()
        } else {
            g.name.clone()
        };
        ModelProto {
            ir_version: ir_version_for(self.opset),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "tenfold".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(GraphProto {
                name,
                node: self.nodes,
                initializer: self.initializers,
                input,
                output,
                ..GraphProto::default()
            }),
            ..ModelProto::default()
        }
    }
}

fn unique(taken: &HashSet<String>, base: String) -> String {
    if !taken.contains(&base) {
        return base;
    }
    (1..)
        .map(|k| format!("{base}_{k}"))
        .find(|n| !taken.contains(n))
        .unwrap_or(base)
}

/// The declared type of a value: element type, and shape when known (symbolic dims as
/// `dim_param`).
fn type_proto(t: &TensorType) -> TypeProto {
    let shape = t.shape.as_ref().map(|s| TensorShapeProto {
        dim: s
            .iter()
            .map(|d| tensor_shape_proto::Dimension {
                value: Some(match d {
                    Dim::Static(n) => tensor_shape_proto::dimension::Value::DimValue(*n as i64),
                    Dim::Symbolic(p) => tensor_shape_proto::dimension::Value::DimParam(p.clone()),
                }),
                ..Default::default()
            })
            .collect(),
    });
    TypeProto {
        value: Some(type_proto::Value::TensorType(type_proto::Tensor {
            elem_type: dtype_to_onnx(t.dtype),
            shape,
        })),
        ..TypeProto::default()
    }
}

/// Maps one IR node to ONNX: the op type and attributes of one node, or the nodes of a
/// decomposition written through `cx`.
fn lower(cx: &mut Cx) -> Result<Lowered, Error> {
    let node: &Node = cx.node;
    let node_op = |spec: Spec| Ok(Lowered::Node(spec));
    match &node.op {
        Op::Unary(u) => elementwise::unary(*u),
        Op::Binary(b) => elementwise::binary(cx, *b),
        Op::Where => node_op(Spec::new("Where")),
        Op::Clip => node_op(Spec::new("Clip")),
        Op::Cast { to, saturate } => elementwise::cast(*to, *saturate),
        Op::CastLike { saturate } => elementwise::cast_like(*saturate),
        Op::MatMul => node_op(Spec::new("MatMul")),
        Op::Gemm(a) => linalg::gemm(a),
        Op::Einsum { equation } => linalg::einsum(equation),
        Op::MatMulInteger => node_op(Spec::new("MatMulInteger")),
        Op::QLinearMatMul => node_op(Spec::new("QLinearMatMul")),
        Op::Conv(a) => conv::conv("Conv", a),
        Op::ConvTranspose(a) => conv::conv_transpose(a),
        Op::ConvInteger(a) => conv::conv("ConvInteger", a),
        Op::MaxPool {
            pool,
            storage_order,
        } => conv::max_pool(pool, *storage_order),
        Op::AveragePool {
            pool,
            count_include_pad,
        } => conv::average_pool(pool, *count_include_pad),
        Op::LpPool { pool, p } => conv::lp_pool(cx, pool, *p),
        Op::GlobalAveragePool => node_op(Spec::new("GlobalAveragePool")),
        Op::GlobalMaxPool => node_op(Spec::new("GlobalMaxPool")),
        Op::GlobalLpPool { p } => conv::global_lp_pool(cx, *p),
        Op::Lrn {
            alpha,
            beta,
            bias,
            size,
        } => conv::lrn(*alpha, *beta, *bias, *size),
        Op::Softmax {
            kind,
            axis,
            coerce_2d,
        } => norm::softmax(cx, *kind, *axis, *coerce_2d),
        Op::BatchNormalization { epsilon } => norm::batch_norm(cx, *epsilon),
        Op::InstanceNormalization { epsilon } => norm::instance_norm(*epsilon),
        Op::LayerNormalization {
            axis,
            epsilon,
            stash_type,
        } => norm::layer_norm(*axis, *epsilon, *stash_type),
        Op::GroupNormalization {
            num_groups,
            epsilon,
            stash_type,
        } => norm::group_norm(*num_groups, *epsilon, *stash_type),
        Op::RmsNormalization {
            axis,
            epsilon,
            stash_type,
        } => norm::rms_norm(*axis, *epsilon, *stash_type),
        Op::LpNormalization { axis, p } => norm::lp_norm(*axis, *p),
        Op::MeanVarianceNormalization { axes } => norm::mean_variance_norm(axes),
        Op::Attention(a) => norm::attention(cx, a),
        Op::RotaryEmbedding {
            interleaved,
            num_heads,
            rotary_embedding_dim,
        } => norm::rotary_embedding(*interleaved, *num_heads, *rotary_embedding_dim),
        Op::Dropout { float_mask } => norm::dropout(cx, *float_mask),
        Op::NegativeLogLikelihoodLoss {
            ignore_index,
            reduction,
        } => norm::loss("NegativeLogLikelihoodLoss", *ignore_index, *reduction),
        Op::SoftmaxCrossEntropyLoss {
            ignore_index,
            reduction,
        } => norm::loss("SoftmaxCrossEntropyLoss", *ignore_index, *reduction),
        Op::Reduce {
            kind,
            keepdims,
            noop_with_empty_axes,
        } => reduce::reduce(*kind, *keepdims, *noop_with_empty_axes),
        Op::ArgReduce {
            kind,
            axis,
            keepdims,
            select_last_index,
        } => reduce::arg_reduce(*kind, *axis, *keepdims, *select_last_index),
        Op::TopK {
            axis,
            largest,
            sorted,
        } => reduce::top_k(*axis, *largest, *sorted),
        Op::CumSum { exclusive, reverse } => reduce::scan("CumSum", *exclusive, *reverse),
        Op::CumProd { exclusive, reverse } => reduce::scan("CumProd", *exclusive, *reverse),
        Op::Reshape { allowzero } => layout::reshape(*allowzero),
        Op::Transpose { perm } => layout::transpose(perm.as_deref()),
        Op::Squeeze => node_op(Spec::new("Squeeze")),
        Op::Unsqueeze => node_op(Spec::new("Unsqueeze")),
        Op::Flatten { axis } => layout::flatten(*axis),
        Op::Concat { axis } => layout::concat(*axis),
        Op::Split { axis, num_outputs } => layout::split(cx, *axis, *num_outputs),
        Op::Slice => node_op(Spec::new("Slice")),
        Op::Expand => node_op(Spec::new("Expand")),
        Op::Tile => node_op(Spec::new("Tile")),
        Op::Pad { mode } => layout::pad(cx, *mode),
        Op::Shape { start, end } => layout::shape(*start, *end),
        Op::Size => node_op(Spec::new("Size")),
        Op::ConstantOfShape { value } => layout::constant_of_shape(cx, value),
        Op::Range => node_op(Spec::new("Range")),
        Op::Identity => node_op(Spec::new("Identity")),
        Op::Trilu { upper } => layout::trilu(*upper),
        Op::DepthToSpace { blocksize, mode } => {
            layout::block_rearrange("DepthToSpace", *blocksize, *mode)
        }
        Op::SpaceToDepth { blocksize, mode } => {
            layout::block_rearrange("SpaceToDepth", *blocksize, *mode)
        }
        Op::EyeLike { dtype, k } => layout::eye_like(*dtype, *k),
        Op::Gather { axis } => index::gather("Gather", *axis),
        Op::GatherElements { axis } => index::gather("GatherElements", *axis),
        Op::GatherNd { batch_dims } => index::gather_nd(*batch_dims),
        Op::ScatterElements { axis, reduction } => index::scatter_elements(*axis, *reduction),
        Op::ScatterNd { reduction } => index::scatter_nd(*reduction),
        Op::OneHot { axis } => index::one_hot(*axis),
        Op::NonZero => node_op(Spec::new("NonZero")),
        Op::Resize(a) => resize::resize(cx, a),
        Op::Compress { axis } => index::compress(*axis),
        Op::ReverseSequence {
            batch_axis,
            time_axis,
        } => index::reverse_sequence(*batch_axis, *time_axis),
        Op::GridSample {
            mode,
            padding,
            align_corners,
        } => sampling::grid_sample(*mode, *padding, *align_corners),
        Op::AffineGrid { align_corners } => sampling::affine_grid(*align_corners),
        Op::CenterCropPad { axes } => sampling::center_crop_pad(axes.as_deref()),
        Op::RoiAlign(a) => sampling::roi_align(a),
        Op::MaxUnpool {
            kernel_shape,
            pads,
            strides,
        } => sampling::max_unpool(kernel_shape, pads, strides),
        Op::Col2Im {
            dilations,
            pads,
            strides,
        } => sampling::col2im(dilations, pads, strides),
        Op::DeformConv(a) => sampling::deform_conv(a),
        Op::QuantizeLinear(a) => quant::quantize_linear(cx, a),
        Op::DequantizeLinear(a) => quant::dequantize_linear(a),
        Op::DynamicQuantizeLinear => node_op(Spec::new("DynamicQuantizeLinear")),
        Op::Recurrent(a) => recurrent::recurrent(a),
        Op::Window {
            kind,
            periodic,
            dtype,
        } => signal::window(*kind, *periodic, *dtype),
        Op::Dft { inverse, onesided } => signal::dft(*inverse, *onesided),
        Op::Stft { onesided } => signal::stft(*onesided),
        Op::MelWeightMatrix { dtype } => signal::mel_weight_matrix(*dtype),
        Op::NonMaxSuppression { center_point_box } => {
            detection::non_max_suppression(*center_point_box)
        }
        Op::BitCast { to } => bits::bit_cast(*to),
        Op::Unique { axis, sorted } => set::unique(*axis, *sorted),
        Op::SwiGlu { alpha } => gated::swiglu(cx, *alpha),
        Op::TensorScatter { axis, circular } => cache::tensor_scatter(*axis, *circular),
        Op::Det => determinant::det(),
        Op::LinearAttention(a) => stateful::linear_attention(a),
        Op::CausalConvWithState { silu } => stateful::causal_conv_with_state(*silu),
        Op::If {
            then_branch,
            else_branch,
        } => control::if_(cx, then_branch, else_branch),
        Op::Scan(a) => control::scan(cx, a),
        Op::Loop { body, carried } => control::loop_(cx, body, *carried),
    }
}
