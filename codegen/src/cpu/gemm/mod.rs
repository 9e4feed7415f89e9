//! Contractions and convolutions on the CPU: packed microkernels of the `gemm` crate or a
//! generated register-tiled loop nest, with the fused epilogue run on each block of output
//! while it is in cache.
//!
//! A plan is a list of *phases* (one for a contraction, one per image for a convolution, whose
//! im2col columns are built at the start of the phase), each of *items* (the batch of a
//! contraction, the groups of a convolution), each an `m × n × k` product written densely into
//! the accumulator arg (the first store of the epilogue). Items are cut into *blocks* of
//! `tile_m` rows (0: whole items); a block is computed, then the epilogue runs on exactly those
//! rows, in place, while they are in cache.
//!
//! Threads (when `schedule.parallel`): blocks are spread over the pool when they balance over
//! the threads or are small (each thread then computes and finishes its blocks alone; see
//! `GemmPlan::distribute`); otherwise each block's product uses all threads (the `gemm`
//! crate's own split) and its epilogue is split by rows.

mod conv;
mod depthwise;
mod epilogue;
mod gemv;
mod geometry;
mod library;
mod micro;
mod stage;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_conv;
#[cfg(test)]
mod tests_gemv;
#[cfg(test)]
mod tests_stage;

use crate::cpu::JitFn;
use crate::cpu::jit::{JitCode, JitCompiler, KernelFn};
use crate::error::CodegenError;
use crate::kernel::{ConvKernel, GemmKernel, GemmPath, GemmSchedule};
use crate::runtime::pool::Pool;
use depthwise::Depthwise;
use epilogue::Epilogue;
use geometry::{Geometry, Items, Source};
use ir::DType;

/// A contraction or convolution ready to run.
pub struct GemmPlan {
    geo: Geometry,
    path: GemmPath,
    parallel: bool,
    /// Rows of one block (at least 1, at most `geo.m`).
    block_rows: usize,
    /// The generated product of the `Jit` path: compiled, then resolved by [`GemmPlan::link`].
    micro: Option<(KernelFn, Option<JitFn>)>,
    /// A depthwise convolution, computed plane by plane instead of as products.
    depthwise: Option<Depthwise>,
    epilogue: Epilogue,
}

/// Raw pointers shared read-only by the pool's workers.
///
/// Safety: the blocks that workers write are disjoint row ranges, and the pointers outlive the
/// call that spreads the work (`Pool::for_chunks` returns when every chunk is done).
#[derive(Clone, Copy)]
struct Shared<'a> {
    args: &'a [*mut u8],
    scratch: *mut u8,
}
unsafe impl Sync for Shared<'_> {}
unsafe impl Send for Shared<'_> {}

impl GemmPlan {
    /// Prepares a contraction; compiles its epilogue (and its `Jit`-path loop nest) into `jit`.
    pub fn gemm(
        name: &str,
        kernel: &GemmKernel,
        schedule: &GemmSchedule,
        arg_dtypes: &[DType],
        jit: &mut JitCompiler,
    ) -> Result<GemmPlan, CodegenError> {
        let geo = Geometry::gemm(kernel, arg_dtypes)?;
        GemmPlan::build(name, geo, &kernel.epilogue, schedule, arg_dtypes, jit)
    }

    /// Prepares a convolution (im2col into scratch, then a contraction per group).
    pub fn conv(
        name: &str,
        kernel: &ConvKernel,
        schedule: &GemmSchedule,
        arg_dtypes: &[DType],
        jit: &mut JitCompiler,
    ) -> Result<GemmPlan, CodegenError> {
        let geo = Geometry::conv(kernel, arg_dtypes)?;
        GemmPlan::build(name, geo, &kernel.epilogue, schedule, arg_dtypes, jit)
    }

    /// Builds a plan: compiles the epilogue and, on the `Jit` path, the product.
    fn build(
        name: &str,
        geo: Geometry,
        body: &crate::kernel::Body,
        schedule: &GemmSchedule,
        arg_dtypes: &[DType],
        jit: &mut JitCompiler,
    ) -> Result<GemmPlan, CodegenError> {
        let epilogue = Epilogue::build(name, &geo, body, schedule, arg_dtypes, jit)?;
        let micro = match schedule.path {
            GemmPath::Library => None,
            GemmPath::Jit => Some((micro::compile(name, &geo, schedule, jit)?, None)),
        };
        let block_rows = match schedule.tile_m {
            0 => geo.m,
            t => t.min(geo.m),
        }
        .max(1);
        let depthwise = match &geo.layout {
            Items::Conv(g) => Depthwise::new(g),
            Items::Batch { .. } => None,
        };
        Ok(GemmPlan {
            geo,
            path: schedule.path,
            parallel: schedule.parallel,
            block_rows,
            micro,
            depthwise,
            epilogue,
        })
    }

    /// Resolves the generated functions once the module is finalized.
    pub fn link(&mut self, code: &JitCode) {
        if let Some((f, resolved)) = &mut self.micro {
            *resolved = Some(code.get(*f));
        }
        self.epilogue.link(code);
    }

    /// Bytes of scratch memory a run needs (im2col columns, packing).
    pub fn scratch_bytes(&self) -> usize {
        self.geo.scratch_floats() * 4
    }

    /// Runs it.
    ///
    /// # Safety
    /// `args[i]` must point to the kernel's arg `i` with its declared size; `scratch` to
    /// `scratch_bytes()` writable bytes aligned to 64.
    pub unsafe fn run(&self, args: &[*mut u8], scratch: *mut u8, pool: &Pool) {
        let geo = &self.geo;
        let shared = Shared { args, scratch };
        let threads = if self.parallel { pool.threads() } else { 1 };
        let per_item = geo.m.div_ceil(self.block_rows);
        let blocks = geo.items * per_item;
        if geo.m > 0 && geo.n > 0 {
            for phase in 0..geo.phases {
                if self.depthwise.is_none() {
                    // SAFETY: the caller's contract covers the args and the scratch.
                    unsafe { geo.prepare_phase(args, scratch, phase, threads, pool) };
                }
                if blocks == 0 {
                    continue;
                }
                if threads > 1 && self.distribute(blocks, threads) {
                    pool.for_chunks(blocks, 1, &|lo, hi| {
                        let s = shared;
                        for blk in lo..hi {
                            // SAFETY: blocks write disjoint rows; see `Shared`.
                            unsafe { self.block(s, phase, blk / per_item, blk % per_item, None) };
                        }
                    });
                } else {
                    for blk in 0..blocks {
                        let p = (threads > 1).then_some(pool);
                        // SAFETY: as above, one block at a time.
                        unsafe { self.block(shared, phase, blk / per_item, blk % per_item, p) };
                    }
                }
            }
        }
        // SAFETY: the caller's contract covers the args.
        unsafe { self.epilogue.run_whole(args, pool) };
    }

    /// Whether to spread whole blocks over the threads (rather than split each block's product
    /// and epilogue): always for the generated path (it has no inner split) and for blocks too
    /// small for the crate to split (its threshold is 48·48·256 multiply-adds), else when the
    /// blocks balance over the threads.
    fn distribute(&self, blocks: usize, threads: usize) -> bool {
        let work = self.block_rows * self.geo.n * self.geo.k;
        self.depthwise.is_some()
            || self.path == GemmPath::Jit
            || work < 48 * 48 * 256
            || blocks >= 4 * threads
            || (blocks >= threads && blocks.is_multiple_of(threads))
    }

    /// Computes block `blk` of item `item` of `phase`, then its epilogue. With `wide`, the
    /// product and the epilogue use all of the pool's threads.
    unsafe fn block(&self, s: Shared, phase: usize, item: usize, blk: usize, wide: Option<&Pool>) {
        let geo = &self.geo;
        let r0 = blk * self.block_rows;
        let r1 = (r0 + self.block_rows).min(geo.m);
        let off = geo.item_offsets(phase, item);
        let base = |src: Source, elems: i64| -> *mut f32 {
            let p = match src {
                Source::Arg(a) => s.args[a],
                Source::Scratch => s.scratch,
            };
            (p as *mut f32).wrapping_offset(elems as isize)
        };
        let a = base(geo.a.src, geo.a.offset + off.a);
        let b = base(geo.b.src, geo.b.offset + off.b);
        let c = base(Source::Arg(geo.c_arg), off.c);
        match (self.path, &self.micro) {
            _ if let (Some(dw), Items::Conv(g)) = (&self.depthwise, &geo.layout) => {
                let x = base(
                    Source::Arg(g.input),
                    ((phase * g.c_in + item) * g.s_in) as i64,
                );
                // SAFETY: the item's input plane, kernel and output plane, inside the args.
                unsafe { dw.plane(x, a, c) };
            }
            (GemmPath::Jit, Some((_, Some(f)))) => {
                let ptrs = [a as *mut u8, b as *mut u8, c as *mut u8];
                // SAFETY: the generated product reads rows [r0, r1) of this item's operands and
                // writes the same rows of its accumulator, all inside the args.
                unsafe { f(ptrs.as_ptr(), r0 as i64, r1 as i64) };
            }
            _ => {
                let a = a.wrapping_offset(r0 as isize * geo.a.rs as isize);
                let c = c.wrapping_add(r0 * geo.n);
                if r1 - r0 == 1 && geo.k > 0 && gemv::applies(geo) {
                    // SAFETY: row r0 of the item, inside the args (caller's contract).
                    unsafe { gemv::product_row(geo, a, b, c, wide) };
                } else {
                    // SAFETY: rows [r0, r1) of the item, inside the args (caller's contract).
                    unsafe { library::product(geo, r1 - r0, a, b, c, wide) };
                }
            }
        }
        // SAFETY: the epilogue reads and writes only rows [r0, r1) of this item.
        unsafe {
            self.epilogue.run_rows(
                s.args,
                off.epi_item,
                off.epi_row0 + r0,
                off.epi_row0 + r1,
                wide,
            )
        };
    }
}
