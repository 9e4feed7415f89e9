//! The fused epilogue of a contraction or convolution: a pointwise kernel whose `Anchor` is the
//! accumulator, read in place from its output buffer.
//!
//! Normally the epilogue is *sliced*: compiled over the output space without its leading
//! (batch or image) dims, with the row dim bound to `Threads` so that a call covers any range of
//! rows, and run on each block right after the block's product, with every arg's base pointer
//! shifted to the block's item. That needs each arg to be addressed with one set of strides
//! along the sliced-off dims and no `Index` of those dims; otherwise the epilogue runs once over
//! the whole output after all products (*whole*).

use crate::cpu::JitFn;
use crate::cpu::gemm::geometry::{Geometry, Items, Operand, Source};
use crate::cpu::jit::{JitCode, JitCompiler, KernelFn};
use crate::error::CodegenError;
use crate::kernel::schedule::PARALLEL_MIN_WORK;
use crate::kernel::{Body, GemmSchedule, Inst, LoopBinding, LoopSchedule, contiguous_strides};
use crate::runtime::pool::Pool;
use ir::DType;

/// Most args passed without a heap allocation per call.
const STACK_ARGS: usize = 32;
/// Most leading dims a sliced epilogue may cut off (their index lives on the stack).
const MAX_SLICED: usize = 16;

pub(super) enum Epilogue {
    /// The epilogue only stores the accumulator, which is already in place.
    Nothing,
    Sliced {
        f: KernelFn,
        code: Option<JitFn>,
        /// The sliced-off dims.
        dims: Vec<usize>,
        /// Per arg, bytes per step along each sliced-off dim.
        shifts: Vec<Vec<i64>>,
        /// Elements per row of the sliced space.
        row_len: usize,
    },
    Whole {
        f: KernelFn,
        code: Option<JitFn>,
        /// The `Threads` loop's extent and grain, if any.
        threads: Option<(usize, usize)>,
    },
}

fn elem_bytes(d: DType) -> Result<i64, CodegenError> {
    match d {
        DType::F32 | DType::I32 => Ok(4),
        DType::F16 | DType::BF16 => Ok(2),
        DType::I64 => Ok(8),
        DType::Bool => Ok(1),
        other => Err(CodegenError::Unsupported(format!(
            "epilogue arg of dtype {other}"
        ))),
    }
}

/// Whether the body just stores the accumulator.
fn is_trivial(body: &Body) -> bool {
    body.stores.len() == 1
        && matches!(
            body.insts.get(body.stores[0].value.index()),
            Some(Inst::Anchor)
        )
}

/// The args the products read (which the epilogue must not write).
fn read_args(geo: &Geometry) -> Vec<usize> {
    let mut v: Vec<usize> = [geo.a.src, geo.b.src]
        .into_iter()
        .filter_map(|s| match s {
            Source::Arg(a) => Some(a),
            Source::Scratch => None,
        })
        .collect();
    match &geo.layout {
        Items::Conv(g) => v.push(g.input),
        Items::Batch {
            staged_b:
                Some(Operand {
                    src: Source::Arg(a),
                    ..
                }),
            ..
        } => v.push(*a),
        Items::Batch { .. } => {}
    }
    v
}

/// The body over the sliced space and the per-arg strides (in elements) along the sliced-off
/// dims, or `None` when it cannot be sliced.
fn slice(body: &Body, shape: &[usize], nb: usize, acc: usize, n_args: usize) -> Option<SlicedBody> {
    if nb > MAX_SLICED {
        return None;
    }
    let dense = contiguous_strides(shape);
    let norm = |s: &[i64]| -> Vec<i64> {
        s.iter()
            .zip(shape)
            .map(|(&st, &e)| if e == 1 { 0 } else { st })
            .collect()
    };
    let mut strides: Vec<Option<Vec<i64>>> = vec![None; n_args];
    let mut note = |arg: usize, s: Vec<i64>| -> bool {
        match &strides[arg] {
            Some(old) => *old == s,
            None => {
                strides[arg] = Some(s);
                true
            }
        }
    };
    let mut out = body.clone();
    for inst in &mut out.insts {
        match inst {
            Inst::Load(a) => {
                if !note(a.arg, norm(&a.strides[..nb])) {
                    return None;
                }
                a.strides.drain(..nb);
            }
            Inst::Anchor => {
                if !note(acc, norm(&dense[..nb])) {
                    return None;
                }
            }
            Inst::Index(d) => {
                if *d < nb {
                    return None;
                }
                *d -= nb;
            }
            Inst::Const { .. }
            | Inst::Unary(..)
            | Inst::Binary(..)
            | Inst::Select(..)
            | Inst::Cast(..) => {}
        }
    }
    for s in &body.stores {
        if !note(s.arg, norm(&dense[..nb])) {
            return None;
        }
    }
    Some(SlicedBody {
        body: out,
        strides: strides
            .into_iter()
            .map(|s| s.unwrap_or_else(|| vec![0; nb]))
            .collect(),
    })
}

struct SlicedBody {
    body: Body,
    strides: Vec<Vec<i64>>,
}

/// Checks the accesses: ranks, args in range, and that args the epilogue writes are neither
/// read by the products nor read by the epilogue other than at the point being written.
fn check(body: &Body, geo: &Geometry, n_args: usize) -> Result<(), CodegenError> {
    let rank = geo.out_shape.len();
    let reads = read_args(geo);
    for s in &body.stores {
        if s.arg >= n_args || s.value.index() >= body.insts.len() {
            return Err(CodegenError::Unsupported(
                "epilogue store out of range".into(),
            ));
        }
        if reads.contains(&s.arg) {
            return Err(CodegenError::Unsupported(
                "epilogue writes an operand of the contraction".into(),
            ));
        }
    }
    for inst in &body.insts {
        if let Inst::Load(a) = inst {
            if a.arg >= n_args || a.strides.len() != rank {
                return Err(CodegenError::Unsupported(
                    "epilogue load does not match the output rank".into(),
                ));
            }
            let stored = body.stores.iter().any(|s| s.arg == a.arg) || a.arg == geo.c_arg;
            if stored && !a.is_dense_over(&geo.out_shape) {
                return Err(CodegenError::Unsupported(
                    "epilogue reads an output at another point".into(),
                ));
            }
        }
        if let Inst::Index(d) = inst
            && *d >= rank
        {
            return Err(CodegenError::Unsupported(
                "epilogue index out of range".into(),
            ));
        }
    }
    Ok(())
}

impl Epilogue {
    pub fn build(
        name: &str,
        geo: &Geometry,
        body: &Body,
        schedule: &GemmSchedule,
        arg_dtypes: &[DType],
        jit: &mut JitCompiler,
    ) -> Result<Epilogue, CodegenError> {
        check(body, geo, arg_dtypes.len())?;
        if is_trivial(body) {
            return Ok(Epilogue::Nothing);
        }
        let name = format!("{name}.epilogue");
        let shape = &geo.out_shape;
        let nb = geo.epi_batch_dims;
        if let Some(s) = slice(body, shape, nb, geo.c_arg, arg_dtypes.len()) {
            let sub = &shape[nb..];
            let rank = sub.len();
            let inner = sub.last().copied().unwrap_or(1);
            let mut bindings = vec![LoopBinding::Serial; rank];
            bindings[0] = LoopBinding::Threads;
            let ls = LoopSchedule {
                order: (0..rank).collect(),
                tiles: vec![0; rank],
                vector_width: if rank > 1 && inner >= 4 {
                    schedule.epilogue.vector_width
                } else {
                    1
                },
                unroll: schedule.epilogue.unroll.max(1),
                bindings,
                grain: 1,
            };
            let f = jit.pointwise(&name, sub, &s.body, arg_dtypes, Some(geo.c_arg), &ls)?;
            let shifts = s
                .strides
                .iter()
                .zip(arg_dtypes)
                .map(|(st, &d)| {
                    let e = elem_bytes(d)?;
                    Ok(st.iter().map(|&x| x * e).collect())
                })
                .collect::<Result<Vec<Vec<i64>>, CodegenError>>()?;
            return Ok(Epilogue::Sliced {
                f,
                code: None,
                dims: shape[..nb].to_vec(),
                shifts,
                row_len: sub[1..].iter().product(),
            });
        }
        let ls = if schedule.epilogue.order.len() == shape.len() {
            schedule.epilogue.clone()
        } else {
            LoopSchedule::default_for(shape, 1, true)
        };
        let threads = ls.parallel_dim().map(|d| (shape[d], ls.grain.max(1)));
        let f = jit.pointwise(&name, shape, body, arg_dtypes, Some(geo.c_arg), &ls)?;
        Ok(Epilogue::Whole {
            f,
            code: None,
            threads,
        })
    }

    pub fn link(&mut self, jit: &JitCode) {
        match self {
            Epilogue::Nothing => {}
            Epilogue::Sliced { f, code, .. } | Epilogue::Whole { f, code, .. } => {
                *code = Some(jit.get(*f))
            }
        }
    }

    /// Runs a sliced epilogue on rows `[r0, r1)` of item `item`; with `wide`, split over the
    /// pool's threads.
    ///
    /// # Safety
    /// As [`super::GemmPlan::run`]; the rows' accumulators are computed.
    pub unsafe fn run_rows(
        &self,
        args: &[*mut u8],
        item: usize,
        r0: usize,
        r1: usize,
        wide: Option<&Pool>,
    ) {
        let Epilogue::Sliced {
            code,
            dims,
            shifts,
            row_len,
            ..
        } = self
        else {
            return;
        };
        let f = code.expect("GemmPlan::run before GemmPlan::link");
        let mut idx = [0usize; MAX_SLICED];
        let mut rest = item;
        let nb = dims.len().min(MAX_SLICED);
        for d in (0..nb).rev() {
            idx[d] = rest % dims[d].max(1);
            rest /= dims[d].max(1);
        }
        let shift = |a: usize| -> isize {
            shifts[a]
                .iter()
                .zip(&idx[..nb])
                .map(|(&s, &i)| s * i as i64)
                .sum::<i64>() as isize
        };
        let mut stack = [std::ptr::null_mut::<u8>(); STACK_ARGS];
        let mut heap = Vec::new();
        let ptrs: &mut [*mut u8] = if args.len() <= STACK_ARGS {
            &mut stack[..args.len()]
        } else {
            heap.resize(args.len(), std::ptr::null_mut());
            &mut heap
        };
        for (a, p) in ptrs.iter_mut().enumerate() {
            *p = args[a].wrapping_offset(shift(a));
        }
        let ptrs = SendArgs(ptrs.as_ptr());
        match wide {
            Some(pool) if pool.threads() > 1 => {
                let grain = (PARALLEL_MIN_WORK / 2 / (*row_len).max(1)).max(1);
                pool.for_chunks(r1 - r0, grain, &|b, e| {
                    let p = ptrs;
                    // SAFETY: disjoint rows of the item; the pointers live through the call.
                    unsafe { f(p.0, (r0 + b) as i64, (r0 + e) as i64) };
                });
            }
            // SAFETY: as above.
            _ => unsafe { f(ptrs.0, r0 as i64, r1 as i64) },
        }
    }

    /// Runs a whole epilogue (after all products).
    ///
    /// # Safety
    /// As [`super::GemmPlan::run`]; every accumulator is computed.
    pub unsafe fn run_whole(&self, args: &[*mut u8], pool: &Pool) {
        let Epilogue::Whole { code, threads, .. } = self else {
            return;
        };
        let f = code.expect("GemmPlan::run before GemmPlan::link");
        let ptrs = SendArgs(args.as_ptr());
        match threads {
            Some((extent, grain)) => pool.for_chunks(*extent, *grain, &|b, e| {
                let p = ptrs;
                // SAFETY: disjoint ranges of the Threads loop; forwarded contract.
                unsafe { f(p.0, b as i64, e as i64) };
            }),
            // SAFETY: forwarded contract.
            None => unsafe { f(ptrs.0, 0, 0) },
        }
    }
}

/// The args array handed to the pool's workers.
#[derive(Clone, Copy)]
struct SendArgs(*const *mut u8);
// SAFETY: the array outlives the pooled call, and workers only read it.
unsafe impl Sync for SendArgs {}
unsafe impl Send for SendArgs {}
