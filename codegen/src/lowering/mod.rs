//! Lowering a graph to a [`Program`]: layout ops into access maps, fusion into kernels, and a
//! per-node interpreter fallback for what the backends do not compile. `docs/kernel-ir.md`
//! states the fusion rules.

mod anchors;
mod body;
mod classify;
mod einsum;
mod group;
mod view;
mod weights;

#[cfg(test)]
mod tests;

use crate::error::CodegenError;
use crate::kernel::{
    Body, BufferDecl, BufferId, BufferKind, IndexCheck, InterpKernel, Kernel, KernelKind,
    PointwiseKernel, Program, Store, schedule,
};
use classify::{Class, classify, dtype_of, shape_of};
use group::{GroupKind, Grouping};
use ir::{Graph, NodeId, Op, Tensor, ValueId};
use std::sync::Arc;
use view::View;

/// What lowering may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowerOptions {
    /// Fuse producers and consumers into one kernel (off: one kernel per node).
    pub fuse: bool,
}

impl Default for LowerOptions {
    fn default() -> LowerOptions {
        LowerOptions { fuse: true }
    }
}

/// Lowers `graph`, whose values all have static shapes, to a program. `known[v]` holds the
/// value of every value that inference could compute at compile time (constants and folded
/// shape arithmetic).
pub fn lower(
    graph: &Graph,
    known: &[Option<Arc<Tensor>>],
    options: &LowerOptions,
) -> Result<Program, CodegenError> {
    if known.len() != graph.values.len() {
        return Err(CodegenError::Unsupported(
            "known values do not match the graph".into(),
        ));
    }
    if let Some(v) = graph.values.iter().find(|v| {
        v.ty.as_ref()
            .and_then(|t| ir::shape::concrete(t.shape.as_deref()?))
            .is_none()
    }) {
        return Err(CodegenError::Unsupported(format!(
            "the shape of '{}' is not static",
            v.name
        )));
    }
    let known = &weights::evaluate(graph, known);
    let classes: Vec<Class> = graph
        .nodes
        .iter()
        .map(|n| classify(graph, n, known))
        .collect();
    let grouping = group::group(graph, &classes, options.fuse);
    let mut l = Lowerer {
        g: graph,
        known,
        classes,
        grouping,
        repr: vec![None; graph.values.len()],
        program: Program::default(),
    };
    l.run()?;
    Ok(l.program)
}

/// The kernel being built: its args and index checks.
#[derive(Default)]
pub(crate) struct KernelCx {
    args: Vec<BufferId>,
    index_checks: Vec<IndexCheck>,
}

impl KernelCx {
    /// The arg position of a buffer, adding it if new.
    fn arg(&mut self, b: BufferId) -> usize {
        match self.args.iter().position(|&x| x == b) {
            Some(i) => i,
            None => {
                self.args.push(b);
                self.args.len() - 1
            }
        }
    }
}

pub(crate) struct Lowerer<'a> {
    g: &'a Graph,
    known: &'a [Option<Arc<Tensor>>],
    classes: Vec<Class>,
    grouping: Grouping,
    /// Per value: where it lives, once materialized or viewed.
    repr: Vec<Option<View>>,
    program: Program,
}

impl<'a> Lowerer<'a> {
    fn run(&mut self) -> Result<(), CodegenError> {
        let g = self.g;
        for (i, &v) in g.inputs.iter().enumerate() {
            let b = self.program.add_buffer(BufferDecl {
                dtype: self.dtype(v)?,
                shape: shape_of(g, v),
                kind: BufferKind::Input(i),
                name: g.value_label(v),
            });
            self.program.inputs.push(b);
            self.repr[v.index()] = Some(View::dense(b, &shape_of(g, v)));
        }
        for n in 0..g.nodes.len() {
            match self.classes[n] {
                Class::Skip => {}
                Class::View => {
                    // A reshape between a contraction and its fused epilogue exists only as the
                    // epilogue's `Anchor`.
                    let internal_only = g.nodes[n].outputs.iter().all(|o| {
                        self.grouping
                            .groups
                            .iter()
                            .any(|gr| gr.anchor_values.iter().skip(1).any(|a| a == o))
                    });
                    if !internal_only {
                        self.lower_view(NodeId(n as u32))?;
                    }
                }
                Class::Elementwise | Class::Gather | Class::Anchor(_) | Class::Interp => {
                    let gi =
                        self.grouping.of_node[n].ok_or_else(|| internal("node without a group"))?;
                    if self.grouping.groups[gi].root.index() == n {
                        self.emit_group(gi)?;
                    }
                }
            }
        }
        for (i, &v) in g.outputs.iter().enumerate() {
            let view = self.view_of(v)?;
            let b = view.buf;
            let whole = view.is_whole(self.program.buffer(b).numel());
            let out = match self.program.buffer(b).kind {
                // A whole input, constant or output buffer is returned as is (the executor
                // copies what it does not own).
                BufferKind::Input(_) | BufferKind::Constant(_) | BufferKind::Output(_) if whole => {
                    b
                }
                // A whole temp becomes the output's own buffer: the kernels that wrote it write
                // the output, and a reshape of their result costs no copy.
                BufferKind::Temp if whole => {
                    self.program.buffers[b.index()].kind = BufferKind::Output(i);
                    b
                }
                BufferKind::Input(_)
                | BufferKind::Constant(_)
                | BufferKind::Output(_)
                | BufferKind::Temp => {
                    let decl = BufferDecl {
                        dtype: self.dtype(v)?,
                        shape: shape_of(g, v),
                        kind: BufferKind::Output(i),
                        name: g.value_label(v),
                    };
                    let dst = self.program.add_buffer(decl);
                    self.emit_copy(&view, dst, &format!("output {}", g.value_label(v)))?;
                    dst
                }
            };
            self.program.output_shapes.push(shape_of(g, v));
            self.program.outputs.push(out);
            self.program.output_names.push(g.value(v).name.clone());
        }
        Ok(())
    }

    fn dtype(&self, v: ValueId) -> Result<ir::DType, CodegenError> {
        dtype_of(self.g, v).ok_or_else(|| internal("a value without a type"))
    }

    /// Where `v` lives; constants get a buffer on first use.
    fn view_of(&mut self, v: ValueId) -> Result<View, CodegenError> {
        if let Some(view) = &self.repr[v.index()] {
            return Ok(view.clone());
        }
        let t = self.known[v.index()].clone().ok_or_else(|| {
            internal(&format!(
                "value '{}' is read before it is computed",
                self.g.value_label(v)
            ))
        })?;
        let shape = t.shape().to_vec();
        let b = self.program.add_buffer(BufferDecl {
            dtype: t.dtype(),
            shape: shape.clone(),
            kind: BufferKind::Constant(t),
            name: self.g.value_label(v),
        });
        let view = View::dense(b, &shape);
        self.repr[v.index()] = Some(view.clone());
        Ok(view)
    }

    /// A fresh buffer for the output `v` of a kernel (a graph output's own buffer when it is one).
    fn new_buffer(&mut self, v: ValueId) -> Result<BufferId, CodegenError> {
        let g = self.g;
        let taken: Vec<usize> = self
            .program
            .buffers
            .iter()
            .filter_map(|b| match b.kind {
                BufferKind::Output(i) => Some(i),
                BufferKind::Input(_) | BufferKind::Constant(_) | BufferKind::Temp => None,
            })
            .collect();
        let kind = match g.outputs.iter().position(|&o| o == v) {
            Some(i) if !taken.contains(&i) => BufferKind::Output(i),
            Some(_) | None => BufferKind::Temp,
        };
        let shape = shape_of(g, v);
        let b = self.program.add_buffer(BufferDecl {
            dtype: self.dtype(v)?,
            shape: shape.clone(),
            kind,
            name: g.value_label(v),
        });
        self.repr[v.index()] = Some(View::dense(b, &shape));
        Ok(b)
    }

    /// A whole dense buffer holding `v`'s elements in row-major order, copying a strided view
    /// into a temp if needed; with `exact_shape`, the buffer also has `v`'s shape (an
    /// interpreted node reads the buffer's declared shape).
    fn dense_buffer(&mut self, v: ValueId, exact_shape: bool) -> Result<BufferId, CodegenError> {
        let view = self.view_of(v)?;
        let decl = self.program.buffer(view.buf);
        if view.is_whole(decl.numel()) && (!exact_shape || decl.shape == view.shape) {
            return Ok(view.buf);
        }
        let b = self.program.add_buffer(BufferDecl {
            dtype: self.dtype(v)?,
            shape: view.shape.clone(),
            kind: BufferKind::Temp,
            name: self.g.value_label(v),
        });
        self.emit_copy(&view, b, &format!("copy {}", self.g.value_label(v)))?;
        Ok(b)
    }

    /// A pointwise kernel copying `view` densely into `dst`.
    fn emit_copy(&mut self, view: &View, dst: BufferId, name: &str) -> Result<(), CodegenError> {
        let mut k = KernelCx::default();
        let src = k.arg(view.buf);
        let out = k.arg(dst);
        let rank = view.shape.len();
        let mut body = Body::default();
        let x = body.push(crate::kernel::Inst::Load(view.access(
            src,
            &view::identity(rank),
            rank,
        )));
        body.stores.push(Store { value: x, arg: out });
        let kind = KernelKind::Pointwise(PointwiseKernel {
            shape: view.shape.clone(),
            body,
        });
        self.push_kernel(name.to_string(), vec![name.to_string()], k, kind);
        Ok(())
    }

    fn push_kernel(&mut self, name: String, nodes: Vec<String>, k: KernelCx, kind: KernelKind) {
        let mut kernel = Kernel {
            name,
            nodes,
            args: k.args,
            kind,
            schedule: crate::kernel::Schedule::None,
            index_checks: k.index_checks,
        };
        kernel.schedule = schedule::default_for(&kernel);
        self.program.kernels.push(kernel);
    }

    /// The member nodes of a group, in graph order.
    fn members(&self, gi: usize) -> Vec<NodeId> {
        (0..self.g.nodes.len())
            .filter(|&n| self.grouping.of_node[n] == Some(gi))
            .map(|n| NodeId(n as u32))
            .collect()
    }

    fn emit_group(&mut self, gi: usize) -> Result<(), CodegenError> {
        let members = self.members(gi);
        let names: Vec<String> = members
            .iter()
            .map(|&n| self.g.node(n).name.clone())
            .collect();
        let ops: Vec<&str> = members.iter().map(|&n| self.g.node(n).op.name()).collect();
        let label = ops.join("+");
        match self.grouping.groups[gi].kind.clone() {
            GroupKind::Interp(n) => self.emit_interp(n, names),
            GroupKind::Pointwise => self.emit_pointwise(gi, label, names),
            GroupKind::Anchored(kind, anchor) => self.emit_anchored(gi, kind, anchor, label, names),
        }
    }

    fn emit_interp(&mut self, n: NodeId, names: Vec<String>) -> Result<(), CodegenError> {
        let g = self.g;
        let node = g.node(n);
        let mut k = KernelCx::default();
        let mut inputs = Vec::with_capacity(node.inputs.len());
        for v in &node.inputs {
            inputs.push(match v {
                Some(v) => {
                    let b = self.dense_buffer(*v, true)?;
                    Some(k.arg(b))
                }
                None => None,
            });
        }
        let users = group::users(g);
        let mut outputs = Vec::with_capacity(node.outputs.len());
        for &o in &node.outputs {
            let needed = !users[o.index()].is_empty() || g.outputs.contains(&o);
            outputs.push(if needed {
                let b = self.new_buffer(o)?;
                Some(k.arg(b))
            } else {
                None
            });
        }
        let kind = KernelKind::Interp(InterpKernel {
            op: node.op.clone(),
            inputs,
            outputs,
        });
        self.push_kernel(node.op.name().to_string(), names, k, kind);
        Ok(())
    }

    fn emit_pointwise(
        &mut self,
        gi: usize,
        label: String,
        names: Vec<String>,
    ) -> Result<(), CodegenError> {
        let root = self.grouping.groups[gi].root;
        let out = self.g.node(root).outputs[0];
        let shape = shape_of(self.g, out);
        let mut k = KernelCx::default();
        let mut b = body::BodyCx::new(shape.len());
        let x = self.value_at(&mut k, &mut b, gi, out, &view::identity(shape.len()))?;
        let dst = self.new_buffer(out)?;
        let arg = k.arg(dst);
        let mut body = b.finish();
        body.stores.push(Store { value: x, arg });
        self.push_kernel(
            label,
            names,
            k,
            KernelKind::Pointwise(PointwiseKernel { shape, body }),
        );
        Ok(())
    }

    /// The node producing `v`, if a node does.
    fn producer(&self, v: ValueId) -> Option<NodeId> {
        match self.g.value(v).source {
            ir::Source::Node { node, .. } => Some(node),
            ir::Source::Input | ir::Source::Constant(_) => None,
        }
    }

    /// Lowers a layout node to a view of its input (or a copy and a view, when the input's
    /// strides cannot express it).
    fn lower_view(&mut self, n: NodeId) -> Result<(), CodegenError> {
        let g = self.g;
        let node = g.node(n);
        let x = node
            .inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| internal("layout op without input"))?;
        let src = self.view_of(x)?;
        let out_shape = shape_of(g, node.outputs[0]);
        let views: Vec<Option<View>> = match &node.op {
            Op::Reshape { .. } | Op::Flatten { .. } | Op::Squeeze | Op::Unsqueeze => {
                vec![src.reshape(&out_shape)]
            }
            Op::Identity | Op::Dropout { .. } => vec![Some(src.clone())],
            Op::Transpose { perm } => {
                let perm =
                    ir::interp::layout::params::resolve_perm(perm.as_deref(), src.shape.len())
                        .map_err(|e| node_err(node, e))?;
                vec![Some(src.transpose(&perm))]
            }
            Op::Expand => vec![src.expand(&out_shape)],
            Op::Slice => {
                let get = |i: usize| -> Result<Option<Vec<i64>>, CodegenError> {
                    match node.inputs.get(i).copied().flatten() {
                        Some(v) => {
                            let t = self.known[v.index()]
                                .as_ref()
                                .ok_or_else(|| internal("slice bound not known"))?;
                            Ok(Some(t.to_i64_vec().map_err(|e| node_err(node, e))?))
                        }
                        None => Ok(None),
                    }
                };
                let (starts, ends) = (get(1)?.unwrap_or_default(), get(2)?.unwrap_or_default());
                let (axes, steps) = (get(3)?, get(4)?);
                let specs = ir::interp::layout::params::slice_specs(
                    src.shape.len(),
                    &starts,
                    &ends,
                    axes.as_deref(),
                    steps.as_deref(),
                )
                .map_err(|e| node_err(node, e))?;
                let axes: Vec<_> = specs
                    .into_iter()
                    .map(|s| ir::interp::layout::params::clamp_slice(s, src.shape[s.axis]))
                    .collect();
                vec![Some(src.slice(&axes))]
            }
            Op::Split { axis, .. } => {
                let axis = ir::shape::normalize_axis(*axis, src.shape.len())
                    .map_err(|e| node_err(node, e))?;
                let mut start = 0i64;
                node.outputs
                    .iter()
                    .map(|&o| {
                        let count = shape_of(g, o).get(axis).copied().unwrap_or(0);
                        let a = ir::interp::layout::params::SliceAxis {
                            axis,
                            start,
                            step: 1,
                            count,
                        };
                        start += count as i64;
                        Some(src.slice(&[a]))
                    })
                    .collect()
            }
            other => return Err(internal(&format!("{} is not a layout op", other.name()))),
        };
        for (&o, view) in node.outputs.iter().zip(views) {
            let view = match view {
                Some(v) if v.shape == shape_of(g, o) => v,
                Some(_) | None => {
                    // The input's strides cannot express this layout: copy it dense first.
                    let b = self.dense_buffer(x, false)?;
                    let dense = View::dense(b, &src.shape);
                    match &node.op {
                        Op::Reshape { .. }
                        | Op::Flatten { .. }
                        | Op::Squeeze
                        | Op::Unsqueeze
                        | Op::Expand => {
                            let v = if matches!(node.op, Op::Expand) {
                                dense.expand(&shape_of(g, o))
                            } else {
                                dense.reshape(&shape_of(g, o))
                            };
                            v.ok_or_else(|| {
                                node_err(
                                    node,
                                    ir::OpError::new("shape mismatch in layout lowering"),
                                )
                            })?
                        }
                        _ => return Err(internal("a view with a wrong shape")),
                    }
                }
            };
            self.repr[o.index()] = Some(view);
        }
        Ok(())
    }
}

fn internal(msg: &str) -> CodegenError {
    CodegenError::Unsupported(format!("lowering: {msg}"))
}

fn node_err(node: &ir::Node, e: ir::OpError) -> CodegenError {
    CodegenError::Run(ir::Error::node(&node.name, node.op.name(), e))
}
