//! Pointwise kernels: the body at every point of the shape, under a loop nest from the
//! schedule (dims that every access walks as one merged first), with the innermost loop
//! hoisted, vectorized (f32x4, scalar tail) and unrolled.

use crate::cpu::jit::analysis::{AnchorKind, BodyInfo, validate};
use crate::cpu::jit::coalesce::coalesce;
use crate::cpu::jit::emit::{AnchorVal, BodyGen, Fx, Vals};
use crate::cpu::jit::folds::phases;
use crate::cpu::jit::inst::Lanes;
use crate::cpu::jit::libcalls::Libs;
use crate::cpu::jit::loops::{Nest, counted};
use crate::cpu::jit::staged::{self, Staged};
use crate::error::CodegenError;
use crate::kernel::{Body, LoopSchedule, contiguous_strides};
use cranelift_codegen::ir::{InstBuilder, Type, Value};
use cranelift_frontend::FunctionBuilder;
use ir::DType;
use std::borrow::Cow;

/// A pointwise kernel, analyzed and ready to emit.
pub(crate) struct PointwisePlan<'a> {
    dtypes: &'a [DType],
    anchor: AnchorVal<'static>,
    nest: Nest,
    body_gen: BodyGen<'a>,
    lanes: Lanes,
    unroll: usize,
    empty: bool,
    fma: bool,
    /// The body staged through the wide helpers (see `staged.rs`), when it applies.
    staged: Option<Staged<'a>>,
}

pub(crate) fn plan<'a>(
    shape: &[usize],
    body: &'a Body,
    dtypes: &'a [DType],
    anchor: Option<usize>,
    schedule: &LoopSchedule,
    fma: bool,
    wide: bool,
) -> Result<PointwisePlan<'a>, CodegenError> {
    let kind = anchor.map_or(AnchorKind::None, AnchorKind::Dense);
    let types = validate(body, &[], dtypes, shape.len(), kind)?;
    let mut nest = Nest::plan(shape, schedule)?;
    let (shape, body) = match coalesce(shape, body, schedule) {
        Some(c) => {
            nest = Nest::plan(&c.shape, &c.schedule)?;
            (Cow::Owned(c.shape), Cow::Owned(c.body))
        }
        None => (Cow::Borrowed(shape), Cow::Borrowed(body)),
    };
    let inner = nest.inner();
    let info = BodyInfo::new(&body, types, &[], inner, kind, fma);
    let dense = contiguous_strides(&shape);
    let lanes = match inner {
        Some(d)
            if nest.vector_width == 4 && info.vectorizable(&body, dtypes, d) && dense[d] == 1 =>
        {
            Lanes::Four
        }
        _ => Lanes::One,
    };
    // Long bodies run one copy per step (see `BodyInfo::heavy`).
    let unroll = if info.heavy(&body) {
        1
    } else {
        nest.unroll as usize
    };
    let body_gen = BodyGen {
        body,
        info,
        dense,
        inner,
    };
    let staged = if wide && lanes == Lanes::Four {
        staged::plan(&body_gen, dtypes, kind, fma, nest.unroll as usize)?
    } else {
        None
    };
    Ok(PointwisePlan {
        dtypes,
        anchor: anchor.map_or(AnchorVal::None, AnchorVal::Dense),
        unroll,
        nest,
        body_gen,
        lanes,
        empty: shape.contains(&0),
        fma,
        staged,
    })
}

impl PointwisePlan<'_> {
    /// The extents of the loop dims after merging.
    #[cfg(test)]
    pub(crate) fn loop_extents(&self) -> &[i64] {
        &self.nest.extents
    }

    /// Whether the innermost loop runs as f32x4.
    #[cfg(test)]
    pub(crate) fn vectorized(&self) -> bool {
        self.lanes == Lanes::Four
    }

    /// Whether transcendentals are staged through the wide helpers.
    #[cfg(test)]
    pub(crate) fn staged(&self) -> bool {
        self.staged.is_some()
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
            self.nest
                .emit(b, begin, end, true, &mut |b, idx, inner| match inner {
                    None => {
                        let vals = self.body_gen.hoist(b, &fx, libs, idx, self.anchor)?;
                        self.body_gen
                            .stores(b, &fx, libs, idx, Lanes::One, 1, &vals)
                    }
                    Some((d, lo, hi)) => match &self.staged {
                        Some(st) => st.innermost(b, &fx, libs, idx, d, lo, hi, self.anchor),
                        None => self.innermost(b, &fx, libs, idx, d, lo, hi),
                    },
                })?;
        }
        b.ins().return_(&[]);
        Ok(())
    }

    /// The innermost loop along `d` over `[lo, hi)`: hoisted values, then whole unrolled
    /// vector steps, single vector steps, and a scalar tail.
    #[allow(clippy::too_many_arguments)]
    fn innermost(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        idx: &[Value],
        d: usize,
        lo: Value,
        hi: Value,
    ) -> Result<(), CodegenError> {
        let mut vals = self.body_gen.hoist(b, fx, libs, idx, self.anchor)?;
        if self.lanes == Lanes::Four {
            self.body_gen.make_splats(b, fx, &mut vals, &[]);
        }
        let (body, anchor) = (&self.body_gen, self.anchor);
        steps(
            b,
            fx,
            libs,
            body,
            &mut vals,
            idx,
            (d, lo, hi),
            (self.lanes, self.unroll),
            anchor,
        )
    }
}

/// The body over `[lo, hi)` along `d` at outer point `idx`, with its stores: whole unrolled
/// vector steps, single vector steps, and a scalar tail (scalar code: unrolled, then single).
#[allow(clippy::too_many_arguments)]
pub(crate) fn steps(
    b: &mut FunctionBuilder,
    fx: &Fx,
    libs: &mut Libs,
    body: &BodyGen,
    vals: &mut Vals,
    idx: &[Value],
    (d, lo, hi): (usize, Value, Value),
    (lanes, unroll): (Lanes, usize),
    anchor: AnchorVal,
) -> Result<(), CodegenError> {
    let mut start = lo;
    for (lanes, copies) in phases(lanes, unroll) {
        let step = lanes.count() * copies as i64;
        let (next, _) = counted(b, start, hi, step, step > 1, &[], &mut |b, i, _| {
            let mut at = idx.to_vec();
            at[d] = i;
            body.step(b, fx, libs, &at, lanes, copies, vals, anchor)?;
            body.stores(b, fx, libs, &at, lanes, copies, vals)?;
            Ok(Vec::new())
        })?;
        start = next;
    }
    Ok(())
}
