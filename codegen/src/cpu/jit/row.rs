//! Row kernels: per row (a point of the outer dims), the prologue's `x` over the row, its
//! statistics in f32 (softmax: max and Σ e^(x-max); layer norm: mean, then the biased
//! variance in a second pass; RMS norm: mean of squares), then the epilogue with `Anchor` the
//! normalized element.
//!
//! Rows up to [`ROW_BUF_MAX`] elements keep `x` (softmax: e^(x-max)) in a stack buffer after
//! the first pass; longer rows, and prologues that are one f32 load, recompute the prologue,
//! without its stores, in later passes. On hosts with AVX2 or AVX-512, buffered softmax and
//! log-softmax rows take their max and Σ e^(x-max) from the wide helpers (`wide.rs`), which
//! run the long exp code at 8 or 16 lanes where generated code has 4.
//! Prologue stores happen in the first pass only, so exactly once per element; the epilogue's
//! stores come in the last pass, after the row's reads of each element.

use crate::cpu::jit::analysis::{AnchorKind, BodyInfo, validate};
use crate::cpu::jit::convert;
use crate::cpu::jit::emit::{AnchorVal, BodyGen, Fx, Vals};
use crate::cpu::jit::folds::{Fold, dim_loop};
use crate::cpu::jit::inst::{Cx, Lanes};
use crate::cpu::jit::libcalls::{LibFn, Libs};
use crate::cpu::jit::loops::Nest;
use crate::cpu::jit::math;
use crate::error::CodegenError;
use crate::error::unsupported;
use crate::kernel::{LoopSchedule, RowKernel, RowOp, Scalar, contiguous_strides};
use cranelift_codegen::ir::{InstBuilder, StackSlotData, StackSlotKind, Type, Value, types};
use cranelift_frontend::FunctionBuilder;
use ir::DType;
use std::borrow::Cow;

/// The longest row kept in a stack buffer (16 KiB of f32).
pub(crate) const ROW_BUF_MAX: usize = 4096;

pub(crate) struct RowPlan<'a> {
    dtypes: &'a [DType],
    nest: Nest,
    n: usize,
    op: RowOp,
    x: usize,
    pro: BodyGen<'a>,
    epi: BodyGen<'a>,
    lanes: Lanes,
    unroll: usize,
    /// Whether the prologue (epilogue) has long code: passes evaluating it run one copy per
    /// step (see `BodyInfo::heavy`).
    pro_heavy: bool,
    epi_heavy: bool,
    /// The stack buffer exists (the row is short enough).
    buffered: bool,
    /// The first pass keeps `x` in the buffer; otherwise later passes recompute it (a plain
    /// f32 load is cheaper to repeat than to copy).
    buf_x: bool,
    empty: bool,
    fma: bool,
    /// The max and the exp sum come from the wide helpers (softmax and log-softmax over a
    /// buffered row, which then always holds `x`).
    wide: bool,
}

pub(crate) fn plan<'a>(
    kernel: &'a RowKernel,
    dtypes: &'a [DType],
    schedule: &LoopSchedule,
    fma: bool,
    wide: bool,
) -> Result<RowPlan<'a>, CodegenError> {
    let shape = &kernel.shape;
    let Some((&n, outer)) = shape.split_last() else {
        return Err(unsupported("row kernel of rank 0"));
    };
    let rank = shape.len();
    let d = rank - 1;
    let roots = [kernel.x];
    let pro_types = validate(&kernel.prologue, &roots, dtypes, rank, AnchorKind::None)?;
    if pro_types[kernel.x.index()] != Scalar::F32 {
        return Err(unsupported("row kernel over a non-f32 x"));
    }
    let epi_types = validate(&kernel.epilogue, &[], dtypes, rank, AnchorKind::Varying)?;
    let nest = Nest::plan(outer, schedule)?;
    let pro = BodyInfo::new(
        &kernel.prologue,
        pro_types,
        &roots,
        Some(d),
        AnchorKind::None,
        fma,
    );
    let epi = BodyInfo::new(
        &kernel.epilogue,
        epi_types,
        &[],
        Some(d),
        AnchorKind::Varying,
        fma,
    );
    let lanes = if nest.vector_width == 4
        && pro.vectorizable(&kernel.prologue, dtypes, d)
        && epi.vectorizable(&kernel.epilogue, dtypes, d)
    {
        Lanes::Four
    } else {
        Lanes::One
    };
    let dense = contiguous_strides(shape);
    let buffered = n <= ROW_BUF_MAX;
    let wide = wide && buffered && matches!(kernel.op, RowOp::Softmax | RowOp::LogSoftmax);
    Ok(RowPlan {
        dtypes,
        n,
        op: kernel.op,
        x: kernel.x.index(),
        unroll: nest.unroll as usize,
        pro_heavy: pro.heavy(&kernel.prologue),
        epi_heavy: epi.heavy(&kernel.epilogue),
        nest,
        pro: BodyGen {
            body: Cow::Borrowed(&kernel.prologue),
            info: pro,
            dense: dense.clone(),
            inner: Some(d),
        },
        epi: BodyGen {
            body: Cow::Borrowed(&kernel.epilogue),
            info: epi,
            dense,
            inner: Some(d),
        },
        lanes,
        buffered,
        buf_x: buffered && (wide || !plain_load(&kernel.prologue, kernel.x, dtypes)),
        empty: shape.contains(&0),
        fma,
        wide,
    })
}

/// Whether the prologue is one f32 load of `x` and nothing else.
fn plain_load(body: &crate::kernel::Body, x: crate::kernel::InstId, dtypes: &[DType]) -> bool {
    body.stores.is_empty()
        && matches!(&body.insts[x.index()], crate::kernel::Inst::Load(a)
            if a.indirect.is_none() && dtypes[a.arg] == DType::F32)
}

/// Per-row state shared by the passes.
struct Row<'r> {
    idx: Vec<Value>,
    pro_vals: Vals,
    epi_vals: Vals,
    buf: Option<Value>,
    fx: &'r Fx<'r>,
}

impl RowPlan<'_> {
    #[cfg(test)]
    pub(crate) fn vectorized(&self) -> bool {
        self.lanes == Lanes::Four
    }

    pub(crate) fn emit(
        &self,
        b: &mut FunctionBuilder,
        [args, begin, end]: [Value; 3],
        ptr: Type,
        libs: &mut Libs,
    ) -> Result<(), CodegenError> {
        libs.zero_upper(b);
        let fx = Fx::new(b, self.fma, self.dtypes, args, ptr);
        if !self.empty {
            let buf = if self.buffered {
                let bytes = (self.n * 4) as u32;
                let slot = b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    bytes,
                    4,
                ));
                Some(b.ins().stack_addr(ptr, slot, 0))
            } else {
                None
            };
            self.nest.emit(b, begin, end, false, &mut |b, idx, _| {
                let mut idx = idx.to_vec();
                idx.push(b.ins().iconst(types::I64, 0));
                self.row(b, &fx, libs, idx, buf)
            })?;
        }
        b.ins().return_(&[]);
        Ok(())
    }

    fn cx(&self) -> Cx {
        Cx {
            lanes: self.lanes,
            fma: self.fma,
        }
    }

    /// One row at outer point `idx` (its last entry a placeholder for the row index).
    fn row(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        idx: Vec<Value>,
        buf: Option<Value>,
    ) -> Result<(), CodegenError> {
        let mut pro_vals = self.pro.hoist(b, fx, libs, &idx, AnchorVal::None)?;
        let mut epi_vals = self.epi.hoist(b, fx, libs, &idx, AnchorVal::None)?;
        if self.lanes == Lanes::Four {
            self.pro.make_splats(b, fx, &mut pro_vals, &[self.x]);
            self.epi.make_splats(b, fx, &mut epi_vals, &[]);
        }
        let mut row = Row {
            idx,
            pro_vals,
            epi_vals,
            buf,
            fx,
        };
        let cx = self.cx();
        let sc = cx.with(Lanes::One);
        let nf = b.ins().f32const(self.n as f32);
        match self.op {
            RowOp::Softmax | RowOp::LogSoftmax => {
                let log = self.op == RowOp::LogSoftmax;
                let keep = !log && self.buffered;
                let (m, s) = match row.buf {
                    Some(buf) if self.wide => {
                        self.pass(b, libs, &mut row, None, &mut |_, _, xs| Ok(xs))?;
                        let n = b.ins().iconst(types::I64, self.n as i64);
                        let m = libs.call(b, LibFn::RowMax, &[buf, n]);
                        let dst = if keep {
                            buf
                        } else {
                            b.ins().iconst(types::I64, 0)
                        };
                        let s = libs.call(b, LibFn::RowExpSum, &[buf, dst, n, m]);
                        (m, s)
                    }
                    _ => {
                        let m =
                            self.pass(b, libs, &mut row, Some(Fold::Max), &mut |_, _, xs| Ok(xs))?;
                        let m = folded(m)?;
                        let s = self.exp_sum_pass(b, libs, &mut row, m, keep)?;
                        (m, s)
                    }
                };
                if log {
                    let ls = math::log(b, sc, s);
                    self.last_pass(b, libs, &mut row, false, false, &mut |b, lanes, xs| {
                        let c = cx.with(lanes);
                        let (mv, lv) = (c.splat_f(b, m), c.splat_f(b, ls));
                        Ok(xs
                            .into_iter()
                            .map(|x| {
                                let t = b.ins().fsub(x, mv);
                                b.ins().fsub(t, lv)
                            })
                            .collect())
                    })
                } else {
                    let one = b.ins().f32const(1.0);
                    let inv = b.ins().fdiv(one, s);
                    let stored = self.buffered;
                    self.last_pass(b, libs, &mut row, stored, !stored, &mut |b, lanes, xs| {
                        let c = cx.with(lanes);
                        let (mv, iv) = (c.splat_f(b, m), c.splat_f(b, inv));
                        Ok(xs
                            .into_iter()
                            .map(|x| {
                                // The buffer holds e^(x-max) already.
                                let e = if stored {
                                    x
                                } else {
                                    let t = b.ins().fsub(x, mv);
                                    math::exp(b, c, t)
                                };
                                b.ins().fmul(e, iv)
                            })
                            .collect())
                    })
                }
            }
            RowOp::LayerNorm { epsilon } => {
                let s = self.pass(b, libs, &mut row, Some(Fold::Add), &mut |_, _, xs| Ok(xs))?;
                let s = folded(s)?;
                let mean = b.ins().fdiv(s, nf);
                let ss = self.pass_x(
                    b,
                    libs,
                    &mut row,
                    Fold::Add,
                    Mid {
                        keep: false,
                        heavy: false,
                    },
                    &mut |b, lanes, xs| {
                        let mv = cx.with(lanes).splat_f(b, mean);
                        Ok(xs
                            .into_iter()
                            .map(|x| {
                                let t = b.ins().fsub(x, mv);
                                b.ins().fmul(t, t)
                            })
                            .collect())
                    },
                )?;
                let var = b.ins().fdiv(ss, nf);
                let rstd = self.rsqrt(b, var, epsilon);
                self.last_pass(b, libs, &mut row, false, false, &mut |b, lanes, xs| {
                    let c = cx.with(lanes);
                    let (mv, rv) = (c.splat_f(b, mean), c.splat_f(b, rstd));
                    Ok(xs
                        .into_iter()
                        .map(|x| {
                            let t = b.ins().fsub(x, mv);
                            b.ins().fmul(t, rv)
                        })
                        .collect())
                })
            }
            RowOp::RmsNorm { epsilon } => {
                let ss = self.pass(b, libs, &mut row, Some(Fold::Add), &mut |b, _, xs| {
                    Ok(xs.into_iter().map(|x| b.ins().fmul(x, x)).collect())
                })?;
                let ss = folded(ss)?;
                let ms = b.ins().fdiv(ss, nf);
                let r = self.rsqrt(b, ms, epsilon);
                self.last_pass(b, libs, &mut row, false, false, &mut |b, lanes, xs| {
                    let rv = cx.with(lanes).splat_f(b, r);
                    Ok(xs.into_iter().map(|x| b.ins().fmul(x, rv)).collect())
                })
            }
        }
    }

    /// The middle pass of softmax in generated code: Σ e^(x-m), the terms replacing `x` in the
    /// buffer with `keep`.
    fn exp_sum_pass(
        &self,
        b: &mut FunctionBuilder,
        libs: &mut Libs,
        row: &mut Row,
        m: Value,
        keep: bool,
    ) -> Result<Value, CodegenError> {
        let cx = self.cx();
        self.pass_x(
            b,
            libs,
            row,
            Fold::Add,
            Mid { keep, heavy: true },
            &mut |b, lanes, xs| {
                let c = cx.with(lanes);
                let mv = c.splat_f(b, m);
                Ok(xs
                    .into_iter()
                    .map(|x| {
                        let t = b.ins().fsub(x, mv);
                        math::exp(b, c, t)
                    })
                    .collect())
            },
        )
    }

    /// Copies per step of a pass: one when it evaluates long code.
    fn copies(&self, heavy: bool) -> usize {
        if heavy { 1 } else { self.unroll }
    }

    /// `1 / sqrt(v + eps)`.
    fn rsqrt(&self, b: &mut FunctionBuilder, v: Value, eps: f32) -> Value {
        let e = b.ins().f32const(eps);
        let t = b.ins().fadd(v, e);
        let s = b.ins().sqrt(t);
        let one = b.ins().f32const(1.0);
        b.ins().fdiv(one, s)
    }

    /// The first pass: the prologue with its stores, `x` into the buffer, `f` of `x` folded
    /// (`None` without a fold).
    fn pass(
        &self,
        b: &mut FunctionBuilder,
        libs: &mut Libs,
        row: &mut Row,
        fold: Option<Fold>,
        f: &mut MapFn<'_>,
    ) -> Result<Option<Value>, CodegenError> {
        let d = self.pro.inner.unwrap_or(0);
        dim_loop(
            b,
            self.cx(),
            self.n as i64,
            self.lanes,
            self.copies(self.pro_heavy),
            fold,
            &mut |b, j, lanes, copies| {
                let mut at = row.idx.clone();
                at[d] = j;
                self.pro.step(
                    b,
                    row.fx,
                    libs,
                    &at,
                    lanes,
                    copies,
                    &mut row.pro_vals,
                    AnchorVal::None,
                )?;
                self.pro
                    .stores(b, row.fx, libs, &at, lanes, copies, &row.pro_vals)?;
                let xs = self.pro.values(&row.pro_vals, self.x, lanes, copies)?;
                if self.buf_x
                    && let Some(buf) = row.buf
                {
                    self.buf_store(b, lanes, buf, j, &xs)?;
                }
                f(b, lanes, xs)
            },
        )
    }

    /// A middle pass: `x` (from the buffer or recomputed), `f` of it folded; with `keep`,
    /// `f`'s values replace `x` in the buffer.
    fn pass_x(
        &self,
        b: &mut FunctionBuilder,
        libs: &mut Libs,
        row: &mut Row,
        fold: Fold,
        mid: Mid,
        f: &mut MapFn<'_>,
    ) -> Result<Value, CodegenError> {
        let r = dim_loop(
            b,
            self.cx(),
            self.n as i64,
            self.lanes,
            self.copies(mid.heavy || (!self.buf_x && self.pro_heavy)),
            Some(fold),
            &mut |b, j, lanes, copies| {
                let xs = self.x_at(b, libs, row, j, lanes, copies)?;
                let ys = f(b, lanes, xs)?;
                if mid.keep
                    && let Some(buf) = row.buf
                {
                    self.buf_store(b, lanes, buf, j, &ys)?;
                }
                Ok(ys)
            },
        )?;
        r.ok_or_else(|| unsupported("row pass without a fold"))
    }

    /// The last pass: `x` (or the buffered values when `stored`), normalized by `f`, into the
    /// epilogue as its `Anchor`, and the epilogue's stores.
    fn last_pass(
        &self,
        b: &mut FunctionBuilder,
        libs: &mut Libs,
        row: &mut Row,
        stored: bool,
        heavy: bool,
        f: &mut MapFn<'_>,
    ) -> Result<(), CodegenError> {
        let d = self.epi.inner.unwrap_or(0);
        let recompute = !stored && !self.buf_x && self.pro_heavy;
        dim_loop(
            b,
            self.cx(),
            self.n as i64,
            self.lanes,
            self.copies(heavy || recompute || self.epi_heavy),
            None,
            &mut |b, j, lanes, copies| {
                let xs = match (stored, row.buf) {
                    (true, Some(buf)) => self.buf_load(b, lanes, buf, j, copies)?,
                    _ => self.x_at(b, libs, row, j, lanes, copies)?,
                };
                let ys = f(b, lanes, xs)?;
                let mut at = row.idx.clone();
                at[d] = j;
                self.epi.step(
                    b,
                    row.fx,
                    libs,
                    &at,
                    lanes,
                    copies,
                    &mut row.epi_vals,
                    AnchorVal::PerCopy(&ys),
                )?;
                self.epi
                    .stores(b, row.fx, libs, &at, lanes, copies, &row.epi_vals)?;
                Ok(Vec::new())
            },
        )?;
        Ok(())
    }

    /// `x` at step `j`: from the buffer, or the prologue again without its stores.
    fn x_at(
        &self,
        b: &mut FunctionBuilder,
        libs: &mut Libs,
        row: &mut Row,
        j: Value,
        lanes: Lanes,
        copies: usize,
    ) -> Result<Vec<Value>, CodegenError> {
        if self.buf_x
            && let Some(buf) = row.buf
        {
            return self.buf_load(b, lanes, buf, j, copies);
        }
        let d = self.pro.inner.unwrap_or(0);
        let mut at = row.idx.clone();
        at[d] = j;
        self.pro.step(
            b,
            row.fx,
            libs,
            &at,
            lanes,
            copies,
            &mut row.pro_vals,
            AnchorVal::None,
        )?;
        self.pro.values(&row.pro_vals, self.x, lanes, copies)
    }

    fn buf_addr(&self, b: &mut FunctionBuilder, buf: Value, j: Value) -> Value {
        let off = b.ins().ishl_imm_u(j, 2);
        b.ins().iadd(buf, off)
    }

    fn buf_store(
        &self,
        b: &mut FunctionBuilder,
        lanes: Lanes,
        buf: Value,
        j: Value,
        vs: &[Value],
    ) -> Result<(), CodegenError> {
        let addr = self.buf_addr(b, buf, j);
        for (u, &v) in vs.iter().enumerate() {
            let off = (u as i64 * lanes.count() * 4) as i32;
            b.ins().store(convert::flags(), v, addr, off);
        }
        Ok(())
    }

    fn buf_load(
        &self,
        b: &mut FunctionBuilder,
        lanes: Lanes,
        buf: Value,
        j: Value,
        copies: usize,
    ) -> Result<Vec<Value>, CodegenError> {
        let addr = self.buf_addr(b, buf, j);
        Ok((0..copies)
            .map(|u| {
                let off = (u as i64 * lanes.count() * 4) as i32;
                b.ins().load(lanes.f32(), convert::flags(), addr, off)
            })
            .collect())
    }
}

/// A folding pass's value (a pass given a fold always has one).
fn folded(v: Option<Value>) -> Result<Value, CodegenError> {
    v.ok_or_else(|| unsupported("row pass without a fold"))
}

/// How a middle pass treats its values: `keep` writes them to the buffer (replacing `x`);
/// `heavy` says its map is long code (one copy per step).
#[derive(Clone, Copy)]
struct Mid {
    keep: bool,
    heavy: bool,
}

/// Maps a step's values of `x` (one per copy) to the values a pass folds or normalizes.
type MapFn<'a> =
    dyn FnMut(&mut FunctionBuilder, Lanes, Vec<Value>) -> Result<Vec<Value>, CodegenError> + 'a;
