//! Pointwise kernels staged through the wide helpers (`staged.rs`): rows longer than a chunk,
//! two staged calls sharing operands, a call whose argument depends on another (not staged),
//! under several schedules and thread splits, against the reference evaluator.

use super::util::{B, check_wide, pointwise, random, sched, schedules};
use crate::cpu::jit::pointwise::plan;
use crate::kernel::{BinaryFn as Bf, UnaryFn as Uf};
use ir::{DType, Tensor};

/// y = tanh(x·t + bias) - exp(x) · sigmoid(x) + erf(x); s = x·t + bias (a second store).
fn body(shape: &[usize]) -> crate::kernel::Body {
    let mut b = B::new();
    let x = b.dense(0, shape);
    let mut tstrides = vec![0i64; shape.len()];
    tstrides[0] = 1;
    let t = b.load(1, 0, &tstrides);
    let mut bstrides = vec![0i64; shape.len()];
    bstrides[shape.len() - 1] = 1;
    let bias = b.load(2, 0, &bstrides);
    let p = b.bin(Bf::Mul, x, t);
    let s = b.bin(Bf::Add, p, bias);
    let th = b.un(Uf::Tanh, s);
    let ex = b.un(Uf::Exp, x);
    let sg = b.un(Uf::Sigmoid, x);
    let er = b.un(Uf::Erf, x);
    let es = b.bin(Bf::Mul, ex, sg);
    let d = b.bin(Bf::Sub, th, es);
    let y = b.bin(Bf::Add, d, er);
    b.store(y, 3);
    b.store(s, 4);
    b.done()
}

fn args(shape: &[usize]) -> Vec<Tensor> {
    vec![
        random(shape, 31, -3.0, 3.0),
        random(&[shape[0]], 32, -2.0, 2.0),
        random(&[shape[shape.len() - 1]], 33, -1.0, 1.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
        Tensor::zeros(DType::F32, shape.to_vec()),
    ]
}

#[test]
fn staged_calls_match_the_evaluator_across_chunks_and_schedules() {
    // Rows of 700 (two whole chunks and a partial one), 256 (exactly one), 5 (a tail only).
    for shape in [[3usize, 700], [2, 256], [4, 5]] {
        let dt = [DType::F32; 5];
        let b = body(&shape);
        let p = plan(&shape, &b, &dt, None, &sched(2, 4, 2), true, true).unwrap();
        assert_eq!(
            p.staged(),
            crate::cpu::jit::wide::Width::host().is_wide(),
            "{shape:?}: staged on wide hosts"
        );
        for s in schedules(&shape) {
            let k = pointwise(&shape, b.clone(), 5, s);
            check_wide(&k, &args(&shape), 2e-6, 1e-6, true);
        }
    }
}

#[test]
fn a_call_on_a_call_is_not_staged() {
    let shape = [2usize, 300];
    let mut b = B::new();
    let x = b.dense(0, &shape);
    let e = b.un(Uf::Exp, x);
    let y = b.un(Uf::Tanh, e);
    b.store(y, 1);
    let body = b.done();
    let dt = [DType::F32; 2];
    let p = plan(&shape, &body, &dt, None, &sched(2, 4, 2), true, true).unwrap();
    assert!(
        !p.staged(),
        "tanh(exp(x)) needs exp's result before tanh's buffer fills"
    );
    let k = pointwise(&shape, body, 2, sched(2, 4, 2));
    let args = [
        random(&shape, 41, -2.0, 2.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
    ];
    check_wide(&k, &args, 2e-6, 1e-7, true);
}
