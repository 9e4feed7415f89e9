//! The native runs of interpreted nodes against the interpreter, bit for bit: Concat along
//! every axis and dtype, pools with padding, ceil mode, strides and dilations; and plans that
//! do not add up are left to the interpreter.

use super::{runs_natively, try_run};
use crate::kernel::{BufferKind, KernelKind};
use crate::lowering::{LowerOptions, lower};
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
                unsafe { try_run(&p, k, ik, &args) },
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
            let ran = unsafe { try_run(&bad, &bad.kernels[0], ik, &args) };
            assert!(!ran, "axis {axis}: a wrong output shape was accepted");
        }
    }
}

/// A one-node pool graph on x [2, 3, 7, 6].
fn pool_graph(op: Op) -> Graph {
    let mut g = Graph::new("p");
    let x = g.add_input(
        "x",
        TensorType::new(DType::F32, ir::shape::static_shape(&[2, 3, 7, 6])),
    );
    let node = g.add_node("pool", op, vec![Some(x)], vec!["y".to_string()]);
    let y = g.node(node).outputs[0];
    g.outputs.push(y);
    g
}

/// MaxPool and AveragePool (with and without padding counted, ceil mode, strides,
/// dilations) run natively, equal to the interpreter bit for bit.
#[test]
fn pools_run_natively_and_equal_the_interpreter() {
    let attrs = |kernel: Vec<usize>, strides, pads, dilations, ceil_mode| PoolAttrs {
        kernel_shape: kernel,
        strides,
        dilations,
        pads,
        auto_pad: AutoPad::NotSet,
        ceil_mode,
    };
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
        for op in [
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
        ] {
            let mut g = pool_graph(op.clone());
            let known = ir::infer::infer_graph_values(&mut g).expect("infers");
            let p = lower(&g, &known, &LowerOptions { fuse: true }).expect("lowers");
            let [k] = &p.kernels[..] else {
                panic!("one kernel: {}", p.describe())
            };
            let KernelKind::Interp(ik) = &k.kind else {
                panic!("pools are interpreted")
            };
            let want =
                ir::interp::run(&g, &[("x".to_string(), x.clone())].into()).expect("interprets");
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
            assert!(unsafe { try_run(&p, k, ik, &args) }, "{op:?}: not native");
            let got = Tensor::new(DType::F32, out_decl.shape.clone(), out).expect("sizes");
            let (g32, w32) = (got.to_f32_vec(), want[0].1.to_f32_vec());
            assert_eq!(g32.len(), w32.len());
            for (i, (a, b)) in g32.iter().zip(&w32).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{op:?} [{i}]: {a} vs {b}"
                );
            }
        }
    }
}
