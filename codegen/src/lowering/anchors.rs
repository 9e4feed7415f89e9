//! Anchored kernels: contractions, convolutions, row normalizations and reductions, with the
//! group's elementwise members as their prologue or epilogue.

use crate::error::CodegenError;
use crate::kernel::{
    BinaryFn, ConvKernel, GemmKernel, GemmOperand, Inst, KernelKind, ReduceFn, ReduceKernel,
    RowKernel, RowOp, Scalar, Store, UnaryFn,
};
use crate::lowering::body::BodyCx;
use crate::lowering::classify::{AnchorKind, shape_of};
use crate::lowering::einsum::einsum_matmul;
use crate::lowering::view::{View, broadcast_map, identity};
use crate::lowering::{KernelCx, Lowerer, internal, node_err};
use ir::interp::conv::geometry::WindowSpec;
use ir::op::{ReduceKind, SoftmaxKind};
use ir::{Graph, Node, NodeId, Op};

/// `(batch, m, n)` of a MatMul or Gemm node's output (1-D operands promoted as numpy does).
pub fn gemm_out_dims(g: &Graph, node: &Node) -> Option<(Vec<usize>, usize, usize)> {
    let a = shape_of(g, node.inputs.first().copied().flatten()?);
    let b = shape_of(g, node.inputs.get(1).copied().flatten()?);
    if let Op::Gemm(attrs) = &node.op {
        if a.len() != 2 || b.len() != 2 {
            return None;
        }
        let m = if attrs.trans_a { a[1] } else { a[0] };
        let n = if attrs.trans_b { b[0] } else { b[1] };
        return Some((Vec::new(), m, n));
    }
    if let Op::Einsum { equation } = &node.op {
        let e = einsum_matmul(equation, &a, &b)?;
        return Some((e.batch_sizes, e.sizes.0, e.sizes.1));
    }
    if !matches!(node.op, Op::MatMul) {
        return None;
    }
    let m = if a.len() >= 2 { a[a.len() - 2] } else { 1 };
    let n = if b.len() >= 2 { b[b.len() - 1] } else { 1 };
    let ba = &a[..a.len().saturating_sub(2)];
    let bb = &b[..b.len().saturating_sub(2)];
    let batch = ir::shape::broadcast(ba, bb).ok()?;
    Some((batch, m, n))
}

/// The batch dims of an epilogue over `shape`, if `shape` is `batch ++ [m, n]` up to size-1
/// dims in the batch.
pub fn rebatch(batch: &[usize], shape: &[usize], m: usize, n: usize) -> Option<Vec<usize>> {
    let r = shape.len();
    if r < 2 || shape[r - 2] != m || shape[r - 1] != n {
        return None;
    }
    let new = &shape[..r - 2];
    let a: Vec<usize> = batch.iter().copied().filter(|&d| d != 1).collect();
    let b: Vec<usize> = new.iter().copied().filter(|&d| d != 1).collect();
    (a == b).then(|| new.to_vec())
}

/// Re-expresses batch strides over `old` batch dims as strides over `new` ones (equal up to
/// size-1 dims).
fn restride(old: &[usize], strides: &[i64], new: &[usize]) -> Vec<i64> {
    let mut it = old.iter().zip(strides).filter(|(d, _)| **d != 1);
    new.iter()
        .map(|&d| {
            if d == 1 {
                0
            } else {
                it.next().map_or(0, |(_, &s)| s)
            }
        })
        .collect()
}

/// A matrix operand: rows along dim `r`, columns along dim `c` of `view` (`None`: a promoted
/// 1-D operand's missing dim, stride 0), batch dims aligned right against `batch`.
fn operand(
    view: &View,
    arg: usize,
    batch: &[usize],
    r: Option<usize>,
    c: Option<usize>,
    batch_rank: usize,
) -> GemmOperand {
    let lead = batch.len().saturating_sub(batch_rank);
    let mut batch_strides = vec![0i64; batch.len()];
    for d in 0..batch_rank {
        if view.shape[d] != 1 {
            batch_strides[lead + d] = view.strides[d];
        }
    }
    GemmOperand {
        arg,
        offset: view.offset,
        batch_strides,
        row_stride: r.map_or(0, |d| view.strides[d]),
        col_stride: c.map_or(0, |d| view.strides[d]),
    }
}

impl Lowerer<'_> {
    /// Completes a contraction's or convolution's epilogue: the fused group's value at each
    /// point (or the anchor's own value when nothing fused), stored to `out`'s new buffer.
    fn finish_epilogue(
        &mut self,
        k: &mut KernelCx,
        mut b: BodyCx,
        gi: usize,
        out: ir::ValueId,
        anchor_value: crate::kernel::InstId,
        fused: bool,
    ) -> Result<crate::kernel::Body, CodegenError> {
        b.anchor = Some(anchor_value);
        let value = if fused {
            let rank = b.rank;
            self.value_at(k, &mut b, gi, out, &identity(rank))?
        } else {
            anchor_value
        };
        let dst = self.new_buffer(out)?;
        let arg = k.arg(dst);
        let mut epilogue = b.finish();
        epilogue.stores.push(Store { value, arg });
        Ok(epilogue)
    }

    pub(crate) fn emit_anchored(
        &mut self,
        gi: usize,
        kind: AnchorKind,
        anchor: NodeId,
        label: String,
        names: Vec<String>,
    ) -> Result<(), CodegenError> {
        match kind {
            AnchorKind::Gemm => self.emit_gemm(gi, anchor, label, names),
            AnchorKind::Conv => self.emit_conv(gi, anchor, label, names),
            AnchorKind::Row => self.emit_row(gi, anchor, label, names),
            AnchorKind::Reduce => self.emit_reduce(gi, anchor, label, names),
        }
    }

    /// The epilogue's output value and shape: the group root's (an epilogue was fused) or the
    /// anchor's own.
    fn epilogue_target(&self, gi: usize) -> (ir::ValueId, Vec<usize>) {
        let root = self.g.node(self.grouping.groups[gi].root);
        let out = root.outputs[0];
        (out, shape_of(self.g, out))
    }

    fn emit_gemm(
        &mut self,
        gi: usize,
        a: NodeId,
        label: String,
        names: Vec<String>,
    ) -> Result<(), CodegenError> {
        let g = self.g;
        let node = g.node(a);
        let (batch, m, n) = gemm_out_dims(g, node).ok_or_else(|| internal("matmul shapes"))?;
        let (out, out_shape) = self.epilogue_target(gi);
        let fused = self.grouping.groups[gi].root != a;
        let space = if fused {
            rebatch(&batch, &out_shape, m, n).ok_or_else(|| internal("epilogue shape"))?
        } else {
            batch.clone()
        };
        let in0 = node.inputs[0].ok_or_else(|| internal("matmul input"))?;
        let in1 = node.inputs[1].ok_or_else(|| internal("matmul input"))?;
        let (va, vb) = (self.view_of(in0)?, self.view_of(in1)?);
        let mut k = KernelCx::default();
        let (arg_a, arg_b) = (k.arg(va.buf), k.arg(vb.buf));
        let (ra, rb) = (va.shape.len(), vb.shape.len());
        let (mut opa, mut opb, k_dim, alpha, beta_c) = match &node.op {
            Op::Gemm(attrs) => {
                let (ar, ac) = if attrs.trans_a { (1, 0) } else { (0, 1) };
                let (br, bc) = if attrs.trans_b { (1, 0) } else { (0, 1) };
                let kd = va.shape[ac];
                let c = node
                    .inputs
                    .get(2)
                    .copied()
                    .flatten()
                    .map(|v| (v, attrs.beta));
                (
                    operand(&va, arg_a, &batch, Some(ar), Some(ac), 0),
                    operand(&vb, arg_b, &batch, Some(br), Some(bc), 0),
                    kd,
                    attrs.alpha,
                    c,
                )
            }
            Op::Einsum { equation } => {
                let e = einsum_matmul(equation, &va.shape, &vb.shape)
                    .ok_or_else(|| internal("einsum is not a matmul"))?;
                let stride = |v: &View, d: Option<usize>| d.map_or(0, |d| v.strides[d]);
                let oa = GemmOperand {
                    arg: arg_a,
                    offset: va.offset,
                    batch_strides: e.batch.iter().map(|&(x, _)| va.strides[x]).collect(),
                    row_stride: stride(&va, e.m),
                    col_stride: stride(&va, e.k.map(|k| k.0)),
                };
                let ob = GemmOperand {
                    arg: arg_b,
                    offset: vb.offset,
                    batch_strides: e.batch.iter().map(|&(_, y)| vb.strides[y]).collect(),
                    row_stride: stride(&vb, e.k.map(|k| k.1)),
                    col_stride: stride(&vb, e.n),
                };
                (oa, ob, e.sizes.2, 1.0, None)
            }
            Op::MatMul => {
                let oa = if ra >= 2 {
                    operand(&va, arg_a, &batch, Some(ra - 2), Some(ra - 1), ra - 2)
                } else {
                    operand(&va, arg_a, &batch, None, Some(0), 0)
                };
                let ob = if rb >= 2 {
                    operand(&vb, arg_b, &batch, Some(rb - 2), Some(rb - 1), rb - 2)
                } else {
                    operand(&vb, arg_b, &batch, Some(0), None, 0)
                };
                (oa, ob, va.shape[ra - 1], 1.0, None)
            }
            other => return Err(internal(&format!("{} is not a contraction", other.name()))),
        };
        opa.batch_strides = restride(&batch, &opa.batch_strides, &space);
        opb.batch_strides = restride(&batch, &opb.batch_strides, &space);
        let rank = space.len() + 2;
        let mut b = BodyCx::new(rank);
        let acc = b.push(Inst::Anchor);
        let anchor_value = match beta_c {
            Some((c, beta)) => {
                let cv = self.view_of(c)?;
                let ep_shape: Vec<usize> = space.iter().copied().chain([m, n]).collect();
                let map = broadcast_map(&cv.shape, &ep_shape, &identity(rank));
                let arg = k.arg(cv.buf);
                let load = b.push(Inst::Load(cv.access(arg, &map, rank)));
                let bc = b.c(beta as f64, Scalar::F32);
                let scaled = b.bin(BinaryFn::Mul, load, bc);
                b.bin(BinaryFn::Add, acc, scaled)
            }
            None => acc,
        };
        let epilogue = self.finish_epilogue(&mut k, b, gi, out, anchor_value, fused)?;
        let kernel = GemmKernel {
            batch: space,
            m,
            n,
            k: k_dim,
            a: opa,
            b: opb,
            alpha,
            epilogue,
        };
        self.push_kernel(label, names, k, KernelKind::Gemm(kernel));
        Ok(())
    }

    fn emit_conv(
        &mut self,
        gi: usize,
        a: NodeId,
        label: String,
        names: Vec<String>,
    ) -> Result<(), CodegenError> {
        let g = self.g;
        let node = g.node(a);
        let Op::Conv(attrs) = &node.op else {
            return Err(internal("conv anchor"));
        };
        let (x, w) = match (
            node.inputs.first().copied().flatten(),
            node.inputs.get(1).copied().flatten(),
        ) {
            (Some(x), Some(w)) => (x, w),
            _ => return Err(internal("conv inputs")),
        };
        let xs = shape_of(g, x);
        let ws = shape_of(g, w);
        let spec = WindowSpec::conv(attrs, &ws[2..]).map_err(|e| node_err(node, e))?;
        let axes = spec.resolve(&xs[2..]).map_err(|e| node_err(node, e))?;
        let (out, out_shape) = self.epilogue_target(gi);
        let mut k = KernelCx::default();
        let xb = self.dense_buffer(x, false)?;
        let wb = self.dense_buffer(w, false)?;
        let (input, weight) = (k.arg(xb), k.arg(wb));
        let rank = out_shape.len();
        let mut b = BodyCx::new(rank);
        let acc = b.push(Inst::Anchor);
        let anchor_value = match node.inputs.get(2).copied().flatten() {
            Some(bias) => {
                let bv = self.view_of(bias)?;
                let arg = k.arg(bv.buf);
                let load = b.push(Inst::Load(bv.access(arg, &[Some(1)], rank)));
                b.bin(BinaryFn::Add, acc, load)
            }
            None => acc,
        };
        let fused = self.grouping.groups[gi].root != a;
        let epilogue = self.finish_epilogue(&mut k, b, gi, out, anchor_value, fused)?;
        let kernel = ConvKernel {
            input,
            weight,
            batch: xs[0],
            c_in: xs[1],
            c_out: ws[0],
            group: attrs.group.max(1),
            in_spatial: xs[2..].to_vec(),
            kernel: ws[2..].to_vec(),
            out_spatial: axes.iter().map(|a| a.output).collect(),
            strides: axes.iter().map(|a| a.stride).collect(),
            dilations: axes.iter().map(|a| a.dilation).collect(),
            pads_begin: axes.iter().map(|a| a.pad_begin).collect(),
            epilogue,
        };
        self.push_kernel(label, names, k, KernelKind::Conv(kernel));
        Ok(())
    }

    fn emit_row(
        &mut self,
        gi: usize,
        a: NodeId,
        label: String,
        names: Vec<String>,
    ) -> Result<(), CodegenError> {
        let g = self.g;
        let node = g.node(a);
        let x = node.inputs[0].ok_or_else(|| internal("row input"))?;
        let shape = shape_of(g, x);
        let rank = shape.len();
        let mut k = KernelCx::default();
        let mut pro = BodyCx::new(rank);
        let xi = self.value_at(&mut k, &mut pro, gi, x, &identity(rank))?;
        let mut epi = BodyCx::new(rank);
        let y = epi.push(Inst::Anchor);
        let scaled = |this: &mut Self,
                      epi: &mut BodyCx,
                      k: &mut KernelCx,
                      y,
                      i: usize,
                      f: BinaryFn|
         -> Result<_, CodegenError> {
            match node.inputs.get(i).copied().flatten() {
                Some(v) => {
                    let view = this.view_of(v)?;
                    let map = broadcast_map(&view.shape, &shape, &identity(rank));
                    let arg = k.arg(view.buf);
                    let load = epi.push(Inst::Load(view.access(arg, &map, rank)));
                    Ok(epi.bin(f, y, load))
                }
                None => Ok(y),
            }
        };
        let (op, y) = match &node.op {
            Op::Softmax { kind, .. } => match kind {
                SoftmaxKind::Softmax => (RowOp::Softmax, y),
                SoftmaxKind::LogSoftmax => (RowOp::LogSoftmax, y),
                SoftmaxKind::Hardmax => return Err(internal("hardmax")),
            },
            Op::LayerNormalization { epsilon, .. } => {
                let y = scaled(self, &mut epi, &mut k, y, 1, BinaryFn::Mul)?;
                let y = scaled(self, &mut epi, &mut k, y, 2, BinaryFn::Add)?;
                (RowOp::LayerNorm { epsilon: *epsilon }, y)
            }
            Op::RmsNormalization { epsilon, .. } => {
                let y = scaled(self, &mut epi, &mut k, y, 1, BinaryFn::Mul)?;
                (RowOp::RmsNorm { epsilon: *epsilon }, y)
            }
            other => return Err(internal(&format!("{} is not a row op", other.name()))),
        };
        let dst = self.new_buffer(node.outputs[0])?;
        let arg = k.arg(dst);
        let mut epilogue = epi.finish();
        epilogue.stores.push(Store { value: y, arg });
        let kernel = RowKernel {
            shape,
            prologue: pro.finish(),
            x: xi,
            op,
            epilogue,
        };
        self.push_kernel(label, names, k, KernelKind::Row(kernel));
        Ok(())
    }

    fn emit_reduce(
        &mut self,
        gi: usize,
        a: NodeId,
        label: String,
        names: Vec<String>,
    ) -> Result<(), CodegenError> {
        let g = self.g;
        let node = g.node(a);
        let Op::Reduce { kind, .. } = &node.op else {
            return Err(internal("reduce anchor"));
        };
        let x = node.inputs[0].ok_or_else(|| internal("reduce input"))?;
        let shape = shape_of(g, x);
        let rank = shape.len();
        let axes: Vec<i64> = match node.inputs.get(1).copied().flatten() {
            Some(v) => self.known[v.index()]
                .as_ref()
                .ok_or_else(|| internal("reduce axes not known"))?
                .to_i64_vec()
                .map_err(|e| node_err(node, e))?,
            None => Vec::new(),
        };
        let mut reduced = vec![axes.is_empty(); rank];
        for &ax in &axes {
            let d = ir::shape::normalize_axis(ax, rank).map_err(|e| node_err(node, e))?;
            reduced[d] = true;
        }
        let count: usize = shape
            .iter()
            .zip(&reduced)
            .filter(|(_, r)| **r)
            .map(|(&n, _)| n)
            .product();
        let mut k = KernelCx::default();
        let mut pro = BodyCx::new(rank);
        let xv = self.value_at(&mut k, &mut pro, gi, x, &identity(rank))?;
        let xi = match kind {
            ReduceKind::SumSquare | ReduceKind::L2 => pro.bin(BinaryFn::Mul, xv, xv),
            ReduceKind::L1 => pro.un(UnaryFn::Abs, xv),
            ReduceKind::Sum
            | ReduceKind::Mean
            | ReduceKind::Max
            | ReduceKind::Min
            | ReduceKind::Prod
            | ReduceKind::LogSum => xv,
            ReduceKind::LogSumExp => return Err(internal("logsumexp")),
        };
        let op = match kind {
            ReduceKind::Max => ReduceFn::Max,
            ReduceKind::Min => ReduceFn::Min,
            ReduceKind::Prod => ReduceFn::Prod,
            ReduceKind::Sum
            | ReduceKind::Mean
            | ReduceKind::SumSquare
            | ReduceKind::L1
            | ReduceKind::L2
            | ReduceKind::LogSum
            | ReduceKind::LogSumExp => ReduceFn::Sum,
        };
        let kept = shape.iter().zip(&reduced).filter(|(_, r)| !**r).count();
        let mut epi = BodyCx::new(kept);
        let r = epi.push(Inst::Anchor);
        let y = match kind {
            ReduceKind::Mean => {
                let c = epi.c(1.0 / count.max(1) as f64, Scalar::F32);
                epi.bin(BinaryFn::Mul, r, c)
            }
            ReduceKind::L2 => epi.un(UnaryFn::Sqrt, r),
            ReduceKind::LogSum => epi.un(UnaryFn::Log, r),
            ReduceKind::Sum
            | ReduceKind::Max
            | ReduceKind::Min
            | ReduceKind::Prod
            | ReduceKind::SumSquare
            | ReduceKind::L1
            | ReduceKind::LogSumExp => r,
        };
        let dst = self.new_buffer(node.outputs[0])?;
        let arg = k.arg(dst);
        let mut epilogue = epi.finish();
        epilogue.stores.push(Store { value: y, arg });
        let kernel = ReduceKernel {
            shape,
            reduced,
            op,
            prologue: pro.finish(),
            x: xi,
            epilogue,
        };
        self.push_kernel(label, names, k, KernelKind::Reduce(kernel));
        Ok(())
    }
}
