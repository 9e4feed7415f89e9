//! The e-class analysis: per class, the type of each output, its value where known at compile
//! time (constants, and small all-constant results folded through the interpreter), and whether
//! it is weight-only (computable from constants alone, so folded before the program runs).
//!
//! Invariant: every node added to a class is checked by shape inference against its children;
//! rules compare a replacement's type with the class's before they union (see `rules::guard`).

use crate::consts::{ConstId, ConstPool};
use crate::lang::Node;
use egg::{Analysis, DidMerge, EGraph, Id};
use ir::infer::{Known, fold, infer};
use ir::shape::{Dim, concrete};
use ir::{Tensor, TensorType};
use std::sync::Arc;

/// What is known of one output of a class.
#[derive(Clone, Debug, Default)]
pub struct OutInfo {
    pub ty: Option<TensorType>,
    pub value: Option<Arc<Tensor>>,
}

/// The analysis data of one e-class.
#[derive(Clone, Debug, Default)]
pub struct ClassInfo {
    /// One entry for a tensor class, one per output for a tuple class, none for `Absent`.
    pub outputs: Vec<OutInfo>,
    /// Computable from constants alone.
    pub weight_only: bool,
    /// The class holds the tuple of a multi-output op.
    pub tuple: bool,
}

impl ClassInfo {
    /// The type of a tensor class.
    pub fn ty(&self) -> Option<&TensorType> {
        if self.tuple {
            return None;
        }
        self.outputs.first()?.ty.as_ref()
    }

    /// The value of a tensor class, when known at compile time.
    pub fn value(&self) -> Option<&Arc<Tensor>> {
        if self.tuple {
            return None;
        }
        self.outputs.first()?.value.as_ref()
    }

    /// The concrete shape of a tensor class.
    pub fn shape(&self) -> Option<Vec<usize>> {
        concrete(self.ty()?.shape.as_deref()?)
    }

    /// The dims of a tensor class, static or symbolic.
    pub fn dims(&self) -> Option<&[Dim]> {
        self.ty()?.shape.as_deref()
    }

    pub fn rank(&self) -> Option<usize> {
        self.ty()?.rank()
    }
}

/// A record of an approximate rewrite: what it replaced and the error it introduced.
#[derive(Clone, Debug)]
pub struct ApproxRecord {
    pub rule: &'static str,
    /// Constants the approximation introduced; it is in effect when extraction uses them.
    pub introduced: Vec<ConstId>,
    /// Relative Frobenius error of the replaced weight.
    pub rel_error: f64,
    pub what: String,
}

/// The analysis: the constant pool and the types of the graph's inputs.
#[derive(Debug, Default)]
pub struct TensorAnalysis {
    pub pool: ConstPool,
    pub input_types: Vec<TensorType>,
    pub approx: Vec<ApproxRecord>,
}

pub type EG = EGraph<Node, TensorAnalysis>;

impl TensorAnalysis {
    /// Adds a constant node for `t` (interned by content).
    pub fn add_const(egraph: &mut EG, t: Tensor) -> Id {
        let id = egraph.analysis.pool.intern(Arc::new(t), "");
        egraph.add(Node::Const(id))
    }
}

fn make_op(egraph: &EG, op: &ir::Op, outputs: usize, children: &[Id]) -> ClassInfo {
    let infos: Vec<&ClassInfo> = children.iter().map(|&c| &egraph[c].data).collect();
    let weight_only = infos.iter().all(|i| i.weight_only);
    let mut ins: Vec<Option<Known>> = Vec::with_capacity(children.len());
    for (i, &c) in infos.iter().zip(children) {
        if matches!(egraph[c].nodes.first(), Some(Node::Absent)) && i.outputs.is_empty() {
            ins.push(None);
            continue;
        }
        match i.ty() {
            Some(ty) => ins.push(Some(Known {
                ty,
                value: i.value().map(|v| &**v),
            })),
            None => {
                return ClassInfo {
                    outputs: vec![OutInfo::default(); outputs],
                    weight_only,
                    tuple: outputs != 1,
                };
            }
        }
    }
    let tys = match infer(op, &ins, outputs) {
        Ok(t) if t.len() == outputs => t,
        _ => {
            return ClassInfo {
                outputs: vec![OutInfo::default(); outputs],
                weight_only,
                tuple: outputs != 1,
            };
        }
    };
    let folded = if weight_only {
        fold(op, &ins, &tys).ok().flatten()
    } else {
        None
    };
    let outs = match folded {
        Some(vals) => vals
            .into_iter()
            .map(|t| OutInfo {
                ty: Some(TensorType::new(
                    t.dtype(),
                    ir::shape::static_shape(t.shape()),
                )),
                value: Some(Arc::new(t)),
            })
            .collect(),
        None => tys
            .into_iter()
            .map(|ty| OutInfo {
                ty: Some(ty),
                value: None,
            })
            .collect(),
    };
    ClassInfo {
        outputs: outs,
        weight_only,
        tuple: outputs != 1,
    }
}

impl Analysis<Node> for TensorAnalysis {
    type Data = ClassInfo;

    fn make(egraph: &mut EG, enode: &Node, _id: Id) -> ClassInfo {
        match enode {
            Node::Input(i) => ClassInfo {
                outputs: vec![OutInfo {
                    ty: egraph.analysis.input_types.get(*i as usize).cloned(),
                    value: None,
                }],
                weight_only: false,
                tuple: false,
            },
            Node::Const(c) => {
                let t = egraph.analysis.pool.get(*c).clone();
                ClassInfo {
                    outputs: vec![OutInfo {
                        ty: Some(TensorType::new(
                            t.dtype(),
                            ir::shape::static_shape(t.shape()),
                        )),
                        value: Some(t),
                    }],
                    weight_only: true,
                    tuple: false,
                }
            }
            Node::Absent => ClassInfo {
                outputs: vec![],
                weight_only: true,
                tuple: false,
            },
            Node::Op(k, ch) => make_op(egraph, k.op(), k.outputs(), ch),
            Node::Output(k, [t]) => {
                let tuple = &egraph[*t].data;
                ClassInfo {
                    outputs: vec![tuple.outputs.get(*k as usize).cloned().unwrap_or_default()],
                    weight_only: tuple.weight_only,
                    tuple: false,
                }
            }
        }
    }

    fn merge(&mut self, a: &mut ClassInfo, b: ClassInfo) -> DidMerge {
        let mut changed_a = false;
        let mut changed_b = false;
        if a.outputs.len() < b.outputs.len() {
            a.outputs.resize(b.outputs.len(), OutInfo::default());
            changed_a = true;
        }
        for (k, ob) in b.outputs.into_iter().enumerate() {
            let oa = &mut a.outputs[k];
            match (&oa.ty, ob.ty) {
                (None, Some(t)) => {
                    oa.ty = Some(t);
                    changed_a = true;
                }
                (Some(_), None) => changed_b = true,
                _ => {}
            }
            match (&oa.value, ob.value) {
                (None, Some(v)) => {
                    oa.value = Some(v);
                    changed_a = true;
                }
                (Some(_), None) => changed_b = true,
                _ => {}
            }
        }
        if b.weight_only && !a.weight_only {
            a.weight_only = true;
            changed_a = true;
        } else if a.weight_only && !b.weight_only {
            changed_b = true;
        }
        a.tuple |= b.tuple;
        DidMerge(changed_a, changed_b)
    }

    /// A class whose value became known gets a constant node, so extraction can pick it.
    fn modify(egraph: &mut EG, id: Id) {
        let Some(v) = egraph[id].data.value().cloned() else {
            return;
        };
        if egraph[id].nodes.iter().any(|n| matches!(n, Node::Const(_))) {
            return;
        }
        let c = egraph.analysis.pool.intern(v, "");
        let cid = egraph.add(Node::Const(c));
        egraph.union(id, cid);
    }
}
