//! The thread pool kernels split their parallel loop over.
//!
//! Invariant: work below a kernel's grain never leaves the calling thread, so tiny kernels pay
//! no synchronization.

use rayon::{ThreadPool, ThreadPoolBuilder};

/// A fixed set of worker threads.
pub struct Pool {
    threads: usize,
    pool: Option<ThreadPool>,
}

impl Pool {
    /// A pool of `threads` workers (1 runs everything on the caller's thread).
    pub fn new(threads: usize) -> Pool {
        let threads = threads.max(1);
        let pool = (threads > 1)
            .then(|| ThreadPoolBuilder::new().num_threads(threads).build().ok())
            .flatten();
        Pool {
            threads: if pool.is_some() { threads } else { 1 },
            pool,
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Calls `f(begin, end)` on disjoint chunks covering `0..extent`, each at least `grain`
    /// long (but the last), spread over the workers; returns when all are done.
    pub fn for_chunks(&self, extent: usize, grain: usize, f: &(dyn Fn(usize, usize) + Sync)) {
        let grain = grain.max(1);
        let tasks = (extent / grain).clamp(1, self.threads);
        match &self.pool {
            Some(pool) if tasks > 1 => {
                let chunk = extent.div_ceil(tasks);
                pool.scope(|s| {
                    for t in 1..tasks {
                        let (b, e) = (t * chunk, ((t + 1) * chunk).min(extent));
                        if b < e {
                            s.spawn(move |_| f(b, e));
                        }
                    }
                    f(0, chunk.min(extent));
                });
            }
            Some(_) | None => f(0, extent),
        }
    }

    /// Runs `f` inside the pool, so that libraries using rayon (the `gemm` crate) use its
    /// workers.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}
