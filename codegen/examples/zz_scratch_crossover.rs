//! Scratch: Library vs Jit timings over small shapes (min of many runs). Deleted before hand-off.
use codegen::cpu::gemm::GemmPlan;
use codegen::cpu::jit::JitCompiler;
use codegen::kernel::*;
use codegen::runtime::pool::Pool;
use ir::DType;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap())
        .collect();
    let tiles = [
        args.first().copied().unwrap_or(4),
        args.get(1).copied().unwrap_or(8),
    ];
    let mut v = vec![];
    for n in [4usize, 8, 16, 24, 32] {
        for m in [16usize, 64, 256] {
            for k in [16usize, 64, 256] {
                v.push((1usize, m, n, k));
            }
        }
    }
    let shapes: &[(usize, usize, usize, usize)] = &v;
    for &(bt, m, n, k) in shapes {
        let mut body = Body::default();
        let x = body.push(Inst::Anchor);
        body.stores.push(Store { value: x, arg: 2 });
        let batch = if bt > 1 { vec![bt] } else { vec![] };
        let op = |arg, r: usize, c: usize| GemmOperand {
            arg,
            offset: 0,
            batch_strides: batch.iter().map(|_| (r * c) as i64).collect(),
            row_stride: c as i64,
            col_stride: 1,
        };
        let g = GemmKernel {
            batch: batch.clone(),
            m,
            n,
            k,
            a: op(0, m, k),
            b: op(1, k, n),
            alpha: 1.0,
            epilogue: body,
        };
        let mut res = vec![];
        for path in [GemmPath::Library, GemmPath::Jit] {
            let s = GemmSchedule {
                path,
                tile_m: tiles[0],
                tile_n: tiles[1],
                tile_k: 0,
                parallel: false,
                mma: None,
                stage_shared: false,
                epilogue: LoopSchedule::default_for(&[m, n], 1, true),
            };
            let mut jit = JitCompiler::new().unwrap();
            let mut plan = GemmPlan::gemm("x", &g, &s, &[DType::F32; 3], &mut jit).unwrap();
            let code = jit.finish().unwrap();
            plan.link(&code);
            let mut a = vec![0.5f32; bt * m * k];
            let mut b = vec![0.25f32; bt * k * n];
            let mut c = vec![0f32; bt * m * n];
            let ptrs = [
                a.as_mut_ptr() as *mut u8,
                b.as_mut_ptr() as *mut u8,
                c.as_mut_ptr() as *mut u8,
            ];
            let pool = Pool::new(1);
            let reps = (2_000_000 / (bt * m * n * k)).max(1);
            let mut best = f64::MAX;
            for _ in 0..30 {
                let t = Instant::now();
                for _ in 0..reps {
                    unsafe { plan.run(&ptrs, std::ptr::null_mut(), &pool) };
                }
                best = best.min(t.elapsed().as_secs_f64() / reps as f64);
            }
            res.push(best);
        }
        let fl = 2.0 * (bt * m * n * k) as f64;
        println!(
            "{bt:>3}x{m:>3}x{n:>3}x{k:>3}: lib {:>8.2} us ({:>5.1} GF)  jit {:>8.2} us ({:>5.1} GF)  jit/lib {:.2}",
            res[0] * 1e6,
            fl / res[0] / 1e9,
            res[1] * 1e6,
            fl / res[1] / 1e9,
            res[1] / res[0]
        );
    }
}
