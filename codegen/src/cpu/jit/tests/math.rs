//! The polynomial exp, log, tanh, erf and sigmoid over dense sweeps and special values against
//! f64 references: relative error ≤ 2e-6 (with the stated absolute floors), and the f32x4 and
//! scalar code give identical bits.

use super::util::{B, f32s, pointwise, run_jit_wide, sched};
use crate::kernel::UnaryFn as Uf;
use ir::{DType, Tensor};

/// erf in f64 by `ir::interp` (fdlibm, < 1 ulp).
fn erf64(xs: &[f32]) -> Vec<f64> {
    let t = Tensor::from_f64(
        DType::F64,
        vec![xs.len()],
        &xs.iter().map(|&x| x as f64).collect::<Vec<_>>(),
    )
    .unwrap();
    let op = ir::Op::Unary(ir::op::UnaryOp::Erf);
    ir::interp::eval(&op, &[Some(&t)], 1).unwrap()[0].to_f64_vec()
}

fn reference(f: Uf, xs: &[f32]) -> Vec<f64> {
    if f == Uf::Erf {
        return erf64(xs);
    }
    xs.iter()
        .map(|&x| {
            let x = x as f64;
            match f {
                Uf::Exp => x.exp(),
                Uf::Log => x.ln(),
                Uf::Tanh => x.tanh(),
                Uf::Sigmoid => 1.0 / (1.0 + (-x).exp()),
                _ => unreachable!("only the polynomial functions"),
            }
        })
        .collect()
}

/// Runs `f` over `xs` with schedule (width, unroll), with or without the wide helpers.
fn jit(f: Uf, xs: &[f32], width: u32, unroll: u32, wide: bool) -> Vec<f32> {
    let n = xs.len();
    let mut b = B::new();
    let x = b.dense(0, &[n]);
    let y = b.un(f, x);
    b.store(y, 1);
    let k = pointwise(&[n], b.done(), 2, sched(1, width, unroll));
    let mut args = vec![f32s(&[n], xs.to_vec()), Tensor::zeros(DType::F32, vec![n])];
    run_jit_wide(&k, &mut args, 1, wide);
    args[1].to_f32_vec()
}

/// Checks `f` on `xs`: generated f32x4 and scalar code bit for bit, then each of them and the
/// wide helpers: NaN/inf exact, else |got - want| ≤ 2e-6 |want| + `floor`.
fn sweep(f: Uf, xs: &[f32], floor: f64) {
    let vector = jit(f, xs, 4, 2, false);
    let scalar = jit(f, xs, 1, 1, false);
    for i in 0..xs.len() {
        assert!(
            vector[i].to_bits() == scalar[i].to_bits()
                || (vector[i].is_nan() && scalar[i].is_nan()),
            "{f:?}({}): vector {} vs scalar {}",
            xs[i],
            vector[i],
            scalar[i]
        );
    }
    let want = reference(f, xs);
    check_sweep(f, xs, &scalar, &want, floor, "generated");
    check_sweep(f, xs, &jit(f, xs, 4, 2, true), &want, floor, "wide");
}

fn check_sweep(f: Uf, xs: &[f32], got: &[f32], want: &[f64], floor: f64, what: &str) {
    let mut worst = 0.0f64;
    for i in 0..xs.len() {
        let (g, w) = (got[i] as f64, want[i]);
        if w.is_nan() {
            assert!(g.is_nan(), "{f:?}({}) = {g}, want NaN", xs[i]);
            continue;
        }
        // The exact result rounded to f32: overflow to inf is right.
        if (w as f32).is_infinite() {
            assert_eq!(g, w as f32 as f64, "{f:?}({}) ({what})", xs[i]);
            continue;
        }
        let err = (g - w).abs();
        assert!(
            err <= 2e-6 * w.abs() + floor,
            "{f:?}({}) = {g} ({what}), want {w} (rel {})",
            xs[i],
            err / w.abs()
        );
        if w.abs() > 1e-30 {
            worst = worst.max(err / w.abs());
        }
    }
    eprintln!(
        "{f:?} ({what}): worst relative error {worst:.2e} over {} points",
        xs.len()
    );
}

fn specials() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-8,
        -1e-8,
        1e-30,
        1e-40,
        -1e-40,
        0.5,
        -0.5,
        0.625,
        -0.625,
        0.84375,
        20.0,
        -20.0,
        88.72,
        88.7228,
        88.7229,
        89.0,
        -87.0,
        -100.0,
        100.0,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ]
}

const N: usize = 1_000_000;

#[test]
fn exp_sweep() {
    let mut xs: Vec<f32> = (0..N)
        .map(|i| -87.0 + 175.7 * i as f32 / N as f32)
        .collect();
    xs.extend(specials());
    // Results below 2^-125 are flushed to zero.
    sweep(Uf::Exp, &xs, 2.4e-38);
    for wide in [false, true] {
        let e = jit(Uf::Exp, &[100.0, -100.0, 88.722_83, 0.0], 4, 1, wide);
        assert_eq!(e[0], f32::INFINITY);
        // Generated code flushes to zero; the wide helpers keep subnormals.
        assert!(
            (0.0..2.4e-38).contains(&e[1]),
            "exp(-100) = {} (wide {wide})",
            e[1]
        );
        assert!(e[2].is_finite());
        assert_eq!(e[3], 1.0);
    }
}

#[test]
fn log_sweep() {
    // Log-uniform over the positive floats, subnormals included, and a dense band around 1.
    let mut xs: Vec<f32> = (0..N / 2)
        .map(|i| (-100.0 + 188.0 * i as f64 / (N / 2) as f64).exp() as f32)
        .collect();
    xs.extend((0..N / 2).map(|i| 0.5 + 1.5 * i as f32 / (N / 2) as f32));
    xs.extend(specials());
    xs.extend([-1.0, -1e-30, 1e-45, 3e-39]);
    sweep(Uf::Log, &xs, 0.0);
}

#[test]
fn tanh_sweep() {
    let mut xs: Vec<f32> = (0..N).map(|i| -20.0 + 40.0 * i as f32 / N as f32).collect();
    xs.extend(specials());
    sweep(Uf::Tanh, &xs, 1e-7);
    for wide in [false, true] {
        let t = jit(Uf::Tanh, &[20.0, -20.0, 1e30, f32::INFINITY], 4, 1, wide);
        assert_eq!(t, vec![1.0, -1.0, 1.0, 1.0], "wide {wide}");
    }
}

#[test]
fn erf_sweep() {
    let mut xs: Vec<f32> = (0..N).map(|i| -20.0 + 40.0 * i as f32 / N as f32).collect();
    xs.extend(specials());
    sweep(Uf::Erf, &xs, 1e-7);
}

#[test]
fn sigmoid_sweep() {
    let mut xs: Vec<f32> = (0..N).map(|i| -20.0 + 40.0 * i as f32 / N as f32).collect();
    xs.extend(specials());
    // sigmoid(x < -87) is below 2^-125 and flushed with exp.
    sweep(Uf::Sigmoid, &xs, 2.4e-38);
    for wide in [false, true] {
        let s = jit(Uf::Sigmoid, &[-100.0, 100.0, 0.0], 4, 1, wide);
        assert!(
            (0.0..2.4e-38).contains(&s[0]),
            "sigmoid(-100) = {} (wide {wide})",
            s[0]
        );
        assert_eq!(s[1..], [1.0, 0.5], "wide {wide}");
    }
}
