//! Kernels that only move elements run as copies of contiguous runs: a transpose that keeps an
//! inner block, a channel shuffle, a slice, a broadcast of rows, in f32, i64, f16 and bool;
//! each compiled program equals the interpreter bit for bit, and runs at least one copy.

use super::copy::CopyPlan;
use crate::kernel::KernelKind;
use crate::lowering::{LowerOptions, lower};
use crate::runtime::{CompiledProgram, Pool};
use ir::shape::static_shape;
use ir::{DType, Graph, Op, Tensor, TensorType, ValueId};

fn ints(g: &mut Graph, name: &str, v: &[i64]) -> ValueId {
    g.add_constant(
        name,
        Tensor::from_i64(vec![v.len()], v.to_vec()).expect("ints"),
    )
}

fn node(g: &mut Graph, name: &str, op: Op, inputs: &[ValueId]) -> ValueId {
    let ins = inputs.iter().map(|&v| Some(v)).collect();
    let n = g.add_node(name, op, ins, vec![name.to_string()]);
    g.node(n).outputs[0]
}

/// Values 0, 1, 2, ... of `dtype` (bool: alternating).
fn ramp(dtype: DType, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| match dtype {
            DType::Bool => (i % 3 == 0) as u8 as f64,
            _ => (i % 2000) as f64 * 0.5 - 300.0,
        })
        .collect();
    Tensor::from_f64(dtype, shape.to_vec(), &v).expect("ramp")
}

/// Compiles `g` (one input `x`), runs it on 2 threads and compares with the interpreter.
fn check(g: &mut Graph, dtype: DType, shape: &[usize]) {
    ir::infer::infer_graph(g).expect("infers");
    let known = ir::infer::infer_graph_values(g).expect("infers values");
    let p = lower(g, &known, &LowerOptions { fuse: true }).expect("lowers");
    let copies = p
        .kernels
        .iter()
        .filter(|k| match &k.kind {
            KernelKind::Pointwise(pk) => {
                let dtypes: Vec<DType> = k.args.iter().map(|&b| p.buffer(b).dtype).collect();
                CopyPlan::new(pk, &dtypes).is_some()
            }
            _ => false,
        })
        .count();
    assert!(copies > 0, "no copy kernel in:\n{}", p.describe());
    let x = ramp(dtype, shape);
    let want = ir::interp::run(g, &[("x".to_string(), x.clone())].into()).expect("interprets");
    let c = CompiledProgram::compile(p).expect("compiles");
    let got = c.run(&[&x], &Pool::new(2)).expect("runs");
    for ((name, w), gt) in want.iter().zip(&got) {
        assert_eq!(gt.shape(), w.shape(), "{name}: shape");
        assert_eq!(gt.to_f64_vec(), w.to_f64_vec(), "{name} ({dtype})");
    }
}

fn input(g: &mut Graph, dtype: DType, shape: &[usize]) -> ValueId {
    g.add_input("x", TensorType::new(dtype, static_shape(shape)))
}

#[test]
fn transposes_keeping_an_inner_block_are_copies() {
    for dtype in [DType::F32, DType::I64, DType::F16, DType::Bool] {
        let shape = [2, 3, 4, 16];
        let mut g = Graph::new("t");
        let x = input(&mut g, dtype, &shape);
        let perm = Op::Transpose {
            perm: Some(vec![2, 0, 1, 3]),
        };
        let y = node(&mut g, "y", perm, &[x]);
        g.outputs.push(y);
        check(&mut g, dtype, &shape);
    }
}

#[test]
fn a_channel_shuffle_is_a_copy() {
    // ShuffleNet's: [1, 12, 6, 8] viewed as [1, 3, 4, 6, 8], groups and channels swapped; large
    // enough to be split over the threads.
    let shape = [1, 12, 60, 80];
    let mut g = Graph::new("shuffle");
    let x = input(&mut g, DType::F32, &shape);
    let s5 = ints(&mut g, "s5", &[1, 3, 4, 60, 80]);
    let s4 = ints(&mut g, "s4", &[1, 12, 60, 80]);
    let reshape = Op::Reshape { allowzero: false };
    let a = node(&mut g, "a", reshape.clone(), &[x, s5]);
    let perm = Op::Transpose {
        perm: Some(vec![0, 2, 1, 3, 4]),
    };
    let b = node(&mut g, "b", perm, &[a]);
    let y = node(&mut g, "y", reshape, &[b, s4]);
    g.outputs.push(y);
    check(&mut g, DType::F32, &shape);
}

#[test]
fn slices_and_broadcast_rows_are_copies() {
    let shape = [2, 10, 12];
    let mut g = Graph::new("slice");
    let x = input(&mut g, DType::F32, &shape);
    let (starts, ends, axes) = (
        ints(&mut g, "starts", &[2]),
        ints(&mut g, "ends", &[7]),
        ints(&mut g, "axes", &[1]),
    );
    let y = node(&mut g, "y", Op::Slice, &[x, starts, ends, axes]);
    g.outputs.push(y);
    check(&mut g, DType::F32, &shape);

    let shape = [1, 3, 16];
    let mut g = Graph::new("expand");
    let x = input(&mut g, DType::I64, &shape);
    let to = ints(&mut g, "to", &[4, 3, 16]);
    let y = node(&mut g, "y", Op::Expand, &[x, to]);
    g.outputs.push(y);
    check(&mut g, DType::I64, &shape);
}
