//! The native runs of interpreted nodes against the interpreter, bit for bit: Concat along
//! every axis and dtype, pools with padding, ceil mode, strides and dilations; and plans that
//! do not add up are left to the interpreter.

use super::{runs_natively, try_run};
use crate::kernel::{BufferKind, KernelKind};
use crate::lowering::{LowerOptions, lower};
use crate::runtime::pool::Pool;
use ir::op::{AutoPad, PoolAttrs};
use ir::{DType, Graph, Op, Tensor, TensorType};

/// A lowered Concat of three inputs (one of them i64 on another axis too) runs natively,
/// bit for bit as the interpreter; an output of the wrong size is left to the interpreter.
#[test]
fn concat_runs_natively_and_equals_the_interpreter() {
    for (axis, shapes) in [
        (0i64, [[2usize, 3], [1, 3], [4, 3]]),
        (1, [[2, 3], [2, 1], [2, 4]]),
        (-1, [[2, 1], [2, 2], [2, 5]]),
    ] {
        for dtype in [DType::F32, DType::I64] {
            let ty = |s: &[usize; 2]| format!("{}[{},{}]", dtype, s[0], s[1]);
            let text = format!(
                "graph c(a: {}, b: {}, d: {}) -> (y) {{\n  y = Concat{{axis={axis}}}(a, b, d)\n}}\n",
                ty(&shapes[0]),
                ty(&shapes[1]),
                ty(&shapes[2]),
            );
            let mut g = ir::text::parse(&text).expect("test graph parses");
            let known = ir::infer::infer_graph_values(&mut g).expect("infers");
            let p = lower(&g, &known, &LowerOptions { fuse: true }).expect("lowers");
            let [k] = &p.kernels[..] else {
                panic!("one kernel: {}", p.describe())
            };
            let KernelKind::Interp(ik) = &k.kind else {
                panic!("concat is an interpreted node")
            };
            let inputs: Vec<Tensor> = shapes
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    let n = s[0] * s[1];
                    let v: Vec<f64> = (0..n).map(|i| (100 * j + i) as f64).collect();
                    Tensor::from_f64(dtype, s.to_vec(), &v).expect("sizes match")
                })
                .collect();
            let want = ir::interp::run(
                &g,
                &["a", "b", "d"]
                    .iter()
                    .map(|s| s.to_string())
                    .zip(inputs.iter().cloned())
                    .collect(),
            )
            .expect("interprets");
            let mut datas: Vec<ir::Data> =
                inputs.iter().map(|t| t.clone().into_parts().2).collect();
            let out_decl = p.buffer(p.outputs[0]);
            assert!(matches!(out_decl.kind, BufferKind::Output(0)));
            let mut out = ir::Data::zeros(dtype.storage(), out_decl.numel());
            let ptr_of = |b: crate::kernel::BufferId,
                          datas: &mut Vec<ir::Data>,
                          out: &mut ir::Data| {
                match p.buffer(b).kind {
                    BufferKind::Input(i) => datas[i].as_mut_ptr(),
                    _ => out.as_mut_ptr(),
                }
            };
            let args: Vec<*mut u8> = k
                .args
                .iter()
                .map(|&b| ptr_of(b, &mut datas, &mut out))
                .collect();
            assert!(runs_natively(&p, k), "axis {axis} {dtype}: not native");
            // SAFETY: each arg points at storage of its buffer's declared size.
            assert!(
                unsafe { try_run(&p, k, ik, &args, &Pool::new(1)) },
                "axis {axis} {dtype}: not native"
            );
            let got = Tensor::new(dtype, out_decl.shape.clone(), out).expect("sizes match");
            assert_eq!(got, want[0].1, "axis {axis} {dtype}");
            // A plan whose output shape disagrees with the inputs' is not run natively
            // (along the axis for axis 0, elsewhere for the others).
            let mut bad = p.clone();
            let b = bad.outputs[0].index();
            bad.buffers[b].shape[0] += 1;
            assert!(!runs_natively(&bad, &bad.kernels[0]));
            // SAFETY: `try_run` checks the shapes before touching any buffer.
            let ran = unsafe { try_run(&bad, &bad.kernels[0], ik, &args, &Pool::new(1)) };
            assert!(!ran, "axis {axis}: a wrong output shape was accepted");
        }
    }
}

/// A one-node pool graph on `x` of `shape`.
/// A graph of one node `op` on input `x` of `shape`, output `y`.
fn pool_graph(op: Op, shape: &[usize]) -> Graph {
    let mut g = Graph::new("p");
    let x = g.add_input(
        "x",
        TensorType::new(DType::F32, ir::shape::static_shape(shape)),
    );
    let node = g.add_node("pool", op, vec![Some(x)], vec!["y".to_string()]);
    let y = g.node(node).outputs[0];
    g.outputs.push(y);
    g
}

/// Runs the one-node graph of `op` on `x` natively and through the interpreter: (native,
/// interpreter) outputs as f32, or `None` when the interpreter rejects the geometry. Panics
/// when the node does not run natively.
pub(super) fn native_and_interp(
    op: &Op,
    x: &Tensor,
    threads: usize,
) -> Option<(Vec<f32>, Vec<f32>)> {
    let mut g = pool_graph(op.clone(), x.shape());
    let known = ir::infer::infer_graph_values(&mut g).ok()?;
    let want = ir::interp::run(&g, &[("x".to_string(), x.clone())].into()).ok()?;
    let p = lower(&g, &known, &LowerOptions { fuse: true }).expect("lowers");
    let [k] = &p.kernels[..] else {
        panic!("one kernel: {}", p.describe())
    };
    let KernelKind::Interp(ik) = &k.kind else {
        panic!("{op:?} is interpreted")
    };
    let mut input = x.clone().into_parts().2;
    let out_decl = p.buffer(p.outputs[0]);
    let mut out = ir::Data::zeros(DType::F32.storage(), out_decl.numel());
    let args: Vec<*mut u8> = k
        .args
        .iter()
        .map(|&b| match p.buffer(b).kind {
            BufferKind::Input(_) => input.as_mut_ptr(),
            _ => out.as_mut_ptr(),
        })
        .collect();
    assert!(runs_natively(&p, k), "{op:?}: not native");
    // SAFETY: each arg points at storage of its buffer's declared size.
    let ran = unsafe { try_run(&p, k, ik, &args, &Pool::new(threads)) };
    assert!(ran, "{op:?} on {:?}: not native", x.shape());
    let got = Tensor::new(DType::F32, out_decl.shape.clone(), out).expect("sizes");
    let (g32, w32) = (got.to_f32_vec(), want[0].1.to_f32_vec());
    assert_eq!(g32.len(), w32.len());
    Some((g32, w32))
}

/// Runs the pool `op` on `x` natively (`None` when the interpreter rejects the geometry) and
/// asserts that it equals the interpreter bit for bit (NaN for NaN).
fn assert_native_pool_exact(op: &Op, x: &Tensor, threads: usize) -> Option<()> {
    let (g32, w32) = native_and_interp(op, x, threads)?;
    for (i, (a, b)) in g32.iter().zip(&w32).enumerate() {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "{op:?} on {:?} [{i}]: {a} vs {b}",
            x.shape()
        );
    }
    Some(())
}

fn attrs(
    kernel: Vec<usize>,
    strides: Vec<usize>,
    pads: Vec<usize>,
    dilations: Vec<usize>,
    ceil_mode: bool,
) -> PoolAttrs {
    PoolAttrs {
        kernel_shape: kernel,
        strides,
        dilations,
        pads,
        auto_pad: AutoPad::NotSet,
        ceil_mode,
    }
}

/// MaxPool and both AveragePools of `a`.
fn pool_ops(a: &PoolAttrs) -> [Op; 3] {
    [
        Op::MaxPool {
            pool: a.clone(),
            storage_order: 0,
        },
        Op::AveragePool {
            pool: a.clone(),
            count_include_pad: false,
        },
        Op::AveragePool {
            pool: a.clone(),
            count_include_pad: true,
        },
    ]
}

/// MaxPool and AveragePool (with and without padding counted, ceil mode, strides,
/// dilations) run natively, equal to the interpreter bit for bit.
#[test]
fn pools_run_natively_and_equal_the_interpreter() {
    let shapes = [
        attrs(vec![3, 3], vec![2, 2], vec![1, 1, 1, 1], vec![], false),
        attrs(vec![2, 3], vec![2, 1], vec![0, 1, 1, 0], vec![], true),
        attrs(vec![2, 2], vec![1, 1], vec![], vec![2, 1], false),
    ];
    let n = 2 * 3 * 7 * 6;
    let mut v: Vec<f32> = (0..n)
        .map(|i| ((i * 37) % 101) as f32 / 7.0 - 6.0)
        .collect();
    v[5] = f32::NAN;
    let x = Tensor::from_f32(vec![2, 3, 7, 6], v).expect("sizes match");
    for a in shapes {
        for op in pool_ops(&a) {
            assert_native_pool_exact(&op, &x, 1).expect("a valid pool");
        }
    }
}

/// Pools of random geometry over one and two spatial dims (planes wide enough for the
/// vector blocks, strides 1 to 3, dilations, padding, ceil mode; values with NaNs, signed
/// zeros and ties), on one thread and on two, equal the interpreter bit for bit.
#[test]
fn pools_of_random_geometry_equal_the_interpreter() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) % n as u64) as usize
    };
    let mut checked = 0;
    for case in 0..160 {
        let rank = 1 + case % 2;
        let kernel: Vec<usize> = (0..rank).map(|_| 1 + next(4)).collect();
        let strides: Vec<usize> = (0..rank).map(|_| 1 + next(3)).collect();
        let dilations: Vec<usize> = (0..rank).map(|_| 1 + next(2) * next(2)).collect();
        let pads: Vec<usize> = (0..2 * rank).map(|i| next(kernel[i % rank])).collect();
        let spatial: Vec<usize> = (0..rank)
            .map(|d| 1 + next(if d + 1 == rank { 40 } else { 12 }))
            .collect();
        let mut shape = vec![1 + next(2), 1 + next(5)];
        shape.extend(&spatial);
        // Rounded values repeat (ties), and some are NaN or signed zeros.
        let numel: usize = shape.iter().product();
        let v: Vec<f32> = (0..numel)
            .map(|_| match next(16) {
                0 => f32::NAN,
                1 => -0.0,
                2 => 0.0,
                r => (r as f32 - 9.0) * 0.375 + next(7) as f32 * 1e-3,
            })
            .collect();
        let x = Tensor::from_f32(shape, v).expect("sizes match");
        let a = attrs(kernel, strides, pads, dilations, next(2) == 1);
        for op in pool_ops(&a) {
            for threads in [1, 2] {
                checked += assert_native_pool_exact(&op, &x, threads).is_some() as usize;
            }
        }
    }
    assert!(
        checked > 600,
        "only {checked} of 960 cases had a valid geometry"
    );
}

/// A large pool is spread over two threads and still equals the interpreter.
#[test]
fn a_pool_split_over_threads_equals_the_interpreter() {
    let shape = vec![1, 64, 30, 33];
    let numel: usize = shape.iter().product();
    let v: Vec<f32> = (0..numel)
        .map(|i| ((i * 7919) % 1009) as f32 / 13.0)
        .collect();
    let x = Tensor::from_f32(shape, v).expect("sizes match");
    let a = attrs(vec![3, 3], vec![2, 2], vec![1, 1, 1, 1], vec![], false);
    for op in pool_ops(&a) {
        assert_native_pool_exact(&op, &x, 2).expect("a valid pool");
    }
}
