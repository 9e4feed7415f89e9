//! Emission of a body at iteration points: addresses of accesses, the instructions hoisted out
//! of the innermost loop (once per entry, as scalars), the varying ones per loop step (`copies`
//! unrolled copies of `lanes` lanes each), and the dense stores.
//!
//! Within one step every instruction is emitted for all copies before the next (independent
//! chains interleave), and every load of a step precedes its stores, so an output that aliases
//! an input read at the same point (in-place epilogues) reads each element before writing it.

use crate::cpu::jit::analysis::BodyInfo;
use crate::cpu::jit::convert;
use crate::cpu::jit::inst::{self, Cx, Lanes};
use crate::cpu::jit::libcalls::Libs;
use crate::error::CodegenError;
use crate::kernel::{Body, Inst, Scalar};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::FunctionBuilder;
use ir::DType;
use std::borrow::Cow;

/// Function-wide facts: code shape, the args' dtypes and base addresses.
pub(crate) struct Fx<'a> {
    pub cx: Cx,
    pub dtypes: &'a [DType],
    pub bases: Vec<Value>,
}

impl<'a> Fx<'a> {
    /// Loads every arg's base address from the `args` array (in the entry block).
    pub(crate) fn new(
        b: &mut FunctionBuilder,
        fma: bool,
        dtypes: &'a [DType],
        args: Value,
        ptr: types::Type,
    ) -> Fx<'a> {
        let step = ptr.bytes() as i32;
        let bases = (0..dtypes.len())
            .map(|i| b.ins().load(ptr, convert::flags(), args, step * i as i32))
            .collect();
        Fx {
            cx: Cx {
                lanes: Lanes::One,
                fma,
            },
            dtypes,
            bases,
        }
    }
}

/// What a body's `Anchor` evaluates to.
#[derive(Clone, Copy)]
pub(crate) enum AnchorVal<'v> {
    None,
    /// The dense load of this arg at the point.
    Dense(usize),
    /// One value per copy (of the step's lanes).
    PerCopy(&'v [Value]),
    /// One scalar for the whole loop.
    Fixed(Value),
}

/// Values of a body's instructions: hoisted scalars, their splats, and the current step's
/// varying values per copy.
#[derive(Default)]
pub(crate) struct Vals {
    inv: Vec<Option<Value>>,
    splat: Vec<Option<Value>>,
    var: Vec<Vec<Value>>,
}

/// A body ready to emit over a space of shape `shape` whose innermost loop runs along `inner`.
pub(crate) struct BodyGen<'a> {
    pub body: Cow<'a, Body>,
    pub info: BodyInfo,
    /// Row-major strides of the space: stores and dense anchors.
    pub dense: Vec<i64>,
    pub inner: Option<usize>,
}

fn elem_bytes(dtype: DType) -> i64 {
    dtype.bytes_for(1) as i64
}

fn jit(msg: &str) -> CodegenError {
    CodegenError::Unsupported(msg.to_string())
}

impl<'a> BodyGen<'a> {
    /// The value of instruction `k` for copy `u` of a step of `lanes` lanes.
    pub(crate) fn value(
        &self,
        vals: &Vals,
        k: usize,
        u: usize,
        lanes: Lanes,
    ) -> Result<Value, CodegenError> {
        let v = if self.info.variant[k] {
            vals.var[k].get(u).copied()
        } else if lanes == Lanes::Four {
            vals.splat[k]
        } else {
            vals.inv[k]
        };
        v.ok_or_else(|| jit(&format!("value {k} used before it is emitted")))
    }

    /// `base + (offset + Σ strides·idx) · size` with the inner dim's term last (so the rest is
    /// loop-invariant), and the copy's displacement returned as an immediate when it fits.
    #[allow(clippy::too_many_arguments)]
    fn address(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        arg: usize,
        offset: i64,
        strides: &[i64],
        idx: &[Value],
        copy_elems: i64,
    ) -> (Value, i32) {
        let size = elem_bytes(fx.dtypes[arg]);
        let mut addr = fx.bases[arg];
        for (d, &s) in strides.iter().enumerate() {
            if s != 0 && Some(d) != self.inner {
                let t = b.ins().imul_imm_s(idx[d], s.wrapping_mul(size));
                addr = b.ins().iadd(addr, t);
            }
        }
        if let Some(d) = self.inner
            && strides[d] != 0
        {
            let t = b.ins().imul_imm_s(idx[d], strides[d].wrapping_mul(size));
            addr = b.ins().iadd(addr, t);
        }
        let inner_stride = self.inner.map_or(0, |d| strides[d]);
        let disp = offset
            .wrapping_add(copy_elems.wrapping_mul(inner_stride))
            .wrapping_mul(size);
        match i32::try_from(disp) {
            Ok(off) => (addr, off),
            Err(_) => (b.ins().iadd_imm_s(addr, disp), 0),
        }
    }

    /// Emits instruction `k` for copy `u`.
    #[allow(clippy::too_many_arguments)]
    fn lower(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        k: usize,
        u: usize,
        lanes: Lanes,
        idx: &[Value],
        vals: &Vals,
        anchor: AnchorVal,
    ) -> Result<Value, CodegenError> {
        let cx = fx.cx.with(lanes);
        let copy_elems = u as i64 * lanes.count();
        let get = |x: crate::kernel::InstId| self.value(vals, x.index(), u, lanes);
        let types = &self.info.types;
        Ok(match &self.body.insts[k] {
            Inst::Load(a) => {
                let (mut addr, off) =
                    self.address(b, fx, a.arg, a.offset, &a.strides, idx, copy_elems);
                if let Some(ind) = &a.indirect {
                    // The index is a scalar (a varying index keeps the loop scalar).
                    let j = self.value(vals, ind.index.index(), u, Lanes::One)?;
                    let j = if types[ind.index.index()] == Scalar::I32 {
                        b.ins().sextend(types::I64, j)
                    } else {
                        j
                    };
                    let neg = b.ins().icmp_imm_s(IntCC::SignedLessThan, j, 0);
                    let wrapped = b.ins().iadd_imm_s(j, ind.extent);
                    let j = b.ins().select(neg, wrapped, j);
                    let size = elem_bytes(fx.dtypes[a.arg]);
                    let t = b.ins().imul_imm_s(j, ind.stride.wrapping_mul(size));
                    addr = b.ins().iadd(addr, t);
                }
                convert::load(b, cx, libs, fx.dtypes[a.arg], addr, off)?
            }
            Inst::Const { value, ty } => inst::constant(b, *value, *ty),
            Inst::Unary(f, x) => inst::unary(b, cx, libs, *f, get(*x)?, types[x.index()])?,
            Inst::Binary(f, x, y) => match (self.info.fma[k], self.clamp(*f, *x, *y)) {
                (Some((p, q, c)), _) => cx.mul_add(b, get(p)?, get(q)?, get(c)?),
                (None, Some((v, c, cc))) => {
                    // max(v, c) = v < c ? c : v (min: >), a NaN `v` kept: one compare and
                    // a blend, where a general fmax orders NaNs and signed zeros in 8.
                    let (v, c) = (get(v)?, get(c)?);
                    let beyond = b.ins().fcmp(cc, v, c);
                    cx.select_f(b, beyond, c, v)
                }
                (None, None) => {
                    inst::binary(b, cx, libs, *f, get(*x)?, get(*y)?, types[x.index()])?
                }
            },
            Inst::Select(c, x, y) => inst::select(b, cx, get(*c)?, get(*x)?, get(*y)?),
            Inst::Cast(x, to) => inst::cast(b, cx, get(*x)?, types[x.index()], *to)?,
            Inst::Anchor => match anchor {
                AnchorVal::Dense(arg) => {
                    let (addr, off) = self.address(b, fx, arg, 0, &self.dense, idx, copy_elems);
                    convert::load(b, cx, libs, fx.dtypes[arg], addr, off)?
                }
                AnchorVal::PerCopy(vs) => vs[u],
                AnchorVal::Fixed(v) => v,
                AnchorVal::None => return Err(jit("Anchor without a value")),
            },
            Inst::Index(d) => {
                if Some(*d) == self.inner && u > 0 {
                    b.ins().iadd_imm_s(idx[*d], u as i64)
                } else {
                    idx[*d]
                }
            }
        })
    }

    /// For an f32 `Max` or `Min` of a value and a constant that is not NaN: (the value, the
    /// constant, the comparison under which the constant wins). This is the interpreter's
    /// Relu and Clip exactly (`v < 0 ? 0 : v`), NaN propagated.
    fn clamp(
        &self,
        f: crate::kernel::BinaryFn,
        x: crate::kernel::InstId,
        y: crate::kernel::InstId,
    ) -> Option<(crate::kernel::InstId, crate::kernel::InstId, FloatCC)> {
        use crate::kernel::BinaryFn;
        let cc = match f {
            BinaryFn::Max => FloatCC::LessThan,
            BinaryFn::Min => FloatCC::GreaterThan,
            _ => return None,
        };
        if self.info.types[x.index()] != Scalar::F32 {
            return None;
        }
        let constant = |i: crate::kernel::InstId| matches!(self.body.insts[i.index()], Inst::Const { value, .. } if !value.is_nan());
        if constant(y) {
            Some((x, y, cc))
        } else if constant(x) {
            Some((y, x, cc))
        } else {
            None
        }
    }

    /// Emits every used instruction that does not vary along the inner dim, as scalars (all
    /// of them when there is no inner dim). `idx[inner]` is not read.
    pub(crate) fn hoist(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        idx: &[Value],
        anchor: AnchorVal,
    ) -> Result<Vals, CodegenError> {
        let n = self.body.insts.len();
        let mut vals = Vals {
            inv: vec![None; n],
            splat: vec![None; n],
            var: vec![Vec::new(); n],
        };
        for k in 0..n {
            if self.info.used[k] && !self.info.variant[k] && !self.info.folded[k] {
                let v = self.lower(b, fx, libs, k, 0, Lanes::One, idx, &vals, anchor)?;
                vals.inv[k] = Some(v);
            }
        }
        Ok(vals)
    }

    /// Broadcasts the hoisted values that vector code reads (operands of varying
    /// instructions, stored values and the `roots` the caller reads per step, like a row's or
    /// a reduction's `x`), once, before the loop.
    pub(crate) fn make_splats(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        vals: &mut Vals,
        roots: &[usize],
    ) {
        let cx = fx.cx.with(Lanes::Four);
        let n = self.body.insts.len();
        let mut need = vec![false; n];
        for k in 0..n {
            if !self.info.used[k] || !self.info.variant[k] {
                continue;
            }
            match &self.body.insts[k] {
                // A load's operand is its (scalar) gather index.
                Inst::Load(_) => {}
                inst => {
                    for o in crate::cpu::jit::analysis::operands(inst) {
                        need[o.index()] = true;
                    }
                }
            }
        }
        for s in &self.body.stores {
            need[s.value.index()] = true;
        }
        for &r in roots {
            need[r] = true;
        }
        for (k, &needed) in need.iter().enumerate() {
            if !needed || self.info.variant[k] {
                continue;
            }
            let Some(v) = vals.inv[k] else { continue };
            vals.splat[k] = match self.info.types[k] {
                Scalar::F32 => Some(cx.splat_f(b, v)),
                Scalar::Bool => Some(cx.splat_bool(b, v)),
                Scalar::I32 | Scalar::I64 => None,
            };
        }
    }

    /// Emits the varying instructions for `copies` copies of `lanes` lanes at `idx` (whose
    /// `inner` entry is the first copy's index).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        idx: &[Value],
        lanes: Lanes,
        copies: usize,
        vals: &mut Vals,
        anchor: AnchorVal,
    ) -> Result<(), CodegenError> {
        for k in 0..self.body.insts.len() {
            if !(self.info.used[k] && self.info.variant[k]) || self.info.folded[k] {
                continue;
            }
            let mut vs = Vec::with_capacity(copies);
            for u in 0..copies {
                vs.push(self.lower(b, fx, libs, k, u, lanes, idx, vals, anchor)?);
            }
            vals.var[k] = vs;
        }
        Ok(())
    }

    /// Emits the body's stores for `copies` copies of `lanes` lanes at `idx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stores(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        idx: &[Value],
        lanes: Lanes,
        copies: usize,
        vals: &Vals,
    ) -> Result<(), CodegenError> {
        let cx = fx.cx.with(lanes);
        for s in &self.body.stores {
            for u in 0..copies {
                let copy_elems = u as i64 * lanes.count();
                let (addr, off) = self.address(b, fx, s.arg, 0, &self.dense, idx, copy_elems);
                let v = self.value(vals, s.value.index(), u, lanes)?;
                convert::store(b, cx, libs, fx.dtypes[s.arg], v, addr, off)?;
            }
        }
        Ok(())
    }

    /// The value of instruction `k` for every copy (for roots like a row's `x`).
    pub(crate) fn values(
        &self,
        vals: &Vals,
        k: usize,
        lanes: Lanes,
        copies: usize,
    ) -> Result<Vec<Value>, CodegenError> {
        (0..copies).map(|u| self.value(vals, k, u, lanes)).collect()
    }
}
