//! The e-graph language: one e-node form per IR op, carrying the typed [`ir::Op`] (attributes as
//! data), plus leaves for graph inputs, constants and omitted optional inputs, and a projection
//! for the outputs of multi-output ops.
//!
//! Invariant: an e-class whose node is a multi-output [`Node::Op`] stands for the tuple of its
//! outputs and is only ever read through [`Node::Output`]; every other e-class stands for one
//! tensor.

use crate::consts::ConstId;
use egg::{FromOp, Id, Language};
use ir::Op;
use ir::op::BinaryOp;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// An op with its output count, ordered and hashed by a canonical rendering of its attributes
/// (so that two ops with equal attributes are one e-node key).
#[derive(Clone)]
pub struct OpKey {
    op: Arc<Op>,
    outputs: u32,
    key: Arc<str>,
}

impl OpKey {
    pub fn new(op: Op, outputs: usize) -> OpKey {
        // `Debug` renders every attribute, floats round-trip exactly: equal renderings are equal ops.
        let key: Arc<str> = format!("{op:?}").into();
        OpKey {
            op: Arc::new(op),
            outputs: outputs as u32,
            key,
        }
    }

    pub fn single(op: Op) -> OpKey {
        OpKey::new(op, 1)
    }

    pub fn op(&self) -> &Op {
        &self.op
    }

    pub fn outputs(&self) -> usize {
        self.outputs as usize
    }
}

impl PartialEq for OpKey {
    fn eq(&self, other: &Self) -> bool {
        self.outputs == other.outputs && self.key == other.key
    }
}
impl Eq for OpKey {}
impl Hash for OpKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        self.outputs.hash(state);
    }
}
impl PartialOrd for OpKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OpKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.key, self.outputs).cmp(&(&other.key, other.outputs))
    }
}
impl fmt::Debug for OpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// One e-node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// Graph input number `n` (position in [`ir::Graph::inputs`]).
    Input(u32),
    /// A constant tensor from the analysis' pool.
    Const(ConstId),
    /// An omitted optional input.
    Absent,
    /// An IR op applied to its inputs.
    Op(OpKey, Vec<Id>),
    /// Output `k` of a multi-output op's tuple class.
    Output(u32, [Id; 1]),
}

/// The part of a node that must agree for two nodes to match, children aside.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Discriminant {
    Input(u32),
    Const(ConstId),
    Absent,
    Op(OpKey, usize),
    Output(u32),
}

impl Node {
    pub fn op(op: Op, children: Vec<Id>) -> Node {
        Node::Op(OpKey::single(op), children)
    }

    /// The op of an op node.
    pub fn as_op(&self) -> Option<&Op> {
        match self {
            Node::Op(k, _) => Some(k.op()),
            Node::Input(_) | Node::Const(_) | Node::Absent | Node::Output(..) => None,
        }
    }
}

impl Language for Node {
    type Discriminant = Discriminant;

    fn discriminant(&self) -> Discriminant {
        match self {
            Node::Input(i) => Discriminant::Input(*i),
            Node::Const(c) => Discriminant::Const(*c),
            Node::Absent => Discriminant::Absent,
            Node::Op(k, ch) => Discriminant::Op(k.clone(), ch.len()),
            Node::Output(k, _) => Discriminant::Output(*k),
        }
    }

    fn matches(&self, other: &Self) -> bool {
        self.discriminant() == other.discriminant()
    }

    fn children(&self) -> &[Id] {
        match self {
            Node::Input(_) | Node::Const(_) | Node::Absent => &[],
            Node::Op(_, ch) => ch,
            Node::Output(_, ch) => ch,
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            Node::Input(_) | Node::Const(_) | Node::Absent => &mut [],
            Node::Op(_, ch) => ch,
            Node::Output(_, ch) => ch,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Input(i) => write!(f, "input{i}"),
            Node::Const(c) => write!(f, "const{}", c.0),
            Node::Absent => f.write_str("absent"),
            Node::Op(k, _) => f.write_str(&ir::text::op_text(k.op())),
            Node::Output(k, _) => write!(f, "out{k}"),
        }
    }
}

/// Pattern heads for the attribute-free ops rules write as patterns: `MatMul`, `Add`, `Sub`,
/// `Mul`, `Div`.
impl FromOp for Node {
    type Error = String;

    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, Self::Error> {
        let op = match op {
            "MatMul" => Op::MatMul,
            "Add" => Op::Binary(BinaryOp::Add),
            "Sub" => Op::Binary(BinaryOp::Sub),
            "Mul" => Op::Binary(BinaryOp::Mul),
            "Div" => Op::Binary(BinaryOp::Div),
            other => return Err(format!("no pattern head '{other}'")),
        };
        Ok(Node::op(op, children))
    }
}
