//! Lowering tests: the fixture transformers, lowered and run by the reference evaluator, equal
//! the interpreter; their plans fuse what the fusion rules promise.

use crate::kernel::eval::eval_program;
use crate::kernel::{KernelKind, Program};
use crate::lowering::{LowerOptions, lower};
use ir::shape::static_shape;
use ir::{DType, Graph, Tensor, TensorType};
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture(name: &str) -> Graph {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    let bytes = std::fs::read(dir.join("model.onnx")).expect("fixture model");
    ir::onnx::import_model(&bytes, Some(&dir)).expect("fixture imports")
}

/// Deterministic feeds: token ids below 64 (every fixture's vocabulary is larger), ones for
/// masks, a smooth ramp for floats.
fn feeds(g: &Graph) -> (Vec<Tensor>, HashMap<String, Tensor>) {
    let mut list = Vec::new();
    let mut map = HashMap::new();
    for &v in &g.inputs {
        let value = g.value(v);
        let ty = value.ty.as_ref().expect("typed input");
        let shape: Vec<usize> =
            ir::shape::concrete(ty.shape.as_deref().expect("shape")).expect("static");
        let n: usize = shape.iter().product();
        let t = match ty.dtype {
            DType::I64 if value.name.contains("mask") => Tensor::from_i64(shape, vec![1; n]),
            DType::I64 => Tensor::from_i64(shape, (0..n as i64).map(|i| (i * 7) % 64).collect()),
            _ => Tensor::from_f32(
                shape,
                (0..n).map(|i| ((i % 97) as f32 / 97.0) - 0.5).collect(),
            ),
        }
        .expect("feed");
        list.push(t.clone());
        map.insert(value.name.clone(), t);
    }
    (list, map)
}

fn lowered(g: &Graph, fuse: bool) -> Program {
    let mut g = g.clone();
    for &v in &g.inputs.clone() {
        let ty = g.value(v).ty.clone().expect("typed");
        let dims = ir::shape::concrete(ty.shape.as_deref().expect("shape")).expect("static");
        g.value_mut(v).ty = Some(TensorType::new(ty.dtype, static_shape(&dims)));
    }
    let known = ir::infer::infer_graph_values(&mut g).expect("infers");
    lower(&g, &known, &LowerOptions { fuse }).expect("lowers")
}

fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    let (a, b) = (got.to_f64_vec(), want.to_f64_vec());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        // f32 kernels in a different summation order than the interpreter's.
        assert!(
            (x - y).abs() <= 1e-5 + 1e-5 * y.abs(),
            "{name}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn fixtures_lowered_equal_the_interpreter_fused_and_unfused() {
    for name in ["gpt2", "bert", "vit"] {
        let g = fixture(name);
        let (list, map) = feeds(&g);
        let want = ir::interp::run(&g, &map).expect("interpreter runs");
        for fuse in [true, false] {
            let p = lowered(&g, fuse);
            let got = eval_program(&p, &list).expect("evaluates");
            for ((n, w), gt) in want.iter().zip(&got) {
                assert_close(&format!("{name} fuse={fuse} {n}"), gt, w);
            }
        }
    }
}

#[test]
fn gpt2_plan_fuses_epilogues_and_prologues() {
    let p = lowered(&fixture("gpt2"), true);
    println!("{}", p.describe());
    let count = |label: &str| p.kernels.iter().filter(|k| k.kind.label() == label).count();
    assert_eq!(count("interp"), 0, "every GPT-2 node compiles");
    // 8 Gemm + 4 attention MatMuls, plus the tied output projection.
    assert_eq!(count("gemm"), 13);
    assert_eq!(count("row"), 7, "5 LayerNorms and 2 softmaxes");
    // The tanh-GELU chain (9 nodes) lives in its contraction's epilogue.
    assert!(
        p.kernels
            .iter()
            .any(|k| matches!(k.kind, KernelKind::Gemm(_)) && k.nodes.len() == 9)
    );
    // Every Split output is a view: no copy of the fused QKV projection.
    assert!(!p.kernels.iter().any(|k| k.name.starts_with("copy split")));
}

/// Runs `g` compiled (lowering, JIT, runtime) and through the interpreter.
fn compiled_vs_interp(g: &Graph, inputs: Vec<Tensor>) {
    let mut map = HashMap::new();
    for (&v, t) in g.inputs.iter().zip(&inputs) {
        map.insert(g.value(v).name.clone(), t.clone());
    }
    let want = ir::interp::run(g, &map).expect("interpreter runs");
    let p = lowered(g, true);
    assert!(
        p.kernels.iter().all(|k| k.kind.label() == "gemm"),
        "one contraction:\n{}",
        p.describe()
    );
    let c = crate::runtime::CompiledProgram::compile(p).expect("compiles");
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let got = c.run(&refs, &crate::runtime::Pool::new(2)).expect("runs");
    for ((n, w), gt) in want.iter().zip(&got) {
        assert_close(n, gt, w);
    }
}

#[test]
fn einsum_matmuls_become_contractions() {
    let ramp = |shape: Vec<usize>, k: f32| {
        let n: usize = shape.iter().product();
        Tensor::from_f32(
            shape,
            (0..n).map(|i| ((i * 13 % 29) as f32 - 14.0) * k).collect(),
        )
        .expect("tensor")
    };
    for (eq, sa, sb) in [
        ("bij,bjk->bik", vec![2, 3, 4], vec![2, 4, 5]),
        ("bhqd,bhkd->bhqk", vec![1, 2, 3, 8], vec![1, 2, 5, 8]),
        ("ij,jk", vec![6, 7], vec![7, 3]),
        ("ik,jk->ij", vec![4, 5], vec![3, 5]),
    ] {
        let mut g = Graph::new("einsum");
        let a = g.add_input("a", TensorType::new(DType::F32, static_shape(&sa)));
        let b = g.add_input("b", TensorType::new(DType::F32, static_shape(&sb)));
        let n = g.add_node(
            "e",
            ir::Op::Einsum {
                equation: eq.into(),
            },
            vec![Some(a), Some(b)],
            vec!["y".into()],
        );
        let y = g.node(n).outputs[0];
        g.outputs.push(y);
        ir::infer::infer_graph(&mut g).expect("infers");
        compiled_vs_interp(&g, vec![ramp(sa, 0.1), ramp(sb, 0.05)]);
    }
}

/// A graph output that is a reshape of a contraction's result is written by the contraction
/// itself; two outputs viewing one result, and a transposed output, still get their own copies.
#[test]
fn reshaped_outputs_are_written_by_their_producer() {
    let mut g = Graph::new("views");
    let x = g.add_input("x", TensorType::new(DType::F32, static_shape(&[4, 6])));
    let ramp = |shape: Vec<usize>, k: f32| {
        let n: usize = shape.iter().product();
        Tensor::from_f32(
            shape,
            (0..n).map(|i| ((i * 7 % 23) as f32 - 11.0) * k).collect(),
        )
        .expect("tensor")
    };
    let w = g.add_constant("w", ramp(vec![6, 8], 0.1));
    let shape = |g: &mut Graph, name: &str, dims: &[i64]| {
        g.add_constant(
            name,
            Tensor::from_i64(vec![dims.len()], dims.to_vec()).expect("shape"),
        )
    };
    let mm = g.add_node(
        "mm",
        ir::Op::MatMul,
        vec![Some(x), Some(w)],
        vec!["t".into()],
    );
    let t = g.node(mm).outputs[0];
    let s3 = shape(&mut g, "s3", &[2, 2, 8]);
    let s1 = shape(&mut g, "s1", &[32]);
    let reshape = ir::Op::Reshape { allowzero: false };
    let r3 = g.add_node(
        "r3",
        reshape.clone(),
        vec![Some(t), Some(s3)],
        vec!["y".into()],
    );
    let r1 = g.add_node("r1", reshape, vec![Some(t), Some(s1)], vec!["z".into()]);
    let tr = g.add_node(
        "tr",
        ir::Op::Transpose { perm: None },
        vec![Some(t)],
        vec!["u".into()],
    );
    for n in [r3, r1, tr] {
        let out = g.node(n).outputs[0];
        g.outputs.push(out);
    }
    ir::infer::infer_graph(&mut g).expect("infers");

    let p = lowered(&g, true);
    let copies: Vec<&str> = p
        .kernels
        .iter()
        .filter(|k| k.kind.label() != "gemm")
        .map(|k| k.name.as_str())
        .collect();
    // y is the product's own buffer; z reads the same buffer (the executor copies it out); u is
    // a permutation, which needs a kernel.
    assert_eq!(copies, ["output u"], "{}", p.describe());
    assert_eq!(p.outputs[0], p.outputs[1]);
    assert_eq!(p.output_shape(0), [2, 2, 8]);
    assert_eq!(p.output_shape(1), [32]);

    let input = ramp(vec![4, 6], 0.05);
    let want = ir::interp::run(&g, &HashMap::from([("x".to_string(), input.clone())]))
        .expect("interpreter runs");
    let evaluated = eval_program(&p, std::slice::from_ref(&input)).expect("evaluates");
    let c = crate::runtime::CompiledProgram::compile(p).expect("compiles");
    let ran = c
        .run(&[&input], &crate::runtime::Pool::new(2))
        .expect("runs");
    for got in [&evaluated, &ran] {
        for ((n, w), gt) in want.iter().zip(got) {
            assert_close(n, gt, w);
        }
    }
}

/// A weight built by weight-only nodes too large for inference to fold (a `ConstantOfShape`
/// fill, then scaled by a constant) is evaluated once at lowering: the program is the one
/// contraction, and its result equals the interpreter's.
#[test]
fn large_weight_only_subgraphs_become_constants() {
    let (k, n) = (300usize, 260usize);
    let mut g = Graph::new("filled");
    let x = g.add_input("x", TensorType::new(DType::F32, static_shape(&[2, k])));
    let dims = g.add_constant(
        "dims",
        Tensor::from_i64(vec![2], vec![k as i64, n as i64]).expect("shape"),
    );
    let fill = ir::Op::ConstantOfShape {
        value: Tensor::from_f32(vec![1], vec![0.25]).expect("fill"),
    };
    let c = g.add_node("fill", fill, vec![Some(dims)], vec!["w0".into()]);
    let w0 = g.node(c).outputs[0];
    let ramp = g.add_constant(
        "ramp",
        Tensor::from_f32(
            vec![k, n],
            (0..k * n).map(|i| (i % 17) as f32 * 0.1 - 0.8).collect(),
        )
        .expect("ramp"),
    );
    let m = g.add_node(
        "scale",
        ir::Op::Binary(ir::op::BinaryOp::Mul),
        vec![Some(w0), Some(ramp)],
        vec!["w".into()],
    );
    let w = g.node(m).outputs[0];
    let mm = g.add_node(
        "mm",
        ir::Op::MatMul,
        vec![Some(x), Some(w)],
        vec!["y".into()],
    );
    let y = g.node(mm).outputs[0];
    g.outputs.push(y);
    ir::infer::infer_graph(&mut g).expect("infers");
    let xs = Tensor::from_f32(
        vec![2, k],
        (0..2 * k).map(|i| (i % 11) as f32 * 0.05 - 0.25).collect(),
    )
    .expect("x");
    compiled_vs_interp(&g, vec![xs]);
}
