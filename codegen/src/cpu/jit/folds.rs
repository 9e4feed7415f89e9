//! Loops along one dim that fold values into a scalar (a row's max or sum, a reduction):
//! unrolled f32x4 accumulators, a single-vector remainder, a horizontal fold, a scalar tail.

use crate::cpu::jit::inst::{Cx, Lanes};
use crate::cpu::jit::loops::counted;
use crate::error::CodegenError;
use crate::kernel::ReduceFn;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::FunctionBuilder;

/// A combining function over f32 (scalars or vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fold {
    Add,
    Mul,
    /// NaN-propagating, like the interpreter's ReduceMax and softmax's row max.
    Max,
    Min,
}

impl Fold {
    pub(crate) fn of(f: ReduceFn) -> Fold {
        match f {
            ReduceFn::Sum => Fold::Add,
            ReduceFn::Prod => Fold::Mul,
            ReduceFn::Max => Fold::Max,
            ReduceFn::Min => Fold::Min,
        }
    }

    pub(crate) fn identity(self) -> f32 {
        match self {
            Fold::Add => 0.0,
            Fold::Mul => 1.0,
            Fold::Max => f32::NEG_INFINITY,
            Fold::Min => f32::INFINITY,
        }
    }

    pub(crate) fn apply(self, b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
        match self {
            Fold::Add => b.ins().fadd(x, y),
            Fold::Mul => b.ins().fmul(x, y),
            Fold::Max => b.ins().fmax(x, y),
            Fold::Min => b.ins().fmin(x, y),
        }
    }

    /// Folds a non-empty list pairwise.
    fn tree(self, b: &mut FunctionBuilder, mut vs: Vec<Value>) -> Value {
        while vs.len() > 1 {
            let mut next = Vec::with_capacity(vs.len().div_ceil(2));
            for pair in vs.chunks(2) {
                next.push(match *pair {
                    [x, y] => self.apply(b, x, y),
                    // A chunk of one (the last of an odd count).
                    _ => pair[0],
                });
            }
            vs = next;
        }
        vs[0]
    }
}

/// The per-step callback of [`dim_loop`]: the index of the step's first element, its lanes
/// and copies; gives one value per copy to fold (or nothing when not folding).
pub(crate) type StepFn<'a> =
    dyn FnMut(&mut FunctionBuilder, Value, Lanes, usize) -> Result<Vec<Value>, CodegenError> + 'a;

/// The phases of a loop over a dim: whole unrolled steps, single steps, then scalars (for
/// f32x4: unrolled vectors, single vectors, single scalars; for scalar code: unrolled, then
/// single), as (lanes, copies per step).
pub(crate) fn phases(lanes: Lanes, unroll: usize) -> Vec<(Lanes, usize)> {
    let mut phases: Vec<(Lanes, usize)> = Vec::new();
    if lanes == Lanes::Four {
        phases.push((Lanes::Four, unroll));
        if unroll > 1 {
            phases.push((Lanes::Four, 1));
        }
    } else if unroll > 1 {
        phases.push((Lanes::One, unroll));
    }
    phases.push((Lanes::One, 1));
    phases
}

/// Runs `step` over `[0, n)`: whole steps of `unroll` f32x4 copies (when `lanes` is four),
/// single vector steps, then scalar steps; folds the values with `fold` when given, from its
/// identity. Returns the folded scalar.
pub(crate) fn dim_loop(
    b: &mut FunctionBuilder,
    cx: Cx,
    n: i64,
    lanes: Lanes,
    unroll: usize,
    fold: Option<Fold>,
    step: &mut StepFn<'_>,
) -> Result<Option<Value>, CodegenError> {
    let lo = b.ins().iconst(types::I64, 0);
    let hi = b.ins().iconst(types::I64, n);
    let phases = phases(lanes, unroll);
    let mut start = lo;
    // The running fold: (value, its lanes).
    let mut acc: Option<(Value, Lanes)> = None;
    for (ph_lanes, copies) in phases {
        let pcx = cx.with(ph_lanes);
        let carried: Vec<Value> = match fold {
            None => Vec::new(),
            Some(f) => {
                let init = match acc {
                    // Moving from vectors to scalars: fold the lanes.
                    Some((v, Lanes::Four)) if ph_lanes == Lanes::One => {
                        let ls: Vec<Value> = (0..4u8).map(|l| b.ins().extractlane(v, l)).collect();
                        f.tree(b, ls)
                    }
                    Some((v, _)) => v,
                    None => pcx.fconst(b, f.identity()),
                };
                let mut c = vec![init];
                for _ in 1..copies {
                    c.push(pcx.fconst(b, f.identity()));
                }
                c
            }
        };
        let width = ph_lanes.count() * copies as i64;
        let (next, out) = counted(b, start, hi, width, width > 1, &carried, &mut |b, j, cs| {
            let vs = step(b, j, ph_lanes, copies)?;
            match fold {
                None => Ok(Vec::new()),
                Some(f) => Ok(cs
                    .iter()
                    .zip(&vs)
                    .map(|(&c, &v)| f.apply(b, c, v))
                    .collect()),
            }
        })?;
        start = next;
        if let Some(f) = fold {
            acc = Some((f.tree(b, out), ph_lanes));
        }
    }
    Ok(acc.map(|(v, _)| v))
}
