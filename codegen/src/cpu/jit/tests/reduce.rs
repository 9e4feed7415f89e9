//! Reductions against the reference evaluator: over a middle dim, over the last dim
//! (vectorized), over several dims, with epilogues, NaN propagation, empty reductions, and
//! schedules that agree within rounding.

use super::util::{B, assert_close, check, kernel, random, run_jit, sched, schedules};
use crate::cpu::jit::reduce::plan;
use crate::kernel::{BinaryFn as Bf, Inst, KernelKind, ReduceFn, ReduceKernel, UnaryFn as Uf};
use ir::{DType, Tensor};

/// x = in², reduced by `op` over `reduced`, then out = anchor * 0.5 + bias[kept last].
fn reduce_kernel(shape: &[usize], reduced: &[bool], op: ReduceFn) -> ReduceKernel {
    let mut p = B::new();
    let a = p.dense(0, shape);
    let x = p.bin(Bf::Mul, a, a);
    let kept: Vec<usize> = shape
        .iter()
        .zip(reduced)
        .filter(|(_, r)| !**r)
        .map(|(&n, _)| n)
        .collect();
    let mut e = B::new();
    let y = e.push(Inst::Anchor);
    let h = e.f(0.5);
    let yh = e.bin(Bf::Mul, y, h);
    let mut st = vec![0i64; kept.len()];
    if let Some(l) = st.last_mut() {
        *l = 1;
    }
    let bias = e.load(1, 0, &st);
    let out = e.bin(Bf::Add, yh, bias);
    e.store(out, 2);
    ReduceKernel {
        shape: shape.to_vec(),
        reduced: reduced.to_vec(),
        op,
        prologue: p.done(),
        x,
        epilogue: e.done(),
    }
}

fn args(shape: &[usize], reduced: &[bool], seed: u64) -> Vec<Tensor> {
    let kept: Vec<usize> = shape
        .iter()
        .zip(reduced)
        .filter(|(_, r)| !**r)
        .map(|(&n, _)| n)
        .collect();
    vec![
        random(shape, seed, -1.5, 1.5),
        random(&[kept.last().copied().unwrap_or(1)], seed + 1, -1.0, 1.0),
        Tensor::zeros(DType::F32, kept),
    ]
}

const OPS: [ReduceFn; 4] = [ReduceFn::Sum, ReduceFn::Prod, ReduceFn::Max, ReduceFn::Min];

#[test]
fn reduce_over_middle_last_and_several_dims() {
    let cases: [(&[usize], &[bool]); 6] = [
        (&[4, 7, 5], &[false, true, false]),
        (&[4, 7, 45], &[false, false, true]),
        (&[3, 5, 6], &[true, false, true]),
        (&[2, 3, 4], &[true, true, true]),
        (&[5, 6], &[false, false]),
        (&[130], &[true]),
    ];
    for (shape, red) in cases {
        for op in OPS {
            let kept = red.iter().filter(|r| !**r).count();
            for s in [sched(kept, 4, 2), sched(kept, 1, 1), sched(kept, 4, 1)] {
                let k = kernel(KernelKind::Reduce(reduce_kernel(shape, red, op)), 3, s);
                check(&k, &args(shape, red, 60), 2e-5, 1e-6);
            }
        }
    }
    let k = reduce_kernel(&[4, 7, 45], &[false, false, true], ReduceFn::Sum);
    let dt = [DType::F32; 3];
    assert!(plan(&k, &dt, &sched(2, 4, 2), true).unwrap().vectorized());
    // Contiguous reduced dims merge into one vectorized loop; a kept dim between keeps them
    // apart.
    let k = reduce_kernel(&[2, 3, 4], &[true, true, true], ReduceFn::Sum);
    let p = plan(&k, &dt, &sched(0, 4, 2), true).unwrap();
    assert_eq!(p.merged_shape(), &[24]);
    let k = reduce_kernel(&[3, 5, 6], &[true, false, true], ReduceFn::Sum);
    let p = plan(&k, &dt, &sched(1, 4, 2), true).unwrap();
    assert_eq!(p.merged_shape(), &[3, 5, 6]);
}

/// Max and Min propagate NaN; an empty reduction gives the identity.
#[test]
fn reduce_nan_and_empty() {
    let shape = [3, 9];
    let mut xs = random(&shape, 5, -1.0, 1.0).to_f32_vec();
    xs[11] = f32::NAN;
    let x = Tensor::from_f32(shape.to_vec(), xs).unwrap();
    for op in [ReduceFn::Max, ReduceFn::Min, ReduceFn::Sum] {
        let mut p = B::new();
        let a = p.dense(0, &shape);
        let mut e = B::new();
        let y = e.push(Inst::Anchor);
        e.store(y, 1);
        let k = ReduceKernel {
            shape: shape.to_vec(),
            reduced: vec![false, true],
            op,
            prologue: p.done(),
            x: a,
            epilogue: e.done(),
        };
        for s in [sched(1, 4, 2), sched(1, 1, 1)] {
            let kk = kernel(KernelKind::Reduce(k.clone()), 2, s);
            let got = check(
                &kk,
                &[x.clone(), Tensor::zeros(DType::F32, vec![3])],
                1e-6,
                1e-7,
            );
            let v = got[1].to_f32_vec();
            assert!(v[1].is_nan() && !v[0].is_nan() && !v[2].is_nan(), "{op:?}");
        }
    }
    for (op, want) in [
        (ReduceFn::Sum, 0.0),
        (ReduceFn::Prod, 1.0),
        (ReduceFn::Max, f32::NEG_INFINITY),
        (ReduceFn::Min, f32::INFINITY),
    ] {
        let mut p = B::new();
        let a = p.dense(0, &[2, 0]);
        let mut e = B::new();
        let y = e.push(Inst::Anchor);
        e.store(y, 1);
        let k = ReduceKernel {
            shape: vec![2, 0],
            reduced: vec![false, true],
            op,
            prologue: p.done(),
            x: a,
            epilogue: e.done(),
        };
        let kk = kernel(KernelKind::Reduce(k), 2, sched(1, 4, 2));
        let got = check(
            &kk,
            &[
                Tensor::zeros(DType::F32, vec![2, 0]),
                Tensor::zeros(DType::F32, vec![2]),
            ],
            0.0,
            0.0,
        );
        assert_eq!(got[1].to_f32_vec(), vec![want; 2]);
    }
}

/// A mean of exp over the last dim, every schedule of the kept dims, within rounding.
#[test]
fn reduce_schedules_agree() {
    let shape = [3, 5, 4, 19];
    let red = [false, true, false, true];
    let mut p = B::new();
    let a = p.dense(0, &shape);
    let x = p.un(Uf::Exp, a);
    let mut e = B::new();
    let y = e.push(Inst::Anchor);
    let inv = e.f(1.0 / 95.0);
    let m = e.bin(Bf::Mul, y, inv);
    e.store(m, 1);
    let k = ReduceKernel {
        shape: shape.to_vec(),
        reduced: red.to_vec(),
        op: ReduceFn::Sum,
        prologue: p.done(),
        x,
        epilogue: e.done(),
    };
    let input = random(&shape, 8, -2.0, 2.0);
    let out = Tensor::zeros(DType::F32, vec![3, 4]);
    let base = check(
        &kernel(KernelKind::Reduce(k.clone()), 2, sched(2, 1, 1)),
        &[input.clone(), out.clone()],
        2e-5,
        1e-7,
    );
    for s in schedules(&[3, 4]) {
        let kk = kernel(KernelKind::Reduce(k.clone()), 2, s.clone());
        let mut got = vec![input.clone(), out.clone()];
        run_jit(&kk, &mut got, 2);
        assert_close(&format!("{s:?}"), &got[1], &base[1], 2e-6, 1e-7);
    }
}

/// `x` fixed along the reduced dim (a broadcast operand): the vector loop folds its splat.
#[test]
fn reduce_of_a_broadcast_operand() {
    for op in OPS {
        let mut p = B::new();
        let a = p.load(0, 0, &[1, 0]);
        let mut e = B::new();
        let y = e.push(Inst::Anchor);
        e.store(y, 1);
        let k = ReduceKernel {
            shape: vec![5, 9],
            reduced: vec![false, true],
            op,
            prologue: p.done(),
            x: a,
            epilogue: e.done(),
        };
        let dt = [DType::F32; 2];
        assert!(plan(&k, &dt, &sched(1, 4, 2), true).unwrap().vectorized());
        for s in [sched(1, 4, 2), sched(1, 1, 1)] {
            let kk = kernel(KernelKind::Reduce(k.clone()), 2, s);
            let args = [
                random(&[5], 3, 0.5, 1.5),
                Tensor::zeros(DType::F32, vec![5]),
            ];
            check(&kk, &args, 1e-6, 0.0);
        }
    }
}
