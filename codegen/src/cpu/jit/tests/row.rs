//! Row kernels (softmax, log-softmax, layer norm, RMS norm) with fused prologues that store
//! and epilogues that scale, over rows of length 1, 3, 64 and one longer than the stack buffer,
//! against the reference evaluator; schedules agree within rounding.

use super::util::{B, assert_close, check, check_wide, kernel, random, run_jit, sched, schedules};
use crate::cpu::jit::row::{ROW_BUF_MAX, plan};
use crate::kernel::{BinaryFn as Bf, Inst, KernelKind, LoopSchedule, RowKernel, RowOp};
use ir::{DType, Tensor};

/// x = a + r (stored to arg 2, a residual sum), y = op(x) * gamma + beta into arg 5.
fn row_kernel(shape: &[usize], op: RowOp) -> RowKernel {
    let n = *shape.last().unwrap();
    let rank = shape.len();
    let mut p = B::new();
    let a = p.dense(0, shape);
    let r = p.dense(1, shape);
    let x = p.bin(Bf::Add, a, r);
    p.store(x, 2);
    let mut e = B::new();
    let y = e.push(Inst::Anchor);
    let mut st = vec![0i64; rank];
    st[rank - 1] = 1;
    let g = e.load(3, 0, &st);
    let bt = e.load(4, 0, &st);
    let yg = e.bin(Bf::Mul, y, g);
    let out = e.bin(Bf::Add, yg, bt);
    e.store(out, 5);
    let _ = n;
    RowKernel {
        shape: shape.to_vec(),
        prologue: p.done(),
        x,
        op,
        epilogue: e.done(),
    }
}

fn args(shape: &[usize], seed: u64) -> Vec<Tensor> {
    let n = *shape.last().unwrap();
    vec![
        random(shape, seed, -4.0, 4.0),
        random(shape, seed + 1, -1.0, 1.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
        random(&[n], seed + 2, 0.5, 1.5),
        random(&[n], seed + 3, -0.5, 0.5),
        Tensor::zeros(DType::F32, shape.to_vec()),
    ]
}

const OPS: [RowOp; 4] = [
    RowOp::Softmax,
    RowOp::LogSoftmax,
    RowOp::LayerNorm { epsilon: 1e-5 },
    RowOp::RmsNorm { epsilon: 1e-6 },
];

/// Every op over rows of 1, 3, 64, one whose buffer spans several stack pages, and more than
/// the stack buffer holds, vector and scalar; softmax rows both in the wide helpers (on hosts
/// that have them) and in generated code.
#[test]
fn row_ops_match_the_evaluator() {
    for op in OPS {
        for n in [1, 3, 17, 64, 3000, ROW_BUF_MAX + 37] {
            let rows = if n > 64 { 2 } else { 5 };
            let shape = [rows, n];
            for s in [sched(1, 4, 2), sched(1, 1, 1), sched(1, 4, 4)] {
                for wide in [true, false] {
                    let k = kernel(KernelKind::Row(row_kernel(&shape, op)), 6, s.clone());
                    // Sums in another order: rounding grows like √n ulps.
                    check_wide(&k, &args(&shape, 40 + n as u64), 2e-5, 2e-6, wide);
                }
            }
        }
    }
}

/// Every row schedule agrees within rounding; rank 3 with permuted outer loops and threads.
#[test]
fn row_schedules_agree() {
    let shape = [3, 4, 21];
    for op in OPS {
        let base = check(
            &kernel(KernelKind::Row(row_kernel(&shape, op)), 6, sched(2, 1, 1)),
            &args(&shape, 7),
            2e-5,
            2e-6,
        );
        for s in schedules(&shape[..2]) {
            let k = kernel(KernelKind::Row(row_kernel(&shape, op)), 6, s.clone());
            for chunks in [1, 2] {
                let mut got = args(&shape, 7);
                run_jit(&k, &mut got, chunks);
                for i in [2, 5] {
                    assert_close(
                        &format!("{op:?} {s:?} arg {i}"),
                        &got[i],
                        &base[i],
                        2e-6,
                        1e-6,
                    );
                }
            }
        }
    }
}

/// The output may be the prologue's input (in place), and NaN rows give NaN.
#[test]
fn row_in_place_and_nan() {
    let shape = [4, 10];
    let mut p = B::new();
    let x = p.dense(0, &shape);
    let mut e = B::new();
    let y = e.push(Inst::Anchor);
    e.store(y, 0);
    let k = RowKernel {
        shape: shape.to_vec(),
        prologue: p.done(),
        x,
        op: RowOp::Softmax,
        epilogue: e.done(),
    };
    let mut xs = random(&shape, 3, -3.0, 3.0).to_f32_vec();
    xs[13] = f32::NAN;
    let t = Tensor::from_f32(shape.to_vec(), xs).unwrap();
    for (s, wide) in [
        (sched(1, 4, 2), true),
        (sched(1, 4, 2), false),
        (sched(1, 1, 1), false),
    ] {
        let kk = kernel(KernelKind::Row(k.clone()), 1, s);
        let got = check_wide(&kk, std::slice::from_ref(&t), 2e-6, 1e-7, wide);
        let v = got[0].to_f32_vec();
        assert!(v[10..20].iter().all(|e| e.is_nan()), "wide {wide}");
        assert!(v[..10].iter().all(|e| !e.is_nan()), "wide {wide}");
    }
    let dt = [DType::F32];
    assert!(
        plan(&k, &dt, &sched(1, 4, 2), true, false)
            .unwrap()
            .vectorized()
    );
}

/// A rank-1 row kernel (no outer dims) and a bf16 input.
#[test]
fn single_row_bf16() {
    let n = 37;
    let xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.77).sin() * 3.0).collect();
    let x = Tensor::from_f64(DType::BF16, vec![n], &xs).unwrap();
    let mut p = B::new();
    let l = p.dense(0, &[n]);
    let mut e = B::new();
    let y = e.push(Inst::Anchor);
    e.store(y, 1);
    let k = RowKernel {
        shape: vec![n],
        prologue: p.done(),
        x: l,
        op: RowOp::LayerNorm { epsilon: 1e-5 },
        epilogue: e.done(),
    };
    let s = LoopSchedule {
        order: vec![],
        tiles: vec![],
        vector_width: 4,
        unroll: 2,
        bindings: vec![],
        grain: 1,
    };
    let kk = kernel(KernelKind::Row(k), 2, s);
    check(&kk, &[x, Tensor::zeros(DType::BF16, vec![n])], 1e-2, 1e-2);
}

/// `x` fixed along the row (a broadcast operand), vectorized: softmax gives 1/n, layer norm 0
/// (up to the mean's rounding error amplified by 1/√ε, as in any f32 evaluation).
#[test]
fn row_of_a_broadcast_operand() {
    for op in OPS {
        let shape = [3, 13];
        let mut p = B::new();
        let x = p.load(0, 0, &[1, 0]);
        let mut e = B::new();
        let y = e.push(Inst::Anchor);
        e.store(y, 1);
        let k = RowKernel {
            shape: shape.to_vec(),
            prologue: p.done(),
            x,
            op,
            epilogue: e.done(),
        };
        let dt = [DType::F32; 2];
        assert!(
            plan(&k, &dt, &sched(1, 4, 2), true, false)
                .unwrap()
                .vectorized()
        );
        for s in [sched(1, 4, 2), sched(1, 1, 1)] {
            let kk = kernel(KernelKind::Row(k.clone()), 2, s);
            let args = [
                random(&[3], 4, -2.0, 2.0),
                Tensor::zeros(DType::F32, shape.to_vec()),
            ];
            let abs = match op {
                RowOp::LayerNorm { .. } => 1e-4,
                _ => 1e-7,
            };
            for wide in [true, false] {
                check_wide(&kk, &args, 1e-6, abs, wide);
            }
        }
    }
}
