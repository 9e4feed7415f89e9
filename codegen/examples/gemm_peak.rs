//! Measures the machine's f32 FMA peak (per core and on all cores, AVX-512 or AVX2+FMA by
//! run-time detection, enough independent accumulators to hide the FMA latency) and the
//! GFLOP/s of our `GemmPlan` on a 1024³ product with 1 and all threads, as a share of that
//! peak. Every figure is the median of several runs.
//!
//! `cargo run --release -p codegen --example gemm_peak [size]`

use codegen::cpu::gemm::GemmPlan;
use codegen::cpu::jit::JitCompiler;
use codegen::kernel::schedule::default_for;
use codegen::kernel::{
    Body, BufferId, GemmKernel, GemmOperand, Inst, Kernel, KernelKind, Schedule, Store,
};
use codegen::runtime::pool::Pool;
use ir::DType;
use std::hint::black_box;
use std::time::Instant;

/// Runs of each measurement; the median is reported.
const RUNS: usize = 11;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// FMA loops: `iters` iterations, returning flops done.
#[cfg(target_arch = "x86_64")]
mod fma {
    use std::arch::x86_64::*;

    /// 16 independent zmm accumulators: 512 flops per iteration.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(iters: u64) -> f64 {
        let x = _mm512_set1_ps(0.999_999);
        let y = _mm512_set1_ps(1e-7);
        let mut a = [_mm512_set1_ps(1.0); 16];
        for _ in 0..iters {
            for v in a.iter_mut() {
                *v = _mm512_fmadd_ps(*v, x, y);
            }
        }
        let mut s = _mm512_setzero_ps();
        for v in a {
            s = _mm512_add_ps(s, v);
        }
        std::hint::black_box(_mm512_reduce_add_ps(s));
        iters as f64 * 16.0 * 16.0 * 2.0
    }

    /// 12 independent ymm accumulators: 192 flops per iteration.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(iters: u64) -> f64 {
        let x = _mm256_set1_ps(0.999_999);
        let y = _mm256_set1_ps(1e-7);
        let mut a = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for v in a.iter_mut() {
                *v = _mm256_fmadd_ps(*v, x, y);
            }
        }
        let mut s = _mm256_setzero_ps();
        for v in a {
            s = _mm256_add_ps(s, v);
        }
        let mut out = [0f32; 8];
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
        std::hint::black_box(out);
        iters as f64 * 12.0 * 8.0 * 2.0
    }
}

/// An FMA loop: runs its iterations and returns the flops done.
type FmaLoop = unsafe fn(u64) -> f64;

/// The widest FMA loop the host runs, and its name.
#[cfg(target_arch = "x86_64")]
fn fma_loop() -> Option<(&'static str, FmaLoop)> {
    if is_x86_feature_detected!("avx512f") {
        Some(("AVX-512", fma::avx512 as FmaLoop))
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Some(("AVX2+FMA", fma::avx2 as FmaLoop))
    } else {
        None
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_loop() -> Option<(&'static str, FmaLoop)> {
    None
}

/// GFLOP/s of `threads` threads running the FMA loop at once (median of `RUNS`).
fn peak(f: FmaLoop, threads: usize) -> f64 {
    let iters = 4_000_000u64;
    // SAFETY: `fma_loop` checked the host supports the features; one iteration reports the
    // flops per iteration.
    let per_iter = unsafe { f(1) };
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let barrier = std::sync::Barrier::new(threads + 1);
        let t = std::thread::scope(|s| {
            for _ in 0..threads {
                let b = &barrier;
                s.spawn(move || {
                    b.wait();
                    // SAFETY: as above.
                    black_box(unsafe { f(iters) });
                });
            }
            barrier.wait();
            Instant::now()
        });
        let secs = t.elapsed().as_secs_f64();
        let flops = iters as f64 * per_iter * threads as f64;
        rates.push(flops / secs / 1e9);
    }
    median(rates)
}

/// An `n × n · n × n` product with the default schedule.
fn square(n: usize) -> Kernel {
    let mut body = Body::default();
    let x = body.push(Inst::Anchor);
    body.stores.push(Store { value: x, arg: 2 });
    let op = |arg| GemmOperand {
        arg,
        offset: 0,
        batch_strides: vec![],
        row_stride: n as i64,
        col_stride: 1,
    };
    let mut k = Kernel {
        name: "square".into(),
        nodes: vec![],
        args: vec![BufferId(0), BufferId(1), BufferId(2)],
        kind: KernelKind::Gemm(GemmKernel {
            batch: vec![],
            m: n,
            n,
            k: n,
            a: op(0),
            b: op(1),
            alpha: 1.0,
            epilogue: body,
        }),
        schedule: Schedule::None,
        index_checks: vec![],
    };
    k.schedule = default_for(&k);
    k
}

/// GFLOP/s of the plan on `threads` threads (median of `RUNS` after a warm-up).
fn gemm_rate(n: usize, threads: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let k = square(n);
    let (KernelKind::Gemm(g), Schedule::Gemm(s)) = (&k.kind, &k.schedule) else {
        return Err("not a gemm".into());
    };
    let mut jit = JitCompiler::new()?;
    let mut plan = GemmPlan::gemm("square", g, s, &[DType::F32; 3], &mut jit)?;
    let code = jit.finish()?;
    plan.link(&code);
    let mut a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let mut b: Vec<f32> = (0..n * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0f32; n * n];
    let mut scratch = vec![0u64; plan.scratch_bytes().div_ceil(8) + 8];
    let sp = ((scratch.as_mut_ptr() as usize).div_ceil(64) * 64) as *mut u8;
    let pool = Pool::new(threads);
    let ptrs = [
        a.as_mut_ptr() as *mut u8,
        b.as_mut_ptr() as *mut u8,
        c.as_mut_ptr() as *mut u8,
    ];
    let flops = 2.0 * (n as f64).powi(3);
    let mut rates = Vec::new();
    for run in 0..RUNS + 2 {
        let t = Instant::now();
        // SAFETY: the three buffers are n × n f32; the scratch is sized and aligned.
        unsafe { plan.run(&ptrs, sp, &pool) };
        let secs = t.elapsed().as_secs_f64();
        if run >= 2 {
            rates.push(flops / secs / 1e9);
        }
    }
    black_box(&c);
    Ok(median(rates))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1024);
    let all = std::thread::available_parallelism().map_or(1, |p| p.get());
    let Some((isa, f)) = fma_loop() else {
        println!("no AVX2+FMA on this host: no peak to compare with");
        return Ok(());
    };
    let p1 = peak(f, 1);
    let pn = peak(f, all);
    println!("f32 FMA peak ({isa}): {p1:.1} GFLOP/s per core, {pn:.1} GFLOP/s on {all} threads");
    for threads in [1, all] {
        let r = gemm_rate(n, threads)?;
        let p = if threads == 1 { p1 } else { pn };
        println!(
            "GemmPlan {n}³ on {threads} thread(s): {r:.1} GFLOP/s = {:.0}% of peak",
            100.0 * r / p
        );
        if all == 1 {
            break;
        }
    }
    Ok(())
}
