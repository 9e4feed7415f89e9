//! Pointwise kernels that only move elements (a transpose that keeps an inner block, a channel
//! shuffle, a slice, a broadcast of whole rows) run as copies of contiguous runs instead of
//! generated loops.
//!
//! The generated loop moves one element, or one 128-bit vector, per step with its index
//! arithmetic; ShuffleNet's channel shuffles ([1, 4, 34, 28, 28] → [1, 34, 4, 28, 28], runs of
//! 784 floats) took 0.2 ms each that way for 426 KB. A copy is exact: the elements' bytes are
//! moved, the dtype is the same on both sides.

use crate::kernel::{Inst, PointwiseKernel, storage_bytes};
use crate::runtime::pool::Pool;
use ir::DType;

/// Runs shorter than this stay with the generated loop (a call per run would cost more).
const MIN_RUN: usize = 8;

/// Bytes below which the copy is not split over threads.
const PARALLEL_BYTES: usize = 1 << 18;

/// A copy of `dst[o, r] = src[offset + Σ o_d · outer_strides_d + r]` for every outer index `o`
/// (over `outer_shape`) and `r < run`, `dst` dense.
#[derive(Clone, Debug)]
pub(crate) struct CopyPlan {
    src: usize,
    dst: usize,
    elem: usize,
    offset: i64,
    outer_shape: Vec<usize>,
    outer_strides: Vec<i64>,
    run: usize,
}

impl CopyPlan {
    /// The copy `pk` is, when its body is one load stored unchanged to a buffer of the same
    /// dtype, and the innermost dims it reads are contiguous for at least [`MIN_RUN`] elements.
    pub fn new(pk: &PointwiseKernel, dtypes: &[DType]) -> Option<CopyPlan> {
        let body = &pk.body;
        let ([Inst::Load(access)], [store]) = (&body.insts[..], &body.stores[..]) else {
            return None;
        };
        let same_dtype = dtypes.get(access.arg)? == dtypes.get(store.arg)?;
        let rank = pk.shape.len();
        if store.value.index() != 0
            || access.indirect.is_some()
            || !same_dtype
            || access.strides.len() != rank
        {
            return None;
        }
        let mut d = rank;
        let mut run = 1usize;
        while d > 0 && access.strides[d - 1] == run as i64 {
            run *= pk.shape[d - 1];
            d -= 1;
        }
        if run < MIN_RUN {
            return None;
        }
        Some(CopyPlan {
            src: access.arg,
            dst: store.arg,
            elem: storage_bytes(*dtypes.get(store.arg)?, 1),
            offset: access.offset,
            outer_shape: pk.shape[..d].to_vec(),
            outer_strides: access.strides[..d].to_vec(),
            run,
        })
    }

    /// Copies, outer indices spread over the pool's threads when the copy is large.
    ///
    /// # Safety
    /// `args[src]` and `args[dst]` hold the kernel's buffers with their declared sizes (every
    /// element the access names is inside `src`).
    pub unsafe fn run(&self, args: &[*mut u8], pool: &Pool) {
        let outer: usize = self.outer_shape.iter().product();
        if outer == 0 || self.run == 0 {
            return;
        }
        let (src, dst) = (args[self.src] as usize, args[self.dst] as usize);
        let job = |lo: usize, hi: usize| {
            // The outer index `lo` as a multi-index, then counted up like an odometer.
            let mut idx = vec![0usize; self.outer_shape.len()];
            let mut rest = lo;
            for d in (0..idx.len()).rev() {
                idx[d] = rest % self.outer_shape[d];
                rest /= self.outer_shape[d];
            }
            let bytes = self.run * self.elem;
            for o in lo..hi {
                let at: i64 = self.offset
                    + idx
                        .iter()
                        .zip(&self.outer_strides)
                        .map(|(&i, &s)| i as i64 * s)
                        .sum::<i64>();
                // SAFETY: the run is inside both buffers (caller's contract); `copy` allows
                // the memory plan to have put the output over its input.
                unsafe {
                    std::ptr::copy(
                        (src as *const u8).offset(at as isize * self.elem as isize),
                        (dst as *mut u8).add(o * bytes),
                        bytes,
                    )
                };
                for d in (0..idx.len()).rev() {
                    idx[d] += 1;
                    if idx[d] < self.outer_shape[d] {
                        break;
                    }
                    idx[d] = 0;
                }
            }
        };
        if outer * self.run * self.elem >= PARALLEL_BYTES && pool.threads() > 1 {
            pool.for_chunks(outer, 1, &job);
        } else {
            job(0, outer);
        }
    }
}
