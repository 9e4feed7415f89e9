//! The `Jit` path: a generated, register-tiled f32x4 product for tiny shapes, where packing
//! costs more than it saves.
//!
//! The function has the `JitFn` signature: `args[0..3]` are the item's `a`, `b` and accumulator
//! bases, `[begin, end)` the rows to compute. All shapes and strides are compile-time constants.
//! Loop nest: k-chunks of `tile_k` (0: one chunk), then rows by `tile_m` (a 1-row tail), columns
//! by `tile_n` (a constant-width edge tile), and k innermost (unrolled by 4): per step, `tile_n /
//! 4` vectors of b (loaded, or gathered when `b` is strided) and per row one splatted scalar of
//! `a` feed one FMA per accumulator. Chunks after the first resume from the partial sums in the
//! accumulator; the last scales by alpha.

use crate::cpu::gemm::geometry::Geometry;
use crate::cpu::jit::{JitCompiler, KernelFn};
use crate::error::CodegenError;
use crate::kernel::GemmSchedule;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value, types};
use cranelift_frontend::{FunctionBuilder, Variable};

/// Steps of the k loop per iteration.
const UNROLL: usize = 2;
/// k loops of at most this many steps are unrolled completely.
const FULL_UNROLL: usize = 1;

/// The constants of one generated product (strides in elements).
#[derive(Clone, Copy, Debug)]
struct Spec {
    n: usize,
    k: usize,
    a_rs: i64,
    a_cs: i64,
    b_rs: i64,
    b_cs: i64,
    alpha: f32,
    tm: usize,
    tn: usize,
    tk: usize,
}

/// Compiles the product of `geo` under `schedule`'s tiles. Tiles are clamped to what is sane
/// (`tile_m` 1..=8, `tile_n` a multiple of 4 in 4..=32): any schedule computes the same values.
pub(super) fn compile(
    name: &str,
    geo: &Geometry,
    schedule: &GemmSchedule,
    jit: &mut JitCompiler,
) -> Result<KernelFn, CodegenError> {
    let spec = Spec {
        n: geo.n,
        k: geo.k,
        a_rs: geo.a.rs,
        a_cs: geo.a.cs,
        b_rs: geo.b.rs,
        b_cs: geo.b.cs,
        alpha: geo.alpha,
        tm: schedule.tile_m.clamp(1, 8),
        tn: (schedule.tile_n.div_ceil(4) * 4).clamp(4, 32),
        tk: schedule.tile_k,
    };
    jit.define_raw(&format!("{name}.micro"), &mut |b, params, ptr| {
        Emit { spec, ptr }.function(b, params)
    })
}

struct Emit {
    spec: Spec,
    ptr: Type,
}

/// Memory flags: the accesses are in bounds (the caller's contract) but not known aligned.
fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// `ptr + off` as an address and an immediate offset (folding what fits in 32 bits).
fn addr(b: &mut FunctionBuilder, ptr: Value, off: i64) -> (Value, i32) {
    match i32::try_from(off) {
        Ok(o) => (ptr, o),
        Err(_) => (b.ins().iadd_imm_s(ptr, off), 0),
    }
}

fn load(b: &mut FunctionBuilder, ty: Type, ptr: Value, off: i64) -> Value {
    let (p, o) = addr(b, ptr, off);
    b.ins().load(ty, flags(), p, o)
}

/// A load of an operand: `a` and `b` are never written while the function runs (the
/// accumulator is another buffer, checked by the geometry), so their loads are pure and the
/// optimizer places each right before its use instead of all at the top of the unrolled body
/// (which spills).
fn load_operand(b: &mut FunctionBuilder, ty: Type, ptr: Value, off: i64) -> Value {
    let (p, o) = addr(b, ptr, off);
    let f = flags().with_readonly().with_can_move();
    b.ins().load(ty, f, p, o)
}

fn store(b: &mut FunctionBuilder, v: Value, ptr: Value, off: i64) {
    let (p, o) = addr(b, ptr, off);
    b.ins().store(flags(), v, p, o);
}

/// Emits `while cond(iv) { body(iv); iv += step }`; leaves the builder in the exit block.
fn emit_loop(
    b: &mut FunctionBuilder,
    iv: Variable,
    step: i64,
    cond: &dyn Fn(&mut FunctionBuilder, Value) -> Value,
    body: &mut dyn FnMut(&mut FunctionBuilder, Value) -> Result<(), CodegenError>,
) -> Result<(), CodegenError> {
    let header = b.create_block();
    let inner = b.create_block();
    let exit = b.create_block();
    b.ins().jump(header, &[]);
    b.switch_to_block(header);
    let v = b.use_var(iv);
    let c = cond(b, v);
    b.ins().brif(c, inner, &[], exit, &[]);
    b.switch_to_block(inner);
    b.seal_block(inner);
    body(b, v)?;
    let v = b.use_var(iv);
    let next = b.ins().iadd_imm_s(v, step);
    b.def_var(iv, next);
    b.ins().jump(header, &[]);
    b.seal_block(header);
    b.switch_to_block(exit);
    b.seal_block(exit);
    Ok(())
}

impl Emit {
    fn function(&self, b: &mut FunctionBuilder, params: [Value; 3]) -> Result<(), CodegenError> {
        let s = self.spec;
        let [args, begin, end] = params;
        let ptr = self.ptr;
        let bytes = ptr.bytes() as i32;
        let a = b.ins().load(ptr, flags(), args, 0);
        let bm = b.ins().load(ptr, flags(), args, bytes);
        let c = b.ins().load(ptr, flags(), args, 2 * bytes);
        let tk = if s.tk == 0 || s.tk >= s.k { s.k } else { s.tk };
        if tk == s.k {
            let k0 = b.ins().iconst(types::I64, 0);
            self.nest(b, [a, bm, c], [begin, end], k0, s.k, false, true)?;
        } else {
            let chunks = s.k.div_ceil(tk);
            let k0 = b.ins().iconst(types::I64, 0);
            self.nest(b, [a, bm, c], [begin, end], k0, tk, false, false)?;
            if chunks > 2 {
                let kv = b.declare_var(types::I64);
                let first = b.ins().iconst(types::I64, tk as i64);
                b.def_var(kv, first);
                let stop = ((chunks - 1) * tk) as i64;
                emit_loop(
                    b,
                    kv,
                    tk as i64,
                    &|b, v| b.ins().icmp_imm_s(IntCC::SignedLessThan, v, stop),
                    &mut |b, k0| self.nest(b, [a, bm, c], [begin, end], k0, tk, true, false),
                )?;
            }
            let last = (chunks - 1) * tk;
            let k0 = b.ins().iconst(types::I64, last as i64);
            self.nest(b, [a, bm, c], [begin, end], k0, s.k - last, true, true)?;
        }
        b.ins().return_(&[]);
        Ok(())
    }

    /// One k-chunk `[k0, k0 + klen)` over rows `[begin, end)`.
    #[allow(clippy::too_many_arguments)]
    fn nest(
        &self,
        b: &mut FunctionBuilder,
        [a, bm, c]: [Value; 3],
        [begin, end]: [Value; 2],
        k0: Value,
        klen: usize,
        resume: bool,
        last: bool,
    ) -> Result<(), CodegenError> {
        let s = self.spec;
        let ak = b.ins().imul_imm_s(k0, s.a_cs * 4);
        let ak = b.ins().iadd(a, ak);
        let bk = b.ins().imul_imm_s(k0, s.b_rs * 4);
        let bk = b.ins().iadd(bm, bk);
        let iv = b.declare_var(types::I64);
        b.def_var(iv, begin);
        let tile = |rows: usize| {
            move |b: &mut FunctionBuilder, i: Value| -> Result<(), CodegenError> {
                let a_off = b.ins().imul_imm_s(i, s.a_rs * 4);
                let a_row = b.ins().iadd(ak, a_off);
                let c_off = b.ins().imul_imm_s(i, (s.n * 4) as i64);
                let c_row = b.ins().iadd(c, c_off);
                self.row_tile(b, rows, a_row, bk, c_row, klen, resume, last)
            }
        };
        if s.tm > 1 {
            let tm = s.tm as i64;
            emit_loop(
                b,
                iv,
                tm,
                &|b, v| {
                    let top = b.ins().iadd_imm_s(v, tm);
                    b.ins().icmp(IntCC::SignedLessThanOrEqual, top, end)
                },
                &mut tile(s.tm),
            )?;
        }
        emit_loop(
            b,
            iv,
            1,
            &|b, v| b.ins().icmp(IntCC::SignedLessThan, v, end),
            &mut tile(1),
        )
    }

    /// `rows` rows from `a_row` / `c_row`: full column tiles in a loop, then the edge tile.
    #[allow(clippy::too_many_arguments)]
    fn row_tile(
        &self,
        b: &mut FunctionBuilder,
        rows: usize,
        a_row: Value,
        bk: Value,
        c_row: Value,
        klen: usize,
        resume: bool,
        last: bool,
    ) -> Result<(), CodegenError> {
        let s = self.spec;
        let full = s.n / s.tn;
        let edge = s.n % s.tn;
        let col = |b: &mut FunctionBuilder, j: Value, width: usize| -> Result<(), CodegenError> {
            let bo = b.ins().imul_imm_s(j, s.b_cs * 4);
            let b_col = b.ins().iadd(bk, bo);
            let co = b.ins().imul_imm_s(j, 4);
            let c_tile = b.ins().iadd(c_row, co);
            self.col_tile(b, rows, width, a_row, b_col, c_tile, klen, resume, last);
            Ok(())
        };
        if full == 1 {
            let j = b.ins().iconst(types::I64, 0);
            col(b, j, s.tn)?;
        } else if full > 1 {
            let jv = b.declare_var(types::I64);
            let zero = b.ins().iconst(types::I64, 0);
            b.def_var(jv, zero);
            let stop = (full * s.tn) as i64;
            emit_loop(
                b,
                jv,
                s.tn as i64,
                &|b, v| b.ins().icmp_imm_s(IntCC::SignedLessThan, v, stop),
                &mut |b, j| col(b, j, s.tn),
            )?;
        }
        if edge > 0 {
            let j = b.ins().iconst(types::I64, (full * s.tn) as i64);
            col(b, j, edge)?;
        }
        Ok(())
    }

    /// One `rows × width` register tile over a k-chunk of `klen` steps.
    #[allow(clippy::too_many_arguments)]
    fn col_tile(
        &self,
        b: &mut FunctionBuilder,
        rows: usize,
        width: usize,
        a_row: Value,
        b_col: Value,
        c_tile: Value,
        klen: usize,
        resume: bool,
        last: bool,
    ) {
        let s = self.spec;
        let row_bytes = (s.n * 4) as i64;
        let slots = slots(width);
        let per_row = slots.len();
        let zero_s = b.ins().f32const(0.0);
        let zero_v = b.ins().splat(types::F32X4, zero_s);
        let mut acc: Vec<Variable> = Vec::with_capacity(rows * per_row);
        for r in 0..rows {
            let c_r = r as i64 * row_bytes;
            for &slot in &slots {
                let var = b.declare_var(slot.ty());
                let init = match (resume, slot) {
                    (true, _) => gather(b, slot, c_tile, c_r, 4, load),
                    (false, Slot::Scalar(_)) => zero_s,
                    (false, _) => zero_v,
                };
                b.def_var(var, init);
                acc.push(var);
            }
        }
        let pa = b.declare_var(self.ptr);
        let pb = b.declare_var(self.ptr);
        b.def_var(pa, a_row);
        b.def_var(pb, b_col);
        // One k step at `u` steps past the pointers.
        let step = |b: &mut FunctionBuilder, u: i64| {
            let (pa_v, pb_v) = (b.use_var(pa), b.use_var(pb));
            let bv: Vec<Value> = slots
                .iter()
                .map(|&slot| gather(b, slot, pb_v, u * s.b_rs * 4, 4 * s.b_cs, load_operand))
                .collect();
            for r in 0..rows {
                let av = load_operand(b, types::F32, pa_v, 4 * (r as i64 * s.a_rs + u * s.a_cs));
                let vector = slots.iter().any(|sl| sl.ty() == types::F32X4);
                let splat = vector.then(|| b.ins().splat(types::F32X4, av));
                for (v, (&x, slot)) in bv.iter().zip(&slots).enumerate() {
                    let var = acc[r * per_row + v];
                    let cur = b.use_var(var);
                    let m = match slot {
                        Slot::Scalar(_) => av,
                        _ => splat.unwrap_or(av),
                    };
                    let next = b.ins().fma(m, x, cur);
                    b.def_var(var, next);
                }
            }
        };
        let advance = |b: &mut FunctionBuilder, steps: i64| {
            let (pa_v, pb_v) = (b.use_var(pa), b.use_var(pb));
            let na = b.ins().iadd_imm_s(pa_v, steps * s.a_cs * 4);
            let nb = b.ins().iadd_imm_s(pb_v, steps * s.b_rs * 4);
            b.def_var(pa, na);
            b.def_var(pb, nb);
        };
        if klen <= FULL_UNROLL {
            for u in 0..klen {
                step(b, u as i64);
            }
        } else {
            let iters = (klen / UNROLL) as i64;
            let cnt = b.declare_var(types::I64);
            let zero = b.ins().iconst(types::I64, 0);
            b.def_var(cnt, zero);
            // The body never fails: `Result` only to fit `emit_loop`.
            let _ = emit_loop(
                b,
                cnt,
                1,
                &|b, v| b.ins().icmp_imm_s(IntCC::SignedLessThan, v, iters),
                &mut |b, _| {
                    for u in 0..UNROLL {
                        step(b, u as i64);
                    }
                    advance(b, UNROLL as i64);
                    Ok(())
                },
            );
            for u in 0..klen % UNROLL {
                step(b, u as i64);
            }
        }
        let scale = (last && s.alpha != 1.0).then(|| b.ins().f32const(s.alpha));
        let scale_v = scale.map(|x| b.ins().splat(types::F32X4, x));
        for r in 0..rows {
            for (v, &slot) in slots.iter().enumerate() {
                let mut x = b.use_var(acc[r * per_row + v]);
                if let (Some(sv), Some(ss)) = (scale_v, scale) {
                    x = b
                        .ins()
                        .fmul(x, if slot.ty() == types::F32X4 { sv } else { ss });
                }
                scatter(b, slot, x, c_tile, r as i64 * row_bytes);
            }
        }
    }
}

/// One accumulator of a register tile's row: columns from `col0` (relative to the tile).
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Four columns in one f32x4.
    Full(usize),
    /// `lanes` (2 or 3) edge columns in the low lanes of an f32x4 (the others compute zeros
    /// and are never stored).
    Part(usize, usize),
    /// One edge column, scalar.
    Scalar(usize),
}

impl Slot {
    fn ty(self) -> Type {
        match self {
            Slot::Full(_) | Slot::Part(..) => types::F32X4,
            Slot::Scalar(_) => types::F32,
        }
    }

    fn cols(self) -> (usize, usize) {
        match self {
            Slot::Full(c) => (c, 4),
            Slot::Part(c, l) => (c, l),
            Slot::Scalar(c) => (c, 1),
        }
    }
}

/// The accumulators of a row `width` columns wide.
fn slots(width: usize) -> Vec<Slot> {
    let mut v: Vec<Slot> = (0..width / 4).map(|i| Slot::Full(4 * i)).collect();
    match width % 4 {
        0 => {}
        1 => v.push(Slot::Scalar(width - 1)),
        l => v.push(Slot::Part(width - l, l)),
    }
    v
}

/// Reads a slot's columns at `ptr + base + col · stride` bytes: one vector load when they are
/// four contiguous floats, else lane by lane.
fn gather(
    b: &mut FunctionBuilder,
    slot: Slot,
    ptr: Value,
    base: i64,
    stride: i64,
    ld: fn(&mut FunctionBuilder, Type, Value, i64) -> Value,
) -> Value {
    let (c0, lanes) = slot.cols();
    let at = |l: usize| base + (c0 + l) as i64 * stride;
    match slot {
        Slot::Full(_) if stride == 4 => ld(b, types::F32X4, ptr, at(0)),
        Slot::Scalar(_) => ld(b, types::F32, ptr, at(0)),
        Slot::Full(_) | Slot::Part(..) => {
            let l0 = ld(b, types::F32, ptr, at(0));
            let mut x = b.ins().scalar_to_vector(types::F32X4, l0);
            for l in 1..lanes {
                let e = ld(b, types::F32, ptr, at(l));
                x = b.ins().insertlane(x, e, l as u8);
            }
            x
        }
    }
}

/// Writes a slot's columns to the dense accumulator row at `ptr + base`.
fn scatter(b: &mut FunctionBuilder, slot: Slot, x: Value, ptr: Value, base: i64) {
    let (c0, lanes) = slot.cols();
    let at = |l: usize| base + 4 * (c0 + l) as i64;
    match slot {
        Slot::Full(_) | Slot::Scalar(_) => store(b, x, ptr, at(0)),
        Slot::Part(..) => {
            for l in 0..lanes {
                let e = b.ins().extractlane(x, l as u8);
                store(b, e, ptr, at(l));
            }
        }
    }
}
