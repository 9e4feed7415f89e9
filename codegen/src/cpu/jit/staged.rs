//! Pointwise kernels whose body computes exp, tanh, erf or sigmoid, staged through the wide
//! helpers (`wide.rs`): the innermost loop runs in chunks of [`CHUNK`] elements; per chunk,
//! stage A evaluates each such function's argument into a stack buffer, the helper applies
//! the function in place at 8 or 16 lanes, and stage B evaluates the whole body with each call
//! replaced by a load from its buffer. Everything else in the body runs twice (stage A only
//! what the arguments need); loads and arithmetic are cheap next to a 4-lane tanh.
//!
//! Applies when the innermost loop is f32x4 and no staged call's argument depends on another
//! staged call (the buffers are filled before any helper runs).

use crate::cpu::jit::analysis::{AnchorKind, BodyInfo, operands, validate};
use crate::cpu::jit::emit::{AnchorVal, BodyGen, Fx};
use crate::cpu::jit::inst::Lanes;
use crate::cpu::jit::libcalls::{LibFn, Libs};
use crate::cpu::jit::loops::counted;
use crate::cpu::jit::pointwise::steps;
use crate::cpu::jit::wide::WideFn;
use crate::error::CodegenError;
use crate::kernel::{Access, Body, Inst, InstId, Scalar, Store};
use cranelift_codegen::ir::{InstBuilder, StackSlotData, StackSlotKind, Value, types};
use cranelift_frontend::FunctionBuilder;
use ir::DType;
use std::borrow::Cow;

/// Elements per chunk: one 1 KiB buffer per staged call, in L1 between the stages.
const CHUNK: i64 = 256;

/// The two stages of a staged body.
pub(crate) struct Staged<'a> {
    /// The kernel's arg dtypes, then one f32 buffer per staged call.
    dtypes: Vec<DType>,
    /// The function of each buffer, in buffer order.
    fns: Vec<WideFn>,
    args: BodyGen<'a>,
    body: BodyGen<'a>,
    unroll_args: usize,
    unroll_body: usize,
}

/// The staged form of `source` (whose innermost loop runs f32x4), when it applies (see the
/// module doc); `unroll` as scheduled.
pub(crate) fn plan<'a>(
    source: &BodyGen,
    dtypes: &[DType],
    anchor: AnchorKind,
    fma: bool,
    unroll: usize,
) -> Result<Option<Staged<'a>>, CodegenError> {
    let (body, info, dense) = (&*source.body, &source.info, &source.dense[..]);
    let Some(inner) = source.inner else {
        return Ok(None);
    };
    let n = body.insts.len();
    let staged: Vec<(usize, WideFn, InstId)> = (0..n)
        .filter(|&k| info.used[k] && info.variant[k] && info.types[k] == Scalar::F32)
        .filter_map(|k| match &body.insts[k] {
            Inst::Unary(f, x) => WideFn::of(*f).map(|w| (k, w, *x)),
            _ => None,
        })
        .collect();
    if staged.is_empty() {
        return Ok(None);
    }
    // Which instructions depend on a staged call.
    let mut after = vec![false; n];
    for k in 0..n {
        after[k] = staged.iter().any(|s| s.0 == k)
            || operands(&body.insts[k]).iter().any(|o| after[o.index()]);
    }
    if staged.iter().any(|&(_, _, x)| after[x.index()]) {
        return Ok(None);
    }
    let nargs = dtypes.len();
    let mut ext: Vec<DType> = dtypes.to_vec();
    ext.extend(std::iter::repeat_n(DType::F32, staged.len()));
    let rank = dense.len();
    // Stage A: the arguments, stored to the buffers.
    let mut args_body = body.clone();
    args_body.stores = staged
        .iter()
        .enumerate()
        .map(|(i, &(_, _, x))| Store {
            value: x,
            arg: nargs + i,
        })
        .collect();
    // Stage B: each call replaced by a dense load of its buffer.
    let mut full = body.clone();
    for (i, &(k, _, _)) in staged.iter().enumerate() {
        full.insts[k] = Inst::Load(Access {
            arg: nargs + i,
            offset: 0,
            strides: dense.to_vec(),
            indirect: None,
        });
    }
    let gen_of = |body: Body| -> Result<(BodyGen<'a>, usize), CodegenError> {
        let types = validate(&body, &[], &ext, rank, anchor)?;
        let info = BodyInfo::new(&body, types, &[], Some(inner), anchor, fma);
        let unroll = if info.heavy(&body) { 1 } else { unroll };
        Ok((
            BodyGen {
                body: Cow::Owned(body),
                info,
                dense: dense.to_vec(),
                inner: Some(inner),
            },
            unroll,
        ))
    };
    let (args, unroll_args) = gen_of(args_body)?;
    let (body, unroll_body) = gen_of(full)?;
    Ok(Some(Staged {
        dtypes: ext,
        fns: staged.iter().map(|s| s.1).collect(),
        args,
        body,
        unroll_args,
        unroll_body,
    }))
}

impl Staged<'_> {
    /// The innermost loop along `d` over `[lo, hi)` at outer point `idx`, chunk by chunk.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn innermost(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        idx: &[Value],
        d: usize,
        lo: Value,
        hi: Value,
        anchor: AnchorVal,
    ) -> Result<(), CodegenError> {
        let slots: Vec<Value> = self
            .fns
            .iter()
            .map(|_| {
                let slot = b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    (CHUNK * 4) as u32,
                    4,
                ));
                b.ins().stack_addr(types::I64, slot, 0)
            })
            .collect();
        // Buffer bases for hoisting: never dereferenced by invariant code (buffer loads vary
        // along `d`), replaced per chunk below.
        let mut ext = Fx {
            cx: fx.cx,
            dtypes: &self.dtypes,
            bases: fx
                .bases
                .iter()
                .copied()
                .chain(slots.iter().copied())
                .collect(),
        };
        let mut vals_args = self.args.hoist(b, &ext, libs, idx, anchor)?;
        let mut vals_body = self.body.hoist(b, &ext, libs, idx, anchor)?;
        self.args.make_splats(b, &ext, &mut vals_args, &[]);
        self.body.make_splats(b, &ext, &mut vals_body, &[]);
        counted(b, lo, hi, CHUNK, false, &[], &mut |b, c0, _| {
            let end = b.ins().iadd_imm_s(c0, CHUNK);
            let c1 = b.ins().smin(end, hi);
            // Buffer i holds element j of the chunk at slot_i + 4 (j - c0); accesses add
            // 4 Σ dense·idx, so its base is slot_i - 4 Σ dense·idx(c0).
            let mut lin = b.ins().iconst(types::I64, 0);
            for (k, &s) in self.body.dense.iter().enumerate() {
                let i = if k == d { c0 } else { idx[k] };
                let t = b.ins().imul_imm_s(i, s * 4);
                lin = b.ins().iadd(lin, t);
            }
            let nargs = fx.bases.len();
            for (i, &slot) in slots.iter().enumerate() {
                ext.bases[nargs + i] = b.ins().isub(slot, lin);
            }
            let mut at = idx.to_vec();
            at[d] = c0;
            let four = |u| (Lanes::Four, u);
            let (args, body) = (&self.args, &self.body);
            steps(
                b,
                &ext,
                libs,
                args,
                &mut vals_args,
                &at,
                (d, c0, c1),
                four(self.unroll_args),
                anchor,
            )?;
            let count = b.ins().isub(c1, c0);
            for (&f, &slot) in self.fns.iter().zip(&slots) {
                let code = b.ins().iconst(types::I64, f as i64);
                libs.call_void(b, LibFn::WideUnary, &[code, slot, count]);
            }
            steps(
                b,
                &ext,
                libs,
                body,
                &mut vals_body,
                &at,
                (d, c0, c1),
                four(self.unroll_body),
                anchor,
            )?;
            Ok(Vec::new())
        })?;
        Ok(())
    }
}
