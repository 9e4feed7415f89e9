//! Pointwise kernels against the reference evaluator (and plain Rust where the meaning is
//! simplest stated so): broadcasts, transposes, GELU, casts and selects, bf16/f16, gathers,
//! in-place anchors, index masks, every operation, and schedule invariance.

use super::util::{
    B, Rng, assert_close, assert_same, check, f32s, pointwise, random, run_jit_wide, sched,
    schedules,
};
use crate::CodegenError;
use crate::cpu::jit::JitCompiler;
use crate::cpu::jit::pointwise::plan;
use crate::kernel::{
    Access, BinaryFn as Bf, Body, Indirect, Inst, LoopBinding, Scalar, UnaryFn as Uf,
};
use ir::{DType, Tensor};

/// out[i, j] = x[i, j] + bias[j], the bias broadcast with stride 0.
#[test]
fn broadcast_add_with_bias() {
    let shape = [5, 37];
    let mut b = B::new();
    let x = b.dense(0, &shape);
    let bias = b.load(1, 0, &[0, 1]);
    let y = b.bin(Bf::Add, x, bias);
    b.store(y, 2);
    let body = b.done();
    let x = random(&shape, 1, -3.0, 3.0);
    let bias = random(&[37], 2, -1.0, 1.0);
    let out = Tensor::zeros(DType::F32, shape.to_vec());
    let k = pointwise(&shape, body.clone(), 3, sched(2, 4, 2));
    let got = check(&k, &[x.clone(), bias.clone(), out], 0.0, 0.0);
    let (xv, bv) = (x.to_f32_vec(), bias.to_f32_vec());
    let want: Vec<f32> = (0..5 * 37).map(|i| xv[i] + bv[i % 37]).collect();
    assert_eq!(got[2].to_f32_vec(), want);
    let dt = [DType::F32; 3];
    assert!(
        plan(&shape, &body, &dt, None, &sched(2, 4, 2), true, false)
            .unwrap()
            .vectorized()
    );
}

/// out[i, j] = x[j, i]: a stride-M inner read stays scalar, and is right.
#[test]
fn transposed_read() {
    let (m, n) = (7, 9);
    let mut b = B::new();
    let x = b.load(0, 0, &[1, m as i64]);
    let t = b.un(Uf::Tanh, x);
    b.store(t, 1);
    let body = b.done();
    let x = random(&[n, m], 3, -2.0, 2.0);
    let k = pointwise(&[m, n], body.clone(), 2, sched(2, 4, 2));
    let got = check(
        &k,
        &[x.clone(), Tensor::zeros(DType::F32, vec![m, n])],
        2e-6,
        1e-7,
    );
    let xv = x.to_f32_vec();
    for i in 0..m {
        for j in 0..n {
            let want = (xv[j * m + i] as f64).tanh();
            let g = got[1].to_f32_vec()[i * n + j] as f64;
            assert!((g - want).abs() <= 2e-6 * want.abs() + 1e-7);
        }
    }
    let dt = [DType::F32; 2];
    assert!(
        !plan(&[m, n], &body, &dt, None, &sched(2, 4, 2), true, false)
            .unwrap()
            .vectorized()
    );
}

/// GELU, 0.5 x (1 + erf(x / √2)), over [-8, 8]. The subtraction 1 + erf loses relative
/// accuracy for very negative x in any f32 evaluation, so the tolerance has an absolute part.
#[test]
fn gelu_with_erf() {
    let n = 4099;
    let mut b = B::new();
    let x = b.dense(0, &[n]);
    let s = b.f(std::f64::consts::FRAC_1_SQRT_2);
    let xs = b.bin(Bf::Mul, x, s);
    let e = b.un(Uf::Erf, xs);
    let one = b.f(1.0);
    let e1 = b.bin(Bf::Add, e, one);
    let half = b.f(0.5);
    let hx = b.bin(Bf::Mul, x, half);
    let y = b.bin(Bf::Mul, hx, e1);
    b.store(y, 1);
    let body = b.done();
    let xv: Vec<f32> = (0..n).map(|i| -8.0 + 16.0 * i as f32 / n as f32).collect();
    for s in [sched(1, 4, 2), sched(1, 1, 1)] {
        let k = pointwise(&[n], body.clone(), 2, s);
        check(
            &k,
            &[f32s(&[n], xv.clone()), Tensor::zeros(DType::F32, vec![n])],
            2e-5,
            1e-6,
        );
    }
}

/// x → Cast to i64 (saturating, NaN to 0) → compare → Select, and an i64 output.
#[test]
fn cast_to_i64_and_select() {
    let vals = vec![
        0.0,
        -0.0,
        1.5,
        -1.5,
        2.7,
        -2.7,
        1e20,
        -1e20,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        3.0,
        4.0,
        99.9,
    ];
    let n = vals.len();
    let mut b = B::new();
    let x = b.dense(0, &[n]);
    let i = b.push(Inst::Cast(x, Scalar::I64));
    let three = b.c(3.0, Scalar::I64);
    let lt = b.bin(Bf::Lt, i, three);
    let neg = b.un(Uf::Neg, x);
    let y = b.push(Inst::Select(lt, x, neg));
    b.store(y, 1);
    let ii = b.bin(Bf::Mul, i, three);
    b.store(ii, 2);
    let i32v = b.push(Inst::Cast(x, Scalar::I32));
    b.store(i32v, 3);
    b.store(lt, 4);
    let body = b.done();
    let args = [
        f32s(&[n], vals.clone()),
        Tensor::zeros(DType::F32, vec![n]),
        Tensor::zeros(DType::I64, vec![n]),
        Tensor::zeros(DType::I32, vec![n]),
        Tensor::zeros(DType::Bool, vec![n]),
    ];
    for s in [sched(1, 4, 2), sched(1, 1, 1)] {
        let k = pointwise(&[n], body.clone(), 5, s);
        let got = check(&k, &args, 0.0, 0.0);
        let ints = got[2].as_i64().unwrap();
        for (v, &g) in vals.iter().zip(ints) {
            assert_eq!(g, (*v as i64).wrapping_mul(3), "cast of {v}");
        }
    }
}

/// bf16 in, bf16 out (round to nearest even, like `half`), vectorized and scalar.
#[test]
fn bf16_load_and_store() {
    let n = 67;
    let mut r = Rng::new(5);
    let mut xs: Vec<f32> = (0..n).map(|_| r.f32(-100.0, 100.0)).collect();
    xs[0] = f32::NAN;
    xs[1] = f32::INFINITY;
    xs[2] = 3.4e38;
    let xb: Vec<f64> = xs
        .iter()
        .map(|&v| half::bf16::from_f32(v).to_f64())
        .collect();
    let x = Tensor::from_f64(DType::BF16, vec![n], &xb).unwrap();
    let mut b = B::new();
    let l = b.dense(0, &[n]);
    let c = b.f(1.7);
    let y = b.bin(Bf::Mul, l, c);
    b.store(y, 1);
    b.store(y, 2);
    let body = b.done();
    for s in [sched(1, 4, 2), sched(1, 1, 1)] {
        let k = pointwise(&[n], body.clone(), 3, s);
        let args = [
            x.clone(),
            Tensor::zeros(DType::BF16, vec![n]),
            Tensor::zeros(DType::F32, vec![n]),
        ];
        let got = check(&k, &args, 0.0, 0.0);
        let out = got[1].to_f64_vec();
        for i in 0..n {
            let want = half::bf16::from_f32(half::bf16::from_f64(xb[i]).to_f32() * 1.7);
            assert!(
                out[i] == want.to_f64() || (out[i].is_nan() && want.is_nan()),
                "bf16[{i}]"
            );
        }
        let dt = [DType::BF16, DType::BF16, DType::F32];
        let vec = plan(&[n], &body, &dt, None, &sched(1, 4, 2), true, false).unwrap();
        assert!(vec.vectorized());
    }
}

/// f16 in, f16 out through the helpers.
#[test]
fn f16_load_and_store() {
    let n = 23;
    let xs: Vec<f64> = (0..n).map(|i| (i as f64 - 11.0) * 0.37).collect();
    let x = Tensor::from_f64(DType::F16, vec![n], &xs).unwrap();
    let mut b = B::new();
    let l = b.dense(0, &[n]);
    let y = b.un(Uf::Sigmoid, l);
    b.store(y, 1);
    let body = b.done();
    let k = pointwise(&[n], body, 2, sched(1, 4, 2));
    check(&k, &[x, Tensor::zeros(DType::F16, vec![n])], 1e-3, 1e-3);
}

/// An embedding gather: out[b, s, h] = table[ids[b, s], h] with negative ids counting from the
/// end; the index is fixed along h, so the loop is vectorized.
#[test]
fn indirect_gather() {
    let (v, h, bs, s) = (11usize, 13usize, 2usize, 5usize);
    let ids: Vec<i64> = vec![0, 3, -1, 10, -11, 5, 7, -4, 2, 9];
    let mut b = B::new();
    let id = b.load(1, 0, &[s as i64, 1, 0]);
    let row = b.push(Inst::Load(Access {
        arg: 0,
        offset: 0,
        strides: vec![0, 0, 1],
        indirect: Some(Indirect {
            index: id,
            extent: v as i64,
            stride: h as i64,
        }),
    }));
    b.store(row, 2);
    let body = b.done();
    let table = random(&[v, h], 9, -1.0, 1.0);
    let args = [
        table.clone(),
        Tensor::from_i64(vec![bs, s], ids.clone()).unwrap(),
        Tensor::zeros(DType::F32, vec![bs, s, h]),
    ];
    let k = pointwise(&[bs, s, h], body.clone(), 3, sched(3, 4, 2));
    let got = check(&k, &args, 0.0, 0.0);
    let tv = table.to_f32_vec();
    let out = got[2].to_f32_vec();
    for (p, &j) in ids.iter().enumerate() {
        let j = if j < 0 { j + v as i64 } else { j } as usize;
        assert_eq!(&out[p * h..(p + 1) * h], &tv[j * h..(j + 1) * h]);
    }
    let dt = [DType::F32, DType::I64, DType::F32];
    assert!(
        plan(&[bs, s, h], &body, &dt, None, &sched(3, 4, 2), true, false)
            .unwrap()
            .vectorized()
    );
}

/// A gather whose i32 index varies along the loop: scalar code.
#[test]
fn indirect_gather_varying_index() {
    let n = 9;
    let ids: Vec<f64> = vec![4.0, -1.0, 0.0, 2.0, -5.0, 3.0, 1.0, 1.0, 4.0];
    let mut b = B::new();
    let id = b.load(1, 0, &[1]);
    let g = b.push(Inst::Load(Access {
        arg: 0,
        offset: 0,
        strides: vec![0],
        indirect: Some(Indirect {
            index: id,
            extent: 5,
            stride: 1,
        }),
    }));
    b.store(g, 2);
    let body = b.done();
    let args = [
        f32s(&[5], vec![10.0, 11.0, 12.0, 13.0, 14.0]),
        Tensor::from_f64(DType::I32, vec![n], &ids).unwrap(),
        Tensor::zeros(DType::F32, vec![n]),
    ];
    let k = pointwise(&[n], body, 3, sched(1, 4, 2));
    let got = check(&k, &args, 0.0, 0.0);
    assert_eq!(
        got[2].to_f32_vec(),
        vec![14.0, 14.0, 10.0, 12.0, 10.0, 13.0, 11.0, 11.0, 14.0]
    );
}

/// A GEMM-style epilogue in place: acc = relu(acc + bias), the anchor read from the output.
#[test]
fn anchor_in_place() {
    let shape = [6, 19];
    let mut b = B::new();
    let a = b.push(Inst::Anchor);
    let bias = b.load(1, 0, &[0, 1]);
    let s = b.bin(Bf::Add, a, bias);
    let z = b.f(0.0);
    let y = b.bin(Bf::Max, s, z);
    b.store(y, 0);
    let body = b.done();
    let acc = random(&shape, 11, -2.0, 2.0);
    let bias = random(&[19], 12, -1.0, 1.0);
    for s in schedules(&shape) {
        let mut jit = JitCompiler::new().unwrap();
        let dt = [DType::F32, DType::F32];
        let f = jit
            .pointwise("epi", &shape, &body, &dt, Some(0), &s)
            .unwrap();
        let code = jit.finish().unwrap();
        let mut out = acc.to_f32_vec();
        let bv = bias.to_f32_vec();
        let ptrs = [out.as_mut_ptr() as *mut u8, bv.as_ptr() as *mut u8];
        let n0 = shape[s.parallel_dim().unwrap_or(0)] as i64;
        unsafe { code.get(f)(ptrs.as_ptr(), 0, n0) };
        let want: Vec<f32> = acc
            .to_f32_vec()
            .iter()
            .enumerate()
            .map(|(i, &v)| (v + bv[i % 19]).max(0.0))
            .collect();
        assert_eq!(out, want, "schedule {s:?}");
    }
}

/// A lower-triangular mask from `Index`: out[i, j] = j <= i ? x : 0.
#[test]
fn index_mask() {
    let shape = [5, 7];
    let mut b = B::new();
    let x = b.dense(0, &shape);
    let i = b.push(Inst::Index(0));
    let j = b.push(Inst::Index(1));
    let le = b.bin(Bf::Le, j, i);
    let z = b.f(0.0);
    let y = b.push(Inst::Select(le, x, z));
    b.store(y, 1);
    let body = b.done();
    let x = random(&shape, 4, 1.0, 2.0);
    for s in schedules(&shape) {
        let k = pointwise(&shape, body.clone(), 2, s);
        let got = check(
            &k,
            &[x.clone(), Tensor::zeros(DType::F32, shape.to_vec())],
            0.0,
            0.0,
        );
        let (xv, out) = (x.to_f32_vec(), got[1].to_f32_vec());
        for p in 0..35 {
            let want = if p % 7 <= p / 7 { xv[p] } else { 0.0 };
            assert_eq!(out[p], want);
        }
    }
}

/// One kernel with a broadcast, a transposed read, a bf16 output and transcendentals gives
/// bit-identical results under every schedule in generated code, and agrees within rounding
/// where vector schedules stage the transcendentals through the wide helpers.
#[test]
fn schedules_agree() {
    let shape = [3, 6, 11];
    let mut b = B::new();
    let x = b.dense(0, &shape);
    let t = b.load(1, 0, &[1, 3, 0]);
    let bias = b.load(2, 0, &[0, 0, 1]);
    let p = b.bin(Bf::Mul, x, t);
    let s = b.bin(Bf::Add, p, bias);
    let e = b.un(Uf::Tanh, s);
    let ex = b.un(Uf::Exp, x);
    let y = b.bin(Bf::Sub, e, ex);
    b.store(y, 3);
    b.store(s, 4);
    let body = b.done();
    let args = vec![
        random(&shape, 21, -2.0, 2.0),
        random(&[6, 3], 22, -2.0, 2.0),
        random(&[11], 23, -1.0, 1.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
        Tensor::zeros(DType::BF16, shape.to_vec()),
    ];
    let first = check(
        &pointwise(&shape, body.clone(), 5, sched(3, 1, 1)),
        &args,
        2e-6,
        1e-7,
    );
    for s in schedules(&shape) {
        for chunks in [1, 2, 3] {
            let k = pointwise(&shape, body.clone(), 5, s.clone());
            let mut got = args.clone();
            run_jit_wide(&k, &mut got, chunks, false);
            assert_same(&format!("{s:?} in {chunks} calls"), &got, &first);
            let mut wide = args.clone();
            run_jit_wide(&k, &mut wide, chunks, true);
            for i in [3, 4] {
                let what = format!("wide {s:?} in {chunks} calls, arg {i}");
                assert_close(&what, &wide[i], &first[i], 2e-6, 1e-7);
            }
        }
    }
}

/// Rank 0, an empty shape, and schedules the CPU cannot run.
#[test]
fn edge_shapes_and_bad_schedules() {
    let mut b = B::new();
    let x = b.dense(0, &[]);
    let y = b.un(Uf::Exp, x);
    b.store(y, 1);
    let body = b.done();
    let k = pointwise(&[], body, 2, sched(0, 4, 2));
    check(
        &k,
        &[Tensor::scalar_f32(1.0), Tensor::zeros(DType::F32, vec![])],
        2e-6,
        0.0,
    );

    let mut b = B::new();
    let x = b.dense(0, &[3, 0]);
    b.store(x, 1);
    let body: Body = b.done();
    let k = pointwise(&[3, 0], body.clone(), 2, sched(2, 4, 2));
    check(
        &k,
        &[
            Tensor::zeros(DType::F32, vec![3, 0]),
            Tensor::zeros(DType::F32, vec![3, 0]),
        ],
        0.0,
        0.0,
    );

    let dt = [DType::F32; 2];
    let mut jit = JitCompiler::new().unwrap();
    let mut s = sched(2, 4, 1);
    s.bindings[0] = LoopBinding::GpuBlock(0);
    assert!(matches!(
        jit.pointwise("gpu", &[3, 0], &body, &dt, None, &s),
        Err(CodegenError::Unsupported(_))
    ));
    let mut s = sched(2, 4, 1);
    s.order = vec![0, 0];
    assert!(
        jit.pointwise("perm", &[3, 0], &body, &dt, None, &s)
            .is_err()
    );
    let s = sched(2, 3, 1);
    assert!(
        jit.pointwise("width", &[3, 0], &body, &dt, None, &s)
            .is_err()
    );
    // A load of an arg that does not exist is an error, not a crash.
    let mut b = B::new();
    let x = b.dense(5, &[3]);
    b.store(x, 1);
    assert!(
        jit.pointwise("arg", &[3], &b.done(), &dt, None, &sched(1, 4, 1))
            .is_err()
    );
}

/// Dims that every access walks as one merge into one loop; a transposed pair, an `Index`, a
/// tile or a `Threads` binding keeps its dims apart. Results agree either way.
#[test]
fn contiguous_dims_merge() {
    let shape = [4, 6, 8];
    let dt = [DType::F32; 3];
    // x dense, bias over the last two dims: all three merge.
    let mut b = B::new();
    let x = b.dense(0, &shape);
    let bias = b.load(1, 0, &[0, 8, 1]);
    let y = b.bin(Bf::Add, x, bias);
    b.store(y, 2);
    let body = b.done();
    let p = plan(&shape, &body, &dt, None, &sched(3, 4, 2), true, false).unwrap();
    assert_eq!(p.loop_extents(), &[4, 48]);
    let mut s = sched(3, 4, 2);
    s.bindings[0] = LoopBinding::Threads;
    let p = plan(&shape, &body, &dt, None, &s, true, false).unwrap();
    assert_eq!(p.loop_extents(), &[4, 48]);
    let mut s = sched(3, 4, 2);
    s.tiles[1] = 2;
    let p = plan(&shape, &body, &dt, None, &s, true, false).unwrap();
    assert_eq!(p.loop_extents(), &[4, 6, 8]);
    let args = [
        random(&shape, 31, -1.0, 1.0),
        random(&[6, 8], 32, -1.0, 1.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
    ];
    check(&pointwise(&shape, body, 3, sched(3, 4, 2)), &args, 0.0, 0.0);
    // A transposed read of the last two dims keeps all three apart; a broadcast along the last
    // dim keeps it apart from the others.
    let mut b = B::new();
    let x = b.dense(0, &shape);
    let t = b.load(1, 0, &[48, 1, 6]);
    let y = b.bin(Bf::Mul, x, t);
    b.store(y, 2);
    let body = b.done();
    let p = plan(&shape, &body, &dt, None, &sched(3, 4, 2), true, false).unwrap();
    assert_eq!(p.loop_extents(), &[4, 6, 8]);
    let args = [
        random(&shape, 33, -1.0, 1.0),
        random(&[4, 8, 6], 34, -1.0, 1.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
    ];
    check(&pointwise(&shape, body, 3, sched(3, 4, 2)), &args, 0.0, 0.0);
    let mut b = B::new();
    let x = b.dense(0, &shape);
    let t = b.load(1, 0, &[6, 1, 0]);
    let y = b.bin(Bf::Mul, x, t);
    b.store(y, 2);
    let body = b.done();
    let p = plan(&shape, &body, &dt, None, &sched(3, 4, 2), true, false).unwrap();
    assert_eq!(p.loop_extents(), &[24, 8]);
    let args = [
        random(&shape, 33, -1.0, 1.0),
        random(&[4, 6], 34, -1.0, 1.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
    ];
    check(&pointwise(&shape, body, 3, sched(3, 4, 2)), &args, 0.0, 0.0);
    // Index(1) keeps dims 1 and 2 (and 0 and 1) apart; size-1 dims merge whatever their stride.
    let shape = [1, 5, 3];
    let mut b = B::new();
    let x = b.load(0, 0, &[77, 3, 1]);
    let i = b.push(Inst::Index(1));
    let f = b.push(Inst::Cast(i, Scalar::F32));
    let y = b.bin(Bf::Add, x, f);
    b.store(y, 1);
    let body = b.done();
    let dt2 = [DType::F32; 2];
    let p = plan(&shape, &body, &dt2, None, &sched(3, 4, 2), true, false).unwrap();
    assert_eq!(p.loop_extents(), &[1, 5, 3]);
    let args = [
        random(&[5, 3], 35, -1.0, 1.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
    ];
    check(&pointwise(&shape, body, 2, sched(3, 4, 2)), &args, 0.0, 0.0);
    let mut b = B::new();
    let x = b.load(0, 0, &[77, 3, 1]);
    b.store(x, 1);
    let body = b.done();
    let p = plan(&shape, &body, &dt2, None, &sched(3, 4, 2), true, false).unwrap();
    assert_eq!(p.loop_extents(), &[15]);
}

/// A kernel that fails while being emitted (Exp of an integer) leaves the compiler usable: the
/// next kernel compiles, finishes and runs.
#[test]
fn failed_kernel_leaves_the_compiler_usable() {
    let dt = [DType::I32, DType::I32];
    let mut b = B::new();
    let x = b.dense(0, &[4]);
    let y = b.un(Uf::Exp, x);
    b.store(y, 1);
    let mut jit = JitCompiler::new().unwrap();
    assert!(
        jit.pointwise("bad", &[4], &b.done(), &dt, None, &sched(1, 1, 1))
            .is_err()
    );
    let mut b = B::new();
    let x = b.dense(0, &[4]);
    let y = b.bin(Bf::Add, x, x);
    b.store(y, 1);
    let f = jit
        .pointwise("good", &[4], &b.done(), &dt, None, &sched(1, 4, 1))
        .unwrap();
    let code = jit.finish().unwrap();
    let x = [1i32, -2, 3, i32::MAX];
    let mut out = [0i32; 4];
    let ptrs = [x.as_ptr() as *mut u8, out.as_mut_ptr() as *mut u8];
    unsafe { code.get(f)(ptrs.as_ptr(), 0, 0) };
    assert_eq!(out, [2, -4, 6, i32::MAX.wrapping_mul(2)]);
}

/// A stored value fixed along the vector loop (an Expand): stored as a splat.
#[test]
fn expand_stores_a_hoisted_value() {
    let shape = [4, 10];
    let mut b = B::new();
    let x = b.load(0, 0, &[1, 0]);
    let t = b.un(Uf::Tanh, x);
    b.store(x, 1);
    b.store(t, 2);
    let body = b.done();
    let dt = [DType::F32, DType::F32, DType::BF16];
    assert!(
        plan(&shape, &body, &dt, None, &sched(2, 4, 2), true, false)
            .unwrap()
            .vectorized()
    );
    let args = [
        random(&[4], 5, -2.0, 2.0),
        Tensor::zeros(DType::F32, shape.to_vec()),
        Tensor::zeros(DType::BF16, shape.to_vec()),
    ];
    for s in schedules(&shape) {
        check(&pointwise(&shape, body.clone(), 3, s), &args, 2e-6, 1e-7);
    }
}
