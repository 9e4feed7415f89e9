//! Building kernel bodies: the value of a graph value at an iteration point, with elementwise
//! members of the group inlined and everything else loaded through its view.

use crate::error::CodegenError;
use crate::kernel::{BinaryFn, Body, Indirect, Inst, InstId, Scalar, UnaryFn};
use crate::lowering::classify::{Class, shape_of};
use crate::lowering::view::{View, broadcast_map};
use crate::lowering::{KernelCx, Lowerer, internal};
use ir::op::{BinaryOp, UnaryOp};
use ir::{Op, ValueId};
use std::collections::HashMap;

/// A body under construction, over an iteration space of rank `rank`.
pub(crate) struct BodyCx {
    body: Body,
    memo: HashMap<(ValueId, Vec<Option<usize>>), InstId>,
    pub rank: usize,
    /// The instruction standing for the anchor's output, once made.
    pub anchor: Option<InstId>,
}

impl BodyCx {
    pub fn new(rank: usize) -> BodyCx {
        BodyCx {
            body: Body::default(),
            memo: HashMap::new(),
            rank,
            anchor: None,
        }
    }

    pub fn push(&mut self, inst: Inst) -> InstId {
        self.body.push(inst)
    }

    pub fn c(&mut self, value: f64, ty: Scalar) -> InstId {
        self.push(Inst::Const { value, ty })
    }

    pub fn un(&mut self, f: UnaryFn, x: InstId) -> InstId {
        self.push(Inst::Unary(f, x))
    }

    pub fn bin(&mut self, f: BinaryFn, a: InstId, b: InstId) -> InstId {
        self.push(Inst::Binary(f, a, b))
    }

    fn fbin(&mut self, f: BinaryFn, a: InstId, k: f32) -> InstId {
        let c = self.c(k as f64, Scalar::F32);
        self.bin(f, a, c)
    }

    pub fn finish(self) -> Body {
        self.body
    }
}

impl Lowerer<'_> {
    /// The instruction computing `v` at the point whose coordinates in `v`'s shape are given by
    /// `map` (per dim of `v`: the iteration dim it follows, or `None` for 0).
    pub(crate) fn value_at(
        &mut self,
        k: &mut KernelCx,
        b: &mut BodyCx,
        gi: usize,
        v: ValueId,
        map: &[Option<usize>],
    ) -> Result<InstId, CodegenError> {
        if let Some(&i) = b.memo.get(&(v, map.to_vec())) {
            return Ok(i);
        }
        let inst = if self.grouping.groups[gi].anchor_values.contains(&v)
            && let Some(a) = b.anchor
        {
            a
        } else {
            match self.producer(v) {
                Some(n)
                    if self.grouping.of_node[n.index()] == Some(gi)
                        && matches!(
                            self.classes[n.index()],
                            Class::Elementwise | Class::Gather
                        ) =>
                {
                    self.node_at(k, b, gi, n, map)?
                }
                Some(_) | None => {
                    let view = self.view_of(v)?;
                    let arg = k.arg(view.buf);
                    b.push(Inst::Load(view.access(arg, map, b.rank)))
                }
            }
        };
        b.memo.insert((v, map.to_vec()), inst);
        Ok(inst)
    }

    /// The instructions of one elementwise (or Gather) node at a point.
    fn node_at(
        &mut self,
        k: &mut KernelCx,
        b: &mut BodyCx,
        gi: usize,
        n: ir::NodeId,
        map: &[Option<usize>],
    ) -> Result<InstId, CodegenError> {
        let g = self.g;
        let node = g.node(n);
        let out_shape = shape_of(g, node.outputs[0]);
        if let Op::Gather { axis } = &node.op {
            return self.gather_at(k, b, node, *axis, map);
        }
        let mut ins: Vec<Option<InstId>> = Vec::with_capacity(node.inputs.len());
        for (i, v) in node.inputs.iter().enumerate() {
            ins.push(match v {
                Some(v) => {
                    let shape = shape_of(g, *v);
                    let statistic = i > 0 && matches!(node.op, Op::BatchNormalization { .. });
                    // BatchNormalization's per-channel statistics follow dim 1, per-activation
                    // ones every dim after the batch; other inputs broadcast.
                    let m = if statistic && shape.len() == 1 {
                        vec![map.get(1).copied().flatten()]
                    } else if statistic {
                        map[1..].to_vec()
                    } else {
                        broadcast_map(&shape, &out_shape, map)
                    };
                    Some(self.value_at(k, b, gi, *v, &m)?)
                }
                None => None,
            });
        }
        let x = |i: usize| {
            ins.get(i)
                .copied()
                .flatten()
                .ok_or_else(|| internal("missing input"))
        };
        let f32c = Scalar::F32;
        Ok(match &node.op {
            Op::Unary(u) => {
                let input = node.inputs[0].ok_or_else(|| internal("unary without input"))?;
                let ty = Scalar::of(self.dtype(input)?).ok_or_else(|| internal("unary dtype"))?;
                unary(b, *u, x(0)?, ty)?
            }
            Op::Binary(op) => {
                let (a, c) = (x(0)?, x(1)?);
                match op {
                    BinaryOp::Add => b.bin(BinaryFn::Add, a, c),
                    BinaryOp::Sub => b.bin(BinaryFn::Sub, a, c),
                    BinaryOp::Mul => b.bin(BinaryFn::Mul, a, c),
                    BinaryOp::Div => b.bin(BinaryFn::Div, a, c),
                    BinaryOp::Max => b.bin(BinaryFn::Max, a, c),
                    BinaryOp::Min => b.bin(BinaryFn::Min, a, c),
                    BinaryOp::Equal => b.bin(BinaryFn::Eq, a, c),
                    BinaryOp::Less => b.bin(BinaryFn::Lt, a, c),
                    BinaryOp::LessOrEqual => b.bin(BinaryFn::Le, a, c),
                    BinaryOp::Greater => b.bin(BinaryFn::Gt, a, c),
                    BinaryOp::GreaterOrEqual => b.bin(BinaryFn::Ge, a, c),
                    BinaryOp::And => b.bin(BinaryFn::And, a, c),
                    BinaryOp::Or => b.bin(BinaryFn::Or, a, c),
                    BinaryOp::Xor => b.bin(BinaryFn::Xor, a, c),
                    BinaryOp::PRelu => {
                        let zero = b.c(0.0, f32c);
                        let neg = b.bin(BinaryFn::Lt, a, zero);
                        let scaled = b.bin(BinaryFn::Mul, a, c);
                        b.push(Inst::Select(neg, scaled, a))
                    }
                    BinaryOp::Pow => {
                        let e = node.inputs[1]
                            .and_then(|v| self.known[v.index()].as_ref())
                            .filter(|t| t.len() == 1)
                            .map(|t| t.to_f64_vec()[0]);
                        match e {
                            Some(1.0) => a,
                            Some(2.0) => b.bin(BinaryFn::Mul, a, a),
                            Some(3.0) => {
                                let sq = b.bin(BinaryFn::Mul, a, a);
                                b.bin(BinaryFn::Mul, sq, a)
                            }
                            Some(0.5) => b.un(UnaryFn::Sqrt, a),
                            Some(e) => {
                                let ec = b.c(e, f32c);
                                b.bin(BinaryFn::Pow, a, ec)
                            }
                            None => b.bin(BinaryFn::Pow, a, c),
                        }
                    }
                    BinaryOp::Mod { .. }
                    | BinaryOp::BitwiseAnd
                    | BinaryOp::BitwiseOr
                    | BinaryOp::BitwiseXor
                    | BinaryOp::BitShiftLeft
                    | BinaryOp::BitShiftRight => return Err(internal("binary op not lowered")),
                }
            }
            Op::Where => {
                let (c, t, f) = (x(0)?, x(1)?, x(2)?);
                b.push(Inst::Select(c, t, f))
            }
            Op::Clip => {
                let mut y = x(0)?;
                if let Some(lo) = ins.get(1).copied().flatten() {
                    y = b.bin(BinaryFn::Max, y, lo);
                }
                if let Some(hi) = ins.get(2).copied().flatten() {
                    y = b.bin(BinaryFn::Min, y, hi);
                }
                y
            }
            Op::BatchNormalization { epsilon } => {
                let (x, scale, bias, mean, var) = (x(0)?, x(1)?, x(2)?, x(3)?, x(4)?);
                let eps = b.c(*epsilon as f64, f32c);
                let ve = b.bin(BinaryFn::Add, var, eps);
                let sd = b.un(UnaryFn::Sqrt, ve);
                let centered = b.bin(BinaryFn::Sub, x, mean);
                let scaled = b.bin(BinaryFn::Mul, centered, scale);
                let normalized = b.bin(BinaryFn::Div, scaled, sd);
                b.bin(BinaryFn::Add, normalized, bias)
            }
            Op::Cast { .. } | Op::CastLike { .. } => {
                let to = self.dtype(node.outputs[0])?;
                let s = Scalar::of(to).ok_or_else(|| internal("cast to an unsupported dtype"))?;
                b.push(Inst::Cast(x(0)?, s))
            }
            other => return Err(internal(&format!("{} is not elementwise", other.name()))),
        })
    }

    /// Gather at a point: the index is loaded, then the data through an indirect access.
    fn gather_at(
        &mut self,
        k: &mut KernelCx,
        b: &mut BodyCx,
        node: &ir::Node,
        axis: i64,
        map: &[Option<usize>],
    ) -> Result<InstId, CodegenError> {
        let g = self.g;
        let (data, idx) = match (
            node.inputs.first().copied().flatten(),
            node.inputs.get(1).copied().flatten(),
        ) {
            (Some(d), Some(i)) => (d, i),
            _ => return Err(internal("gather without inputs")),
        };
        let dview: View = self.view_of(data)?;
        let rank = dview.shape.len();
        let axis = ir::shape::normalize_axis(axis, rank)
            .map_err(|e| crate::lowering::node_err(node, e))?;
        // The index buffer is range-checked whole, so it must be exactly the indices.
        let ibuf = self.dense_buffer(idx, false)?;
        let iview = View::dense(ibuf, &shape_of(g, idx));
        let q = iview.shape.len();
        let iarg = k.arg(ibuf);
        let imap: Vec<Option<usize>> = (0..q)
            .map(|j| map.get(axis + j).copied().flatten())
            .collect();
        let index = b.push(Inst::Load(iview.access(iarg, &imap, b.rank)));
        let extent = dview.shape[axis] as i64;
        if !k
            .index_checks
            .iter()
            .any(|c| c.arg == iarg && c.extent == extent)
        {
            k.index_checks.push(crate::kernel::IndexCheck {
                arg: iarg,
                extent,
                node: node.name.clone(),
            });
        }
        let dmap: Vec<Option<usize>> = (0..rank)
            .map(|d| match d.cmp(&axis) {
                std::cmp::Ordering::Less => map.get(d).copied().flatten(),
                std::cmp::Ordering::Equal => None,
                std::cmp::Ordering::Greater => map.get(d + q - 1).copied().flatten(),
            })
            .collect();
        let darg = k.arg(dview.buf);
        let mut access = dview.access(darg, &dmap, b.rank);
        access.indirect = Some(Indirect {
            index,
            extent,
            stride: dview.strides[axis],
        });
        Ok(b.push(Inst::Load(access)))
    }
}

/// A unary op as scalar instructions (compositions for the activations); `ty` is x's type.
fn unary(b: &mut BodyCx, u: UnaryOp, x: InstId, ty: Scalar) -> Result<InstId, CodegenError> {
    let f = Scalar::F32;
    Ok(match u {
        UnaryOp::Abs => b.un(UnaryFn::Abs, x),
        UnaryOp::Neg => b.un(UnaryFn::Neg, x),
        UnaryOp::Sign => b.un(UnaryFn::Sign, x),
        UnaryOp::Exp => b.un(UnaryFn::Exp, x),
        UnaryOp::Log => b.un(UnaryFn::Log, x),
        UnaryOp::Sqrt => b.un(UnaryFn::Sqrt, x),
        UnaryOp::Reciprocal => b.un(UnaryFn::Recip, x),
        UnaryOp::Floor => b.un(UnaryFn::Floor, x),
        UnaryOp::Ceil => b.un(UnaryFn::Ceil, x),
        UnaryOp::Round => b.un(UnaryFn::Round, x),
        UnaryOp::Sin => b.un(UnaryFn::Sin, x),
        UnaryOp::Cos => b.un(UnaryFn::Cos, x),
        UnaryOp::Tanh => b.un(UnaryFn::Tanh, x),
        UnaryOp::Erf => b.un(UnaryFn::Erf, x),
        UnaryOp::Sigmoid => b.un(UnaryFn::Sigmoid, x),
        UnaryOp::Not => b.un(UnaryFn::Not, x),
        UnaryOp::IsNaN => {
            let eq = b.bin(BinaryFn::Eq, x, x);
            b.un(UnaryFn::Not, eq)
        }
        UnaryOp::Relu => {
            // Relu also applies to integers: the zero takes x's type.
            let zero = b.c(0.0, ty);
            b.bin(BinaryFn::Max, x, zero)
        }
        UnaryOp::LeakyRelu { alpha } => {
            let zero = b.c(0.0, f);
            let neg = b.bin(BinaryFn::Lt, x, zero);
            let s = b.fbin(BinaryFn::Mul, x, alpha);
            b.push(Inst::Select(neg, s, x))
        }
        UnaryOp::Elu { alpha } => {
            let zero = b.c(0.0, f);
            let neg = b.bin(BinaryFn::Lt, x, zero);
            let e = b.un(UnaryFn::Exp, x);
            let em1 = b.fbin(BinaryFn::Sub, e, 1.0);
            let s = b.fbin(BinaryFn::Mul, em1, alpha);
            b.push(Inst::Select(neg, s, x))
        }
        UnaryOp::Selu { alpha, gamma } => {
            let zero = b.c(0.0, f);
            let pos = b.bin(BinaryFn::Gt, x, zero);
            let e = b.un(UnaryFn::Exp, x);
            let ae = b.fbin(BinaryFn::Mul, e, alpha);
            let neg = b.fbin(BinaryFn::Sub, ae, alpha);
            let v = b.push(Inst::Select(pos, x, neg));
            b.fbin(BinaryFn::Mul, v, gamma)
        }
        UnaryOp::Celu { alpha } => {
            let zero = b.c(0.0, f);
            let xa = b.fbin(BinaryFn::Div, x, alpha);
            let e = b.un(UnaryFn::Exp, xa);
            let em1 = b.fbin(BinaryFn::Sub, e, 1.0);
            let neg = b.fbin(BinaryFn::Mul, em1, alpha);
            let lo = b.bin(BinaryFn::Min, zero, neg);
            let hi = b.bin(BinaryFn::Max, zero, x);
            b.bin(BinaryFn::Add, hi, lo)
        }
        UnaryOp::HardSigmoid { alpha, beta } => {
            let ax = b.fbin(BinaryFn::Mul, x, alpha);
            let v = b.fbin(BinaryFn::Add, ax, beta);
            let lo = b.fbin(BinaryFn::Max, v, 0.0);
            b.fbin(BinaryFn::Min, lo, 1.0)
        }
        UnaryOp::HardSwish => {
            let v = b.fbin(BinaryFn::Mul, x, 1.0 / 6.0);
            let v = b.fbin(BinaryFn::Add, v, 0.5);
            let lo = b.fbin(BinaryFn::Max, v, 0.0);
            let hs = b.fbin(BinaryFn::Min, lo, 1.0);
            b.bin(BinaryFn::Mul, x, hs)
        }
        UnaryOp::Softsign => {
            let a = b.un(UnaryFn::Abs, x);
            let d = b.fbin(BinaryFn::Add, a, 1.0);
            b.bin(BinaryFn::Div, x, d)
        }
        UnaryOp::Swish { alpha } => {
            let ax = b.fbin(BinaryFn::Mul, x, alpha);
            let s = b.un(UnaryFn::Sigmoid, ax);
            b.bin(BinaryFn::Mul, x, s)
        }
        UnaryOp::Gelu { tanh } => {
            let inner = if tanh {
                let x3 = b.bin(BinaryFn::Mul, x, x);
                let x3 = b.bin(BinaryFn::Mul, x3, x);
                let t = b.fbin(BinaryFn::Mul, x3, 0.044715);
                let s = b.bin(BinaryFn::Add, x, t);
                let s = b.fbin(BinaryFn::Mul, s, (2.0 / std::f64::consts::PI).sqrt() as f32);
                b.un(UnaryFn::Tanh, s)
            } else {
                let s = b.fbin(BinaryFn::Mul, x, std::f32::consts::FRAC_1_SQRT_2);
                b.un(UnaryFn::Erf, s)
            };
            let one = b.fbin(BinaryFn::Add, inner, 1.0);
            let hx = b.fbin(BinaryFn::Mul, x, 0.5);
            b.bin(BinaryFn::Mul, hx, one)
        }
        UnaryOp::ThresholdedRelu { alpha } => {
            let a = b.c(alpha as f64, f);
            let gt = b.bin(BinaryFn::Gt, x, a);
            let zero = b.c(0.0, f);
            b.push(Inst::Select(gt, x, zero))
        }
        UnaryOp::Tan
        | UnaryOp::Asin
        | UnaryOp::Acos
        | UnaryOp::Atan
        | UnaryOp::Sinh
        | UnaryOp::Cosh
        | UnaryOp::Asinh
        | UnaryOp::Acosh
        | UnaryOp::Atanh
        | UnaryOp::BitwiseNot
        | UnaryOp::IsInf { .. }
        | UnaryOp::Softplus
        | UnaryOp::Mish
        | UnaryOp::Shrink { .. } => return Err(internal(&format!("{} is not lowered", u.name()))),
    })
}
