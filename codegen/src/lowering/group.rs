//! Fusion: which nodes share a kernel.
//!
//! Nodes are visited last to first, so a node's users already have their groups. An
//! elementwise node joins the group of its users when they all sit in one group that can take it
//! (a pointwise body, a row or reduction prologue, a contraction's epilogue), its output is not a
//! graph output, and every use is a pointwise operand. A MatMul, Gemm or Conv whose output
//! (possibly through reshapes) is read only by one pointwise group, at the same shape, becomes
//! that group's anchor: the group turns into the contraction's epilogue.

use crate::lowering::classify::{AnchorKind, Class, fusible_output, shape_of};
use ir::{Graph, NodeId, Op, ValueId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKind {
    Pointwise,
    /// An anchored kernel; the node is the anchor.
    Anchored(AnchorKind, NodeId),
    Interp(NodeId),
}

#[derive(Clone, Debug)]
pub struct Group {
    pub kind: GroupKind,
    /// The node whose output the kernel stores (the last member in graph order).
    pub root: NodeId,
    /// Values that stand for the anchor's output inside the epilogue (the anchor's output and
    /// reshapes of it).
    pub anchor_values: Vec<ValueId>,
}

/// For each node, the group it belongs to (`None` for skipped nodes and views).
pub struct Grouping {
    pub groups: Vec<Group>,
    pub of_node: Vec<Option<usize>>,
}

/// The nodes reading each value.
pub fn users(g: &Graph) -> Vec<Vec<NodeId>> {
    let mut users = vec![Vec::new(); g.values.len()];
    for (n, node) in g.nodes.iter().enumerate() {
        for v in node.inputs.iter().flatten() {
            let list: &mut Vec<NodeId> = &mut users[v.index()];
            if !list.contains(&NodeId(n as u32)) {
                list.push(NodeId(n as u32));
            }
        }
    }
    users
}

/// Whether input `i` of `node` is read pointwise (at the node's own point, broadcast).
fn pointwise_operand(class: Class, op: &Op, i: usize) -> bool {
    match class {
        // BatchNormalization's statistics are read per channel, not broadcast.
        Class::Elementwise => i == 0 || !matches!(op, Op::BatchNormalization { .. }),
        Class::Anchor(AnchorKind::Row) | Class::Anchor(AnchorKind::Reduce) => {
            i == 0
                && matches!(
                    op,
                    Op::Softmax { .. }
                        | Op::LayerNormalization { .. }
                        | Op::RmsNormalization { .. }
                        | Op::Reduce { .. }
                )
        }
        Class::Gather
        | Class::Anchor(AnchorKind::Gemm)
        | Class::Anchor(AnchorKind::Conv)
        | Class::Skip
        | Class::View
        | Class::Interp => false,
    }
}

pub fn group(g: &Graph, classes: &[Class], fuse: bool) -> Grouping {
    let users = users(g);
    let mut of_node: Vec<Option<usize>> = vec![None; g.nodes.len()];
    let mut groups: Vec<Group> = Vec::new();
    let is_output = |v: ValueId| g.outputs.contains(&v);
    for n in (0..g.nodes.len()).rev() {
        let node = &g.nodes[n];
        let id = NodeId(n as u32);
        match classes[n] {
            Class::Skip | Class::View => {}
            Class::Interp => {
                of_node[n] = Some(groups.len());
                groups.push(Group {
                    kind: GroupKind::Interp(id),
                    root: id,
                    anchor_values: Vec::new(),
                });
            }
            Class::Elementwise | Class::Gather => {
                let out = node.outputs[0];
                let target = if fuse && !is_output(out) && fusible_output(g, node) {
                    joinable_group(g, classes, &users, &of_node, &groups, out)
                } else {
                    None
                };
                match target {
                    Some(gi) => of_node[n] = Some(gi),
                    None => {
                        of_node[n] = Some(groups.len());
                        groups.push(Group {
                            kind: GroupKind::Pointwise,
                            root: id,
                            anchor_values: Vec::new(),
                        });
                    }
                }
            }
            Class::Anchor(kind) => {
                let merged = if fuse && matches!(kind, AnchorKind::Gemm | AnchorKind::Conv) {
                    mergeable_epilogue(g, classes, &users, &of_node, &groups, node.outputs[0], kind)
                } else {
                    None
                };
                match merged {
                    Some((gi, anchor_values)) => {
                        groups[gi].kind = GroupKind::Anchored(kind, id);
                        groups[gi].anchor_values = anchor_values;
                        of_node[n] = Some(gi);
                    }
                    None => {
                        of_node[n] = Some(groups.len());
                        groups.push(Group {
                            kind: GroupKind::Anchored(kind, id),
                            root: id,
                            anchor_values: vec![node.outputs[0]],
                        });
                    }
                }
            }
        }
    }
    Grouping { groups, of_node }
}

/// The group all users of `v` share, if it can compute `v` itself.
fn joinable_group(
    g: &Graph,
    classes: &[Class],
    users: &[Vec<NodeId>],
    of_node: &[Option<usize>],
    groups: &[Group],
    v: ValueId,
) -> Option<usize> {
    let us = &users[v.index()];
    let first = *us.first()?;
    let gi = of_node[first.index()]?;
    for u in us {
        if of_node[u.index()] != Some(gi) {
            return None;
        }
        let node = &g.nodes[u.index()];
        let class = classes[u.index()];
        // Every use must be pointwise; an anchor of a contraction reads whole operands.
        let ok = node
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, x)| **x == Some(v))
            .all(|(i, _)| pointwise_operand(class, &node.op, i));
        if !ok {
            return None;
        }
    }
    match groups[gi].kind {
        GroupKind::Pointwise | GroupKind::Anchored(..) => Some(gi),
        GroupKind::Interp(_) => None,
    }
}

/// The pointwise group that reads a contraction's output `v` (directly or through reshapes)
/// at its own shape everywhere, and the values that stand for `v` in it.
fn mergeable_epilogue(
    g: &Graph,
    classes: &[Class],
    users: &[Vec<NodeId>],
    of_node: &[Option<usize>],
    groups: &[Group],
    v: ValueId,
    kind: AnchorKind,
) -> Option<(usize, Vec<ValueId>)> {
    let is_output = |x: ValueId| g.outputs.contains(&x);
    let numel = shape_of(g, v).iter().product::<usize>();
    let mut values = vec![v];
    let mut frontier = vec![v];
    let mut readers: Vec<(NodeId, ValueId)> = Vec::new();
    while let Some(x) = frontier.pop() {
        if is_output(x) {
            return None;
        }
        for &u in &users[x.index()] {
            let node = &g.nodes[u.index()];
            let reshape_like = matches!(
                node.op,
                Op::Reshape { .. }
                    | Op::Flatten { .. }
                    | Op::Squeeze
                    | Op::Unsqueeze
                    | Op::Identity
            ) && classes[u.index()] == Class::View;
            if reshape_like && kind == AnchorKind::Gemm {
                let o = node.outputs[0];
                values.push(o);
                frontier.push(o);
            } else {
                readers.push((u, x));
            }
        }
    }
    let (first, _) = *readers.first()?;
    let gi = of_node[first.index()]?;
    if groups[gi].kind != GroupKind::Pointwise {
        return None;
    }
    let root_shape = shape_of(g, g.nodes[groups[gi].root.index()].outputs[0]);
    if root_shape.iter().product::<usize>() != numel {
        return None;
    }
    if kind == AnchorKind::Gemm {
        let anchor = match &g.value(v).source {
            ir::Source::Node { node, .. } => &g.nodes[node.index()],
            ir::Source::Input | ir::Source::Constant(_) => return None,
        };
        let (batch, m, n) = crate::lowering::anchors::gemm_out_dims(g, anchor)?;
        crate::lowering::anchors::rebatch(&batch, &root_shape, m, n)?;
    }
    for &(u, x) in &readers {
        if of_node[u.index()] != Some(gi) || classes[u.index()] != Class::Elementwise {
            return None;
        }
        let node = &g.nodes[u.index()];
        // Read at the group's own points: same shape as the value, no broadcasting.
        if shape_of(g, node.outputs[0]) != root_shape || shape_of(g, x) != root_shape {
            return None;
        }
    }
    Some((gi, values))
}
