//! Criterion benchmarks of contractions: f32 GEMM on 256/512/1024 squares with 1 and 2
//! threads (default schedule), the `Library` and `Jit` paths on small shapes (to place the
//! crossover the default schedule uses), and the fused bias + relu epilogue of 128×512·512×2048
//! under several row blocks (to pick the default `tile_m`). Throughput is in flops.
//!
//! `cargo bench -p codegen --bench gemm [-- filter]`

use codegen::cpu::gemm::GemmPlan;
use codegen::cpu::jit::{JitCode, JitCompiler};
use codegen::kernel::schedule::default_for;
use codegen::kernel::{
    Access, BinaryFn, Body, BufferId, GemmKernel, GemmOperand, GemmPath, GemmSchedule, Inst,
    Kernel, KernelKind, Scalar, Schedule, Store,
};
use codegen::runtime::pool::Pool;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ir::DType;
use std::time::Duration;

/// A built plan with its buffers.
struct Bench {
    plan: GemmPlan,
    _code: JitCode,
    bufs: Vec<Vec<f32>>,
    scratch: Vec<u64>,
    pool: Pool,
}

impl Bench {
    fn new(g: &GemmKernel, s: &GemmSchedule, threads: usize) -> Bench {
        let mut jit = JitCompiler::new().expect("JIT");
        let n_args = if g.epilogue.insts.len() > 1 { 4 } else { 3 };
        let dtypes = vec![DType::F32; n_args];
        let mut plan = GemmPlan::gemm("bench", g, s, &dtypes, &mut jit).expect("plan");
        let code = jit.finish().expect("finish");
        plan.link(&code);
        let items: usize = g.batch.iter().product();
        let fill = |n: usize| {
            (0..n)
                .map(|i| (i % 13) as f32 * 0.05 - 0.3)
                .collect::<Vec<f32>>()
        };
        let mut bufs = vec![
            fill(items * g.m * g.k),
            fill(items * g.k * g.n),
            vec![0.0; items * g.m * g.n],
        ];
        if n_args == 4 {
            bufs.push(fill(g.n));
        }
        Bench {
            scratch: vec![0; plan.scratch_bytes().div_ceil(8) + 8],
            plan,
            _code: code,
            bufs,
            pool: Pool::new(threads),
        }
    }

    fn run(&mut self) {
        let ptrs: Vec<*mut u8> = self
            .bufs
            .iter_mut()
            .map(|b| b.as_mut_ptr() as *mut u8)
            .collect();
        let sp = ((self.scratch.as_mut_ptr() as usize).div_ceil(64) * 64) as *mut u8;
        // SAFETY: the buffers match the kernel; the scratch is sized and aligned.
        unsafe { self.plan.run(&ptrs, sp, &self.pool) };
    }
}

/// A dense `batch × m × k · k × n` product whose epilogue stores the accumulator, or adds a
/// bias along n and applies relu.
fn kernel(batch: &[usize], m: usize, n: usize, k: usize, bias_relu: bool) -> Kernel {
    let mut body = Body::default();
    let mut x = body.push(Inst::Anchor);
    if bias_relu {
        let rank = batch.len() + 2;
        let mut strides = vec![0i64; rank];
        strides[rank - 1] = 1;
        let b = body.push(Inst::Load(Access {
            arg: 3,
            offset: 0,
            strides,
            indirect: None,
        }));
        let s = body.push(Inst::Binary(BinaryFn::Add, x, b));
        let z = body.push(Inst::Const {
            value: 0.0,
            ty: Scalar::F32,
        });
        x = body.push(Inst::Binary(BinaryFn::Max, s, z));
    }
    body.stores.push(Store { value: x, arg: 2 });
    let op = |arg, rows: usize, cols: usize| GemmOperand {
        arg,
        offset: 0,
        batch_strides: batch
            .iter()
            .enumerate()
            .map(|(d, _)| (rows * cols * batch[d + 1..].iter().product::<usize>()) as i64)
            .collect(),
        row_stride: cols as i64,
        col_stride: 1,
    };
    let mut kern = Kernel {
        name: "bench".into(),
        nodes: vec![],
        args: (0..4).map(BufferId).collect(),
        kind: KernelKind::Gemm(GemmKernel {
            batch: batch.to_vec(),
            m,
            n,
            k,
            a: op(0, m, k),
            b: op(1, k, n),
            alpha: 1.0,
            epilogue: body,
        }),
        schedule: Schedule::None,
        index_checks: vec![],
    };
    kern.schedule = default_for(&kern);
    kern
}

fn parts(k: &Kernel) -> (&GemmKernel, GemmSchedule) {
    match (&k.kind, &k.schedule) {
        (KernelKind::Gemm(g), Schedule::Gemm(s)) => (g, s.clone()),
        _ => unreachable!("a gemm kernel has a gemm schedule"),
    }
}

fn flops(batch: &[usize], m: usize, n: usize, k: usize) -> u64 {
    2 * (batch.iter().product::<usize>() * m * n * k) as u64
}

fn squares(c: &mut Criterion) {
    let mut group = c.benchmark_group("square");
    for n in [256usize, 512, 1024] {
        group.throughput(Throughput::Elements(flops(&[], n, n, n)));
        for threads in [1usize, 2] {
            let k = kernel(&[], n, n, n, false);
            let (g, s) = parts(&k);
            let mut b = Bench::new(g, &s, threads);
            group.bench_function(BenchmarkId::new(format!("{threads}t"), n), |bch| {
                bch.iter(|| b.run())
            });
        }
    }
    group.finish();
}

fn small(c: &mut Criterion) {
    let mut group = c.benchmark_group("small");
    let shapes: [(&[usize], usize, usize, usize); 7] = [
        (&[], 16, 16, 64),
        (&[], 16, 64, 16),
        (&[12], 16, 16, 64),
        (&[12], 16, 64, 16),
        (&[], 32, 32, 32),
        (&[], 64, 64, 64),
        (&[], 96, 96, 96),
    ];
    for (batch, m, n, k) in shapes {
        group.throughput(Throughput::Elements(flops(batch, m, n, k)));
        let kern = kernel(batch, m, n, k, false);
        let (g, s) = parts(&kern);
        for path in [GemmPath::Library, GemmPath::Jit] {
            let s = GemmSchedule {
                path,
                tile_m: 4,
                tile_n: 8,
                parallel: false,
                ..s.clone()
            };
            let mut b = Bench::new(g, &s, 1);
            let id = format!("{batch:?}x{m}x{n}x{k}");
            group.bench_function(BenchmarkId::new(format!("{path:?}"), id), |bch| {
                bch.iter(|| b.run())
            });
        }
    }
    group.finish();
}

fn fused(c: &mut Criterion) {
    let mut group = c.benchmark_group("bias_relu_128x512x2048");
    let (m, n, k) = (128, 2048, 512);
    group.throughput(Throughput::Elements(flops(&[], m, n, k)));
    let kern = kernel(&[], m, n, k, true);
    let (g, s) = parts(&kern);
    for tile_m in [0usize, 8, 16, 32, 64] {
        let s = GemmSchedule {
            tile_m,
            ..s.clone()
        };
        let mut b = Bench::new(g, &s, 2);
        group.bench_function(BenchmarkId::new("tile_m", tile_m), |bch| {
            bch.iter(|| b.run())
        });
    }
    // The default schedule, whatever it picks.
    let mut b = Bench::new(g, &s, 2);
    group.bench_function("default", |bch| bch.iter(|| b.run()));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = squares, small, fused
}
criterion_main!(benches);
