//! Reductions: loops over the kept dims (the schedule's), inner loops over the reduced dims
//! (adjacent ones the prologue walks as one merged) accumulating the prologue's `x` in f32 (the
//! innermost reduced dim vectorized and unrolled when its accesses allow), then the epilogue at
//! each kept point with `Anchor` the result.

use crate::cpu::jit::analysis::{AnchorKind, BodyInfo, validate};
use crate::cpu::jit::coalesce::coalesce_reduced;
use crate::cpu::jit::emit::{AnchorVal, BodyGen, Fx};
use crate::cpu::jit::folds::{Fold, dim_loop};
use crate::cpu::jit::inst::{Cx, Lanes};
use crate::cpu::jit::libcalls::Libs;
use crate::cpu::jit::loops::{Nest, counted};
use crate::error::CodegenError;
use crate::error::unsupported;
use crate::kernel::{LoopSchedule, ReduceKernel, Scalar, contiguous_strides};
use cranelift_codegen::ir::{InstBuilder, Type, Value, types};
use cranelift_frontend::FunctionBuilder;
use ir::DType;
use std::borrow::Cow;

pub(crate) struct ReducePlan<'a> {
    dtypes: &'a [DType],
    nest: Nest,
    shape: Vec<usize>,
    /// Full dim of each kept dim.
    kept: Vec<usize>,
    /// The reduced dims, outermost first.
    reduced: Vec<usize>,
    fold: Fold,
    x: usize,
    pro: BodyGen<'a>,
    epi: BodyGen<'a>,
    lanes: Lanes,
    unroll: usize,
    empty: bool,
    fma: bool,
}

pub(crate) fn plan<'a>(
    kernel: &'a ReduceKernel,
    dtypes: &'a [DType],
    schedule: &LoopSchedule,
    fma: bool,
) -> Result<ReducePlan<'a>, CodegenError> {
    if kernel.reduced.len() != kernel.shape.len() {
        return Err(unsupported("reduced mask and shape disagree"));
    }
    let kept_shape = kernel.kept_shape();
    let roots = [kernel.x];
    let pro_types = validate(
        &kernel.prologue,
        &roots,
        dtypes,
        kernel.shape.len(),
        AnchorKind::None,
    )?;
    // Adjacent reduced dims that the prologue walks as one become one loop.
    let (shape, mask, prologue) =
        match coalesce_reduced(&kernel.shape, &kernel.reduced, &kernel.prologue) {
            Some((s, m, p)) => (s, m, Cow::Owned(p)),
            None => (
                kernel.shape.clone(),
                kernel.reduced.clone(),
                Cow::Borrowed(&kernel.prologue),
            ),
        };
    let kept: Vec<usize> = (0..shape.len()).filter(|&d| !mask[d]).collect();
    let reduced: Vec<usize> = (0..shape.len()).filter(|&d| mask[d]).collect();
    if pro_types[kernel.x.index()] != Scalar::F32 {
        return Err(unsupported("reduction of a non-f32 x"));
    }
    if !kernel.prologue.stores.is_empty() {
        return Err(unsupported("reduction prologue with stores"));
    }
    let epi_types = validate(
        &kernel.epilogue,
        &[],
        dtypes,
        kept_shape.len(),
        AnchorKind::Fixed,
    )?;
    let nest = Nest::plan(&kept_shape, schedule)?;
    let inner = reduced.last().copied();
    let pro = BodyInfo::new(&prologue, pro_types, &roots, inner, AnchorKind::None, fma);
    let epi = BodyInfo::new(
        &kernel.epilogue,
        epi_types,
        &[],
        None,
        AnchorKind::Fixed,
        fma,
    );
    let lanes = match inner {
        Some(d) if nest.vector_width == 4 && pro.vectorizable(&prologue, dtypes, d) => Lanes::Four,
        _ => Lanes::One,
    };
    let unroll = if pro.heavy(&prologue) {
        1
    } else {
        nest.unroll as usize
    };
    let pro_dense = contiguous_strides(&shape);
    Ok(ReducePlan {
        dtypes,
        unroll,
        nest,
        shape,
        kept,
        reduced,
        fold: Fold::of(kernel.op),
        x: kernel.x.index(),
        pro: BodyGen {
            body: prologue,
            info: pro,
            dense: pro_dense,
            inner,
        },
        epi: BodyGen {
            body: Cow::Borrowed(&kernel.epilogue),
            info: epi,
            dense: contiguous_strides(&kept_shape),
            inner: None,
        },
        lanes,
        empty: kept_shape.contains(&0),
        fma,
    })
}

impl ReducePlan<'_> {
    #[cfg(test)]
    pub(crate) fn vectorized(&self) -> bool {
        self.lanes == Lanes::Four
    }

    /// The shape after merging reduced dims.
    #[cfg(test)]
    pub(crate) fn merged_shape(&self) -> &[usize] {
        &self.shape
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
            self.nest.emit(b, begin, end, false, &mut |b, kidx, _| {
                let zero = b.ins().iconst(types::I64, 0);
                let mut idx = vec![zero; self.shape.len()];
                for (k, &d) in self.kept.iter().enumerate() {
                    idx[d] = kidx[k];
                }
                let acc = self.reduce_from(b, &fx, libs, &idx, 0)?;
                let acc = match acc {
                    Some(a) => a,
                    None => b.ins().f32const(self.fold.identity()),
                };
                let vals = self.epi.hoist(b, &fx, libs, kidx, AnchorVal::Fixed(acc))?;
                self.epi.stores(b, &fx, libs, kidx, Lanes::One, 1, &vals)
            })?;
        }
        b.ins().return_(&[]);
        Ok(())
    }

    /// The fold of `x` over reduced dims `k..` at `idx` (reduced dims before `k` set);
    /// `None` for the empty fold over no dims.
    fn reduce_from(
        &self,
        b: &mut FunctionBuilder,
        fx: &Fx,
        libs: &mut Libs,
        idx: &[Value],
        k: usize,
    ) -> Result<Option<Value>, CodegenError> {
        let cx = Cx {
            lanes: self.lanes,
            fma: self.fma,
        };
        match self.reduced.len() - k {
            // No reduced dims at all: x itself.
            0 => {
                let vals = self.pro.hoist(b, fx, libs, idx, AnchorVal::None)?;
                Ok(Some(self.pro.value(&vals, self.x, 0, Lanes::One)?))
            }
            1 => {
                let d = self.reduced[k];
                let mut vals = self.pro.hoist(b, fx, libs, idx, AnchorVal::None)?;
                if self.lanes == Lanes::Four {
                    self.pro.make_splats(b, fx, &mut vals, &[self.x]);
                }
                let n = self.shape[d] as i64;
                dim_loop(
                    b,
                    cx,
                    n,
                    self.lanes,
                    self.unroll,
                    Some(self.fold),
                    &mut |b, j, lanes, copies| {
                        let mut at = idx.to_vec();
                        at[d] = j;
                        self.pro.step(
                            b,
                            fx,
                            libs,
                            &at,
                            lanes,
                            copies,
                            &mut vals,
                            AnchorVal::None,
                        )?;
                        self.pro.values(&vals, self.x, lanes, copies)
                    },
                )
            }
            _ => {
                let d = self.reduced[k];
                let lo = b.ins().iconst(types::I64, 0);
                let hi = b.ins().iconst(types::I64, self.shape[d] as i64);
                let init = b.ins().f32const(self.fold.identity());
                let (_, out) = counted(b, lo, hi, 1, false, &[init], &mut |b, i, cs| {
                    let mut at = idx.to_vec();
                    at[d] = i;
                    let part = self.reduce_from(b, fx, libs, &at, k + 1)?;
                    Ok(vec![match part {
                        Some(p) => self.fold.apply(b, cs[0], p),
                        None => cs[0],
                    }])
                })?;
                Ok(out.first().copied())
            }
        }
    }
}
