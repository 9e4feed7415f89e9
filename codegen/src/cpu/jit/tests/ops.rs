//! Every scalar operation against the reference evaluator, f32x4 and scalar: unary and binary
//! float functions over special values, the masks of comparisons and logic, integer arithmetic,
//! comparisons and casts.

use super::util::{B, Rng, assert_close, check, f32s, pointwise, run_jit, sched};
use crate::cpu::jit::pointwise::plan;
use crate::kernel::{BinaryFn as Bf, Inst, Scalar, UnaryFn as Uf};
use ir::{DType, Tensor};

/// Special values every float operation must handle.
fn specials() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        3.7,
        -3.7,
        1e-30,
        -1e-30,
        1e-40,
        88.0,
        89.0,
        -88.0,
        -104.0,
        20.0,
        -20.0,
        100.0,
        -100.0,
        1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN_POSITIVE,
    ];
    let mut r = Rng::new(77);
    v.extend((0..37).map(|_| r.f32(-10.0, 10.0)));
    v
}

/// Every unary float function, vector and scalar, against the evaluator.
#[test]
fn every_unary_float_function() {
    let xs = specials();
    let n = xs.len();
    for f in [
        Uf::Neg,
        Uf::Abs,
        Uf::Sign,
        Uf::Exp,
        Uf::Log,
        Uf::Sqrt,
        Uf::Recip,
        Uf::Tanh,
        Uf::Erf,
        Uf::Sigmoid,
        Uf::Floor,
        Uf::Ceil,
        Uf::Round,
        Uf::Sin,
        Uf::Cos,
    ] {
        let mut b = B::new();
        let x = b.dense(0, &[n]);
        let y = b.un(f, x);
        b.store(y, 1);
        let body = b.done();
        // exp flushes results below 2^-125 to zero; sigmoid's tail is as small.
        let (rel, abs) = match f {
            Uf::Exp | Uf::Log | Uf::Tanh | Uf::Erf | Uf::Sigmoid => (2e-6, 1e-37),
            _ => (0.0, 0.0),
        };
        for s in [sched(1, 4, 2), sched(1, 1, 1)] {
            let k = pointwise(&[n], body.clone(), 2, s);
            let args = [f32s(&[n], xs.clone()), Tensor::zeros(DType::F32, vec![n])];
            let mut want = args.to_vec();
            crate::kernel::eval::eval_kernel(&k, &mut want).unwrap();
            let mut got = args.to_vec();
            run_jit(&k, &mut got, 1);
            assert_close(&format!("{f:?}"), &got[1], &want[1], rel, abs);
        }
    }
}

/// Every binary float function and comparison, plus Not/And/Or/Xor on the masks.
#[test]
fn every_binary_float_function() {
    let xs = specials();
    let n = xs.len();
    let mut ys = xs.clone();
    ys.rotate_left(5);
    for f in [
        Bf::Add,
        Bf::Sub,
        Bf::Mul,
        Bf::Div,
        Bf::Max,
        Bf::Min,
        Bf::Pow,
        Bf::Eq,
        Bf::Lt,
        Bf::Le,
        Bf::Gt,
        Bf::Ge,
    ] {
        let mut b = B::new();
        let x = b.dense(0, &[n]);
        let y = b.dense(1, &[n]);
        let r = b.bin(f, x, y);
        let r = if f.is_comparison() {
            // Through logic and back to a float, so the masks are exercised in vectors.
            let z = b.f(0.0);
            let pos = b.bin(Bf::Gt, x, z);
            let nr = b.un(Uf::Not, r);
            let a = b.bin(Bf::And, nr, pos);
            let o = b.bin(Bf::Or, a, r);
            let xo = b.bin(Bf::Xor, o, pos);
            b.push(Inst::Cast(xo, Scalar::F32))
        } else {
            r
        };
        b.store(r, 2);
        let body = b.done();
        for s in [sched(1, 4, 2), sched(1, 1, 1)] {
            let k = pointwise(&[n], body.clone(), 3, s);
            let args = [
                f32s(&[n], xs.clone()),
                f32s(&[n], ys.clone()),
                Tensor::zeros(DType::F32, vec![n]),
            ];
            let got = check(&k, &args, 0.0, 0.0);
            let _ = got;
        }
        let dt = [DType::F32; 3];
        let p = plan(&[n], &body, &dt, None, &sched(1, 4, 2), true, false).unwrap();
        assert!(p.vectorized(), "{f:?} vectorizes");
    }
}

/// Integer arithmetic (wrapping), extremes, signs, comparisons and casts on i32 and i64.
#[test]
fn integer_operations() {
    let vals: Vec<i64> = vec![
        0,
        1,
        -1,
        7,
        -7,
        i32::MAX as i64,
        i32::MIN as i64,
        123456789,
        -5,
    ];
    let n = vals.len();
    for (dt, ty) in [(DType::I32, Scalar::I32), (DType::I64, Scalar::I64)] {
        let fx: Vec<f64> = vals.iter().map(|&v| v as f64).collect();
        let x = Tensor::from_f64(dt, vec![n], &fx).unwrap();
        let mut rot = fx.clone();
        rot.rotate_left(2);
        let y = Tensor::from_f64(dt, vec![n], &rot).unwrap();
        let mut b = B::new();
        let a = b.dense(0, &[n]);
        let c = b.dense(1, &[n]);
        let mut outs = Vec::new();
        for f in [Bf::Add, Bf::Sub, Bf::Mul, Bf::Max, Bf::Min] {
            outs.push(b.bin(f, a, c));
        }
        for f in [Uf::Neg, Uf::Abs, Uf::Sign] {
            outs.push(b.un(f, a));
        }
        for (k, &o) in outs.iter().enumerate() {
            b.store(o, 2 + k);
        }
        let mut bools = Vec::new();
        for f in [Bf::Eq, Bf::Lt, Bf::Le, Bf::Gt, Bf::Ge] {
            bools.push(b.bin(f, a, c));
        }
        let nb = outs.len();
        for (k, &o) in bools.iter().enumerate() {
            b.store(o, 2 + nb + k);
        }
        let other = if ty == Scalar::I32 {
            Scalar::I64
        } else {
            Scalar::I32
        };
        let cf = b.push(Inst::Cast(a, Scalar::F32));
        let co = b.push(Inst::Cast(a, other));
        let cb = b.push(Inst::Cast(a, Scalar::Bool));
        let cbi = b.push(Inst::Cast(cb, ty));
        let base = 2 + nb + bools.len();
        b.store(cf, base);
        b.store(co, base + 1);
        b.store(cbi, base + 2);
        let body = b.done();
        let other_dt = if dt == DType::I32 {
            DType::I64
        } else {
            DType::I32
        };
        let mut args = vec![x.clone(), y.clone()];
        args.extend((0..nb).map(|_| Tensor::zeros(dt, vec![n])));
        args.extend((0..bools.len()).map(|_| Tensor::zeros(DType::Bool, vec![n])));
        args.push(Tensor::zeros(DType::F32, vec![n]));
        args.push(Tensor::zeros(other_dt, vec![n]));
        args.push(Tensor::zeros(dt, vec![n]));
        let k = pointwise(&[n], body, args.len(), sched(1, 4, 2));
        check(&k, &args, 0.0, 0.0);
    }
}

/// `Max`/`Min` against a constant (Relu, Clip) take the compare-and-blend path: NaN stays NaN,
/// -0 stays -0 where the interpreter keeps it (`v < 0 ? 0 : v`), infinities clamp; both
/// operand orders, f32x4 and scalar, against the evaluator bit for bit.
#[test]
fn max_and_min_against_constants() {
    let xs = specials();
    let n = xs.len();
    for (f, c) in [
        (Bf::Max, 0.0),
        (Bf::Min, 6.0),
        (Bf::Max, -1.5),
        (Bf::Min, -0.0),
    ] {
        for const_first in [false, true] {
            let mut b = B::new();
            let x = b.dense(0, &[n]);
            let k = b.f(c);
            let y = if const_first {
                b.bin(f, k, x)
            } else {
                b.bin(f, x, k)
            };
            b.store(y, 1);
            let body = b.done();
            for s in [sched(1, 4, 2), sched(1, 1, 1)] {
                let kern = pointwise(&[n], body.clone(), 2, s);
                let args = [f32s(&[n], xs.clone()), Tensor::zeros(DType::F32, vec![n])];
                let got = check(&kern, &args, 0.0, 0.0);
                let out = got[1].to_f32_vec();
                for (i, &v) in xs.iter().enumerate() {
                    if v.is_nan() {
                        assert!(out[i].is_nan(), "{f:?}(NaN, {c}) = {}", out[i]);
                    }
                }
            }
        }
    }
}
