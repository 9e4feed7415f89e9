//! Facts about the graph that lowering decides from: static shapes, compile-time values,
//! liveness, users, reachability, and the class of every node (view, pointwise, anchor or
//! interpreted) with what each consumer needs of each input.

use super::anchors::{self, Anchor};
use super::family::{Family, ViewOp, family};
use super::pointwise;
use super::views::{self, Step};
use crate::error::CodegenError;
use crate::kernel::Scalar;
use ir::{DType, Graph, NodeId, Source, Tensor, ValueId};
use std::sync::Arc;

/// How a node is lowered.
#[derive(Clone, Debug)]
pub enum Class {
    /// Dead, or every output it must give is known at compile time.
    Skip,
    /// A layout op: per output, the step from the output's space to input 0's space.
    View(Vec<Step>),
    /// An elementwise op or a Gather: body instructions.
    Pointwise,
    /// A heavy op with a kernel kind of its own.
    Anchor(Anchor),
    /// Run by `ir::interp`.
    Interp,
}

/// What a consumer needs of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Its value at points of the consumer's kernel: computable inline.
    Inline,
    /// A buffer (or a strided view of one).
    Buffer,
    /// Nothing at run time (a compile-time parameter, or only its dtype).
    Nothing,
    /// A layout op's data input: the need passes to the view's users.
    Through,
}

/// One use of a value by a live node.
#[derive(Clone, Copy, Debug)]
pub struct Use {
    pub node: NodeId,
    pub slot: usize,
}

pub struct Info<'g> {
    pub g: &'g Graph,
    pub known: Vec<Option<Arc<Tensor>>>,
    pub shapes: Vec<Vec<usize>>,
    pub dtypes: Vec<DType>,
    pub is_output: Vec<bool>,
    /// Whether a graph output or a live node reads the value.
    pub needed: Vec<bool>,
    pub users: Vec<Vec<Use>>,
    pub producer: Vec<Option<(NodeId, usize)>>,
    pub class: Vec<Class>,
    /// `reach[a]` holds, as a bitset over nodes, every node that depends on node `a`
    /// (including `a`).
    reach: Vec<Vec<u64>>,
}

impl<'g> Info<'g> {
    pub fn new(g: &'g Graph, known: &[Option<Arc<Tensor>>]) -> Result<Info<'g>, CodegenError> {
        let nv = g.values.len();
        let mut shapes = Vec::with_capacity(nv);
        let mut dtypes = Vec::with_capacity(nv);
        for v in &g.values {
            let ty = v.ty.as_ref().ok_or_else(|| {
                CodegenError::Unsupported(format!("value '{}' has no type", v.name))
            })?;
            let shape = ty
                .shape
                .as_deref()
                .and_then(ir::shape::concrete)
                .ok_or_else(|| {
                    CodegenError::Unsupported(format!("value '{}' has no static shape", v.name))
                })?;
            shapes.push(shape);
            dtypes.push(ty.dtype);
        }
        let mut known: Vec<Option<Arc<Tensor>>> = (0..nv)
            .map(|i| known.get(i).cloned().flatten())
            .collect();
        for (i, v) in g.values.iter().enumerate() {
            if let Source::Constant(t) = &v.source {
                known[i] = Some(t.clone());
            }
            if matches!(v.source, Source::Input) {
                known[i] = None;
            }
        }
        let mut is_output = vec![false; nv];
        for &o in &g.outputs {
            is_output[o.index()] = true;
        }
        let mut producer = vec![None; nv];
        for (n, node) in g.nodes.iter().enumerate() {
            for (k, &o) in node.outputs.iter().enumerate() {
                producer[o.index()] = Some((NodeId(n as u32), k));
            }
        }
        // Liveness, backwards: a value is needed if it is an output or a live node reads it;
        // a node is live if it must compute some needed value that is not known.
        let mut needed = is_output.clone();
        let mut live = vec![false; g.nodes.len()];
        for (n, node) in g.nodes.iter().enumerate().rev() {
            live[n] = node
                .outputs
                .iter()
                .any(|o| needed[o.index()] && known[o.index()].is_none());
            if live[n] {
                for v in node.inputs.iter().flatten() {
                    needed[v.index()] = true;
                }
            }
        }
        let mut info = Info {
            g,
            known,
            shapes,
            dtypes,
            is_output,
            needed,
            users: vec![Vec::new(); nv],
            producer,
            class: vec![Class::Skip; g.nodes.len()],
            reach: Vec::new(),
        };
        for (n, node) in g.nodes.iter().enumerate() {
            if !live[n] {
                continue;
            }
            info.class[n] = classify(&info, NodeId(n as u32));
            for (slot, v) in node.inputs.iter().enumerate() {
                if let Some(v) = v {
                    info.users[v.index()].push(Use {
                        node: NodeId(n as u32),
                        slot,
                    });
                }
            }
        }
        info.reach = reachability(g);
        Ok(info)
    }

    pub fn shape(&self, v: ValueId) -> &[usize] {
        &self.shapes[v.index()]
    }

    pub fn dtype(&self, v: ValueId) -> DType {
        self.dtypes[v.index()]
    }

    pub fn numel(&self, v: ValueId) -> usize {
        self.shape(v).iter().product()
    }

    pub fn known(&self, v: ValueId) -> Option<&Arc<Tensor>> {
        self.known[v.index()].as_ref()
    }

    /// A value whose elements kernels must keep rounded to its storage dtype (f16, bf16):
    /// it is always stored, never computed inline.
    pub fn narrow_float(&self, v: ValueId) -> bool {
        matches!(self.dtype(v), DType::F16 | DType::BF16)
    }

    /// Whether kernel bodies can hold the value.
    pub fn scalar(&self, v: ValueId) -> Option<Scalar> {
        Scalar::of(self.dtype(v))
    }

    pub fn is_graph_input(&self, v: ValueId) -> bool {
        matches!(self.g.value(v).source, Source::Input)
    }

    /// The node that produces `v` and its class, when `v` is a node output.
    pub fn producer_class(&self, v: ValueId) -> Option<(NodeId, usize, &Class)> {
        let (n, k) = self.producer[v.index()]?;
        Some((n, k, &self.class[n.index()]))
    }

    /// The view step and source of `v`, if a layout op that lowers to a view produces it.
    pub fn view_of(&self, v: ValueId) -> Option<(ValueId, &Step)> {
        if self.known(v).is_some() {
            return None;
        }
        match self.producer_class(v)? {
            (n, k, Class::View(steps)) => {
                let src = self.g.node(n).inputs.first().copied().flatten()?;
                Some((src, steps.get(k)?))
            }
            _ => None,
        }
    }

    /// What node `n` needs of its input `slot`.
    pub fn need(&self, n: NodeId, slot: usize) -> Need {
        let node = self.g.node(n);
        match &self.class[n.index()] {
            Class::Skip => Need::Nothing,
            Class::View(_) => {
                if slot == 0 {
                    Need::Through
                } else {
                    Need::Nothing
                }
            }
            Class::Pointwise => pointwise::need(&node.op, slot),
            Class::Anchor(a) => a.need(slot),
            Class::Interp => Need::Buffer,
        }
    }

    /// Whether node `b` depends (transitively) on node `a`.
    pub fn depends(&self, b: NodeId, a: NodeId) -> bool {
        let (w, bit) = (b.index() / 64, b.index() % 64);
        self.reach[a.index()][w] >> bit & 1 == 1
    }

    /// The op's name and the node's name, for kernel names.
    pub fn op_name(&self, n: NodeId) -> &'static str {
        self.g.node(n).op.name()
    }
}

/// For each node, the set of nodes that depend on it.
fn reachability(g: &Graph) -> Vec<Vec<u64>> {
    let n = g.nodes.len();
    let words = n.div_ceil(64).max(1);
    let mut users_of: Vec<Vec<usize>> = vec![Vec::new(); g.values.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        for v in node.inputs.iter().flatten() {
            users_of[v.index()].push(i);
        }
    }
    let mut reach = vec![vec![0u64; words]; n];
    for i in (0..n).rev() {
        let mut set = vec![0u64; words];
        set[i / 64] |= 1 << (i % 64);
        for o in &g.nodes[i].outputs {
            for &u in &users_of[o.index()] {
                for (s, r) in set.iter_mut().zip(&reach[u]) {
                    *s |= r;
                }
            }
        }
        reach[i] = set;
    }
    reach
}

/// The class of a live node.
fn classify(info: &Info, n: NodeId) -> Class {
    let node = info.g.node(n);
    if node
        .outputs
        .iter()
        .all(|o| info.known(*o).is_some() || !info.needed[o.index()])
    {
        return Class::Skip;
    }
    if let Some(steps) = view_steps(info, n) {
        return Class::View(steps);
    }
    if pointwise::supports(info, n) {
        return Class::Pointwise;
    }
    if let Some(a) = anchors::classify(info, n) {
        return Class::Anchor(a);
    }
    Class::Interp
}

/// The view steps of a layout op, if it is one with compile-time parameters and a dtype kernels
/// can copy.
fn view_steps(info: &Info, n: NodeId) -> Option<Vec<Step>> {
    let node = info.g.node(n);
    let x = node.inputs.first().copied().flatten()?;
    info.scalar(x)?;
    let in_shape = info.shape(x).to_vec();
    let out = |k: usize| node.outputs.get(k).map(|&o| info.shape(o).to_vec());
    let known_i64 = |slot: usize| -> Option<Option<Vec<i64>>> {
        match node.inputs.get(slot).copied().flatten() {
            None => Some(None),
            Some(v) => Some(Some(info.known(v)?.to_i64_vec().ok()?)),
        }
    };
    let reshape = || {
        Some(vec![Step::Reshape {
            from: in_shape.clone(),
            to: out(0)?,
        }])
    };
    let Family::View(view) = family(&node.op) else {
        return None;
    };
    match view {
        ViewOp::Reshape => {
            if node.outputs.len() != 1 {
                return None;
            }
            reshape()
        }
        ViewOp::Dropout => {
            // Inference only: output 0 is the input; a used mask, or a known training flag,
            // goes to the interpreter.
            let mask_used = node
                .outputs
                .get(1)
                .is_some_and(|&m| info.needed[m.index()] && info.known(m).is_none());
            let training = match node.inputs.get(2).copied().flatten() {
                None => false,
                Some(t) => info.known(t)?.to_bool_vec().first().copied().unwrap_or(true),
            };
            if mask_used || training {
                return None;
            }
            let mut steps = reshape()?;
            if node.outputs.len() > 1 {
                steps.push(Step::Reshape {
                    from: in_shape.clone(),
                    to: in_shape.clone(),
                });
            }
            Some(steps)
        }
        ViewOp::Transpose(perm) => {
            let rank = in_shape.len();
            let perm: Vec<usize> = match perm {
                Some(p) => p.to_vec(),
                None => (0..rank).rev().collect(),
            };
            let mut seen = vec![false; rank];
            for &p in &perm {
                if p >= rank || std::mem::replace(&mut seen[p], true) {
                    return None;
                }
            }
            if perm.len() != rank {
                return None;
            }
            Some(vec![Step::Transpose { perm }])
        }
        ViewOp::Slice => {
            let starts = known_i64(1)??;
            let ends = known_i64(2)??;
            let axes = known_i64(3)?;
            let steps = known_i64(4)?;
            Some(vec![views::slice_params(
                &in_shape,
                &out(0)?,
                &starts,
                &ends,
                axes.as_deref(),
                steps.as_deref(),
            )?])
        }
        ViewOp::Expand => Some(vec![Step::Broadcast {
            from: in_shape.clone(),
            to: out(0)?,
        }]),
        ViewOp::Split(axis) => {
            let rank = in_shape.len();
            let a = ir::shape::normalize_axis(axis, rank).ok()?;
            let mut start = 0i64;
            let mut steps = Vec::with_capacity(node.outputs.len());
            for k in 0..node.outputs.len() {
                let o = out(k)?;
                if o.len() != rank || (0..rank).any(|d| d != a && o[d] != in_shape[d]) {
                    return None;
                }
                let mut starts = vec![0i64; rank];
                starts[a] = start;
                start += o[a] as i64;
                steps.push(Step::Slice {
                    starts,
                    steps: vec![1; rank],
                });
            }
            (start == in_shape[a] as i64).then_some(steps)
        }
    }
}
