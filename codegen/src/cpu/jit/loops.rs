//! Loop nests from a [`LoopSchedule`]: counted loops in rotated form (one compare and branch
//! per iteration), tiling, the `Threads` range, and the validation of schedules.

use crate::error::CodegenError;
use crate::error::unsupported;
use crate::kernel::{LoopBinding, LoopSchedule};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{BlockArg, InstBuilder, Value, types};
use cranelift_frontend::FunctionBuilder;

/// The body of a counted loop: gets the index and the carried values, gives the new carried
/// values.
pub(crate) type LoopBody<'a> =
    dyn FnMut(&mut FunctionBuilder, Value, &[Value]) -> Result<Vec<Value>, CodegenError> + 'a;

/// Whether an iteration starting at `i` runs: `i + step <= hi` for whole steps, else `i < hi`.
fn runs(b: &mut FunctionBuilder, i: Value, hi: Value, step: i64, whole: bool) -> Value {
    if whole && step > 1 {
        let last = b.ins().iadd_imm_s(i, step);
        b.ins().icmp(IntCC::SignedLessThanOrEqual, last, hi)
    } else {
        b.ins().icmp(IntCC::SignedLessThan, i, hi)
    }
}

/// `for i in (lo..hi).step_by(step)` (only whole steps when `whole`), threading `carried`
/// through the iterations. Returns the first index not run and the final carried values; the
/// builder is left in the exit block.
pub(crate) fn counted(
    b: &mut FunctionBuilder,
    lo: Value,
    hi: Value,
    step: i64,
    whole: bool,
    carried: &[Value],
    body: &mut LoopBody<'_>,
) -> Result<(Value, Vec<Value>), CodegenError> {
    let head = b.create_block();
    let exit = b.create_block();
    b.append_block_param(head, types::I64);
    b.append_block_param(exit, types::I64);
    for &c in carried {
        let ty = b.func.dfg.value_type(c);
        b.append_block_param(head, ty);
        b.append_block_param(exit, ty);
    }
    let args = |i: Value, cs: &[Value]| -> Vec<BlockArg> {
        std::iter::once(i)
            .chain(cs.iter().copied())
            .map(BlockArg::from)
            .collect()
    };
    let go = runs(b, lo, hi, step, whole);
    let a = args(lo, carried);
    b.ins().brif(go, head, &a, exit, &a);
    b.switch_to_block(head);
    let params = b.block_params(head).to_vec();
    let new = body(b, params[0], &params[1..])?;
    if new.len() != carried.len() {
        return Err(CodegenError::Unsupported("loop carries changed".into()));
    }
    let next = b.ins().iadd_imm_s(params[0], step);
    let go = runs(b, next, hi, step, whole);
    let a = args(next, &new);
    b.ins().brif(go, head, &a, exit, &a);
    b.switch_to_block(exit);
    let out = b.block_params(exit).to_vec();
    Ok((out[0], out[1..].to_vec()))
}

/// What one loop of a nest iterates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LevelKind {
    /// `[0, extent)`.
    Full,
    /// `[begin, end)` of the call, clamped to the extent.
    Threads,
    /// Tile starts `0, t, 2t, ...` below the extent.
    Tile(i64),
    /// `[start, min(start + t, extent))` within the current tile.
    Intra(i64),
    /// Tile starts `begin, begin + t, ...` below the call's `end` (a tiled `Threads` dim).
    ThreadsTile(i64),
    /// `[start, min(start + t, end))` within the current tile of the call's range.
    ThreadsIntra(i64),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub dim: usize,
    pub kind: LevelKind,
}

/// A validated loop nest over `extents`.
pub(crate) struct Nest {
    pub extents: Vec<i64>,
    pub levels: Vec<Level>,
    /// Lanes along the innermost loop (1 or 4) and its unroll factor, as scheduled.
    pub vector_width: u32,
    pub unroll: u32,
}

/// The callback of [`Nest::emit`]: the index of every dim (placeholders for dims not set yet)
/// and, when the innermost loop is left to the caller, its dim and range.
pub(crate) type NestBody<'a> = dyn FnMut(&mut FunctionBuilder, &[Value], Option<(usize, Value, Value)>) -> Result<(), CodegenError>
    + 'a;

impl Nest {
    /// Checks `s` against the loop dims `extents` and orders the loops: `order` outermost
    /// first with tiled dims as tile loops, then the intra-tile loops in the same order.
    pub(crate) fn plan(extents: &[usize], s: &LoopSchedule) -> Result<Nest, CodegenError> {
        let rank = extents.len();
        let mut seen = vec![false; rank];
        if s.order.len() != rank {
            return Err(unsupported(format!(
                "loop order {:?} for {rank} loop dims",
                s.order
            )));
        }
        for &d in &s.order {
            if d >= rank || seen[d] {
                return Err(unsupported(format!(
                    "loop order {:?} is no permutation",
                    s.order
                )));
            }
            seen[d] = true;
        }
        let binding = |d: usize| s.bindings.get(d).copied().unwrap_or(LoopBinding::Serial);
        let mut threads = None;
        for d in 0..rank.max(s.bindings.len()) {
            match binding(d) {
                LoopBinding::Serial => {}
                LoopBinding::Threads if d < rank && threads.is_none() => threads = Some(d),
                LoopBinding::Threads => {
                    return Err(unsupported("more than one Threads loop"));
                }
                LoopBinding::GpuBlock(_) | LoopBinding::GpuThread(_) => {
                    return Err(unsupported("GPU loop bindings on the CPU"));
                }
            }
        }
        let vector_width = match s.vector_width {
            0 | 1 => 1,
            4 => 4,
            w => return Err(unsupported(format!("vector width {w}"))),
        };
        let unroll = s.unroll.clamp(1, 8);
        let tile = |d: usize| {
            let t = s.tiles.get(d).copied().unwrap_or(0);
            (t > 0 && t < extents[d]).then_some(t as i64)
        };
        let mut levels = Vec::new();
        for &d in &s.order {
            let kind = match (Some(d) == threads, tile(d)) {
                (true, Some(t)) => LevelKind::ThreadsTile(t),
                (true, None) => LevelKind::Threads,
                (false, Some(t)) => LevelKind::Tile(t),
                (false, None) => LevelKind::Full,
            };
            levels.push(Level { dim: d, kind });
        }
        for &d in &s.order {
            if let Some(t) = tile(d) {
                let kind = if Some(d) == threads {
                    LevelKind::ThreadsIntra(t)
                } else {
                    LevelKind::Intra(t)
                };
                levels.push(Level { dim: d, kind });
            }
        }
        Ok(Nest {
            extents: extents.iter().map(|&e| e as i64).collect(),
            levels,
            vector_width,
            unroll,
        })
    }

    /// The dim of the innermost loop (none for rank 0).
    pub(crate) fn inner(&self) -> Option<usize> {
        self.levels.last().map(|l| l.dim)
    }

    /// Emits the nest; `body` runs at every point, or, with `split_inner`, once per entry of
    /// the innermost loop, which it then emits itself over the range it is given.
    pub(crate) fn emit(
        &self,
        b: &mut FunctionBuilder,
        begin: Value,
        end: Value,
        split_inner: bool,
        body: &mut NestBody<'_>,
    ) -> Result<(), CodegenError> {
        let zero = b.ins().iconst(types::I64, 0);
        let idx = vec![zero; self.extents.len()];
        let starts = vec![zero; self.extents.len()];
        self.level(b, 0, (begin, end), split_inner, idx, starts, body)
    }

    #[allow(clippy::too_many_arguments)]
    fn level(
        &self,
        b: &mut FunctionBuilder,
        k: usize,
        range: (Value, Value),
        split_inner: bool,
        idx: Vec<Value>,
        starts: Vec<Value>,
        body: &mut NestBody<'_>,
    ) -> Result<(), CodegenError> {
        let Some(level) = self.levels.get(k) else {
            return body(b, &idx, None);
        };
        let d = level.dim;
        let n = self.extents[d];
        let (lo, hi, step) = match level.kind {
            LevelKind::Full => {
                let lo = b.ins().iconst(types::I64, 0);
                (lo, b.ins().iconst(types::I64, n), 1)
            }
            LevelKind::Threads => {
                let lo = b.ins().iconst(types::I64, 0);
                let hi = b.ins().iconst(types::I64, n);
                let l = b.ins().smax(range.0, lo);
                let h = b.ins().smin(range.1, hi);
                (l, h, 1)
            }
            LevelKind::Tile(t) => {
                let lo = b.ins().iconst(types::I64, 0);
                (lo, b.ins().iconst(types::I64, n), t)
            }
            LevelKind::Intra(t) => {
                let end = b.ins().iadd_imm_s(starts[d], t);
                let hi = b.ins().iconst(types::I64, n);
                (starts[d], b.ins().smin(end, hi), 1)
            }
            LevelKind::ThreadsTile(t) => {
                let lo = b.ins().iconst(types::I64, 0);
                let hi = b.ins().iconst(types::I64, n);
                let l = b.ins().smax(range.0, lo);
                let h = b.ins().smin(range.1, hi);
                (l, h, t)
            }
            LevelKind::ThreadsIntra(t) => {
                let end = b.ins().iadd_imm_s(starts[d], t);
                let hi = b.ins().iconst(types::I64, n);
                let hi = b.ins().smin(range.1, hi);
                (starts[d], b.ins().smin(end, hi), 1)
            }
        };
        if split_inner && k + 1 == self.levels.len() {
            return body(b, &idx, Some((d, lo, hi)));
        }
        counted(b, lo, hi, step, false, &[], &mut |b, i, _| {
            let (mut idx, mut starts) = (idx.clone(), starts.clone());
            match level.kind {
                LevelKind::Tile(_) | LevelKind::ThreadsTile(_) => starts[d] = i,
                LevelKind::Full
                | LevelKind::Threads
                | LevelKind::Intra(_)
                | LevelKind::ThreadsIntra(_) => idx[d] = i,
            }
            self.level(b, k + 1, range, split_inner, idx, starts, body)?;
            Ok(Vec::new())
        })?;
        Ok(())
    }
}
