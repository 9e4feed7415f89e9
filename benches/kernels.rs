//! Criterion benchmarks of single compiled kernels, each beside the reference interpreter (`-O0`)
//! on the same graph and inputs, so that the speedup of compiled code is visible in one group.
//!
//! Groups (one thread; each with a `compiled` (-O2) and an `interp` (-O0) entry):
//! - `gemm`: `MatMul` of an input `[n, n]` by a constant `[n, n]`, n = 256, 512, 1024; the
//!   throughput is in FLOPs (2·n³), so criterion's "elem/s" reads as FLOP/s;
//! - `softmax_fused`: `Softmax(x · scale + mask)` over the last axis of `[16, 128, 128]`, mask
//!   `[1, 1, 128]` (what attention does to its scores);
//! - `layernorm_fused`: `LayerNormalization(x + residual)` over the last axis of `[128, 768]`.
//!
//! The throughput of the last two is the bytes of their inputs. Before timing, each group checks
//! that compiled and interpreted outputs agree (a benchmark of wrong code measures nothing).
//! Run alone: `cargo bench --bench kernels` (or `-- --quick` for a rough pass). HTML reports
//! are off by default; `-- --plotting-backend plotters` turns them on.

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;
use tenfold::ir::op::{BinaryOp, SoftmaxKind};
use tenfold::ir::shape::static_shape;
use tenfold::ir::{DType, Graph, Op, TensorType, ValueId};
use tenfold::{Compiler, Executable, Model, OptLevel, Plan, Tensor};

/// Largest |compiled - interpreted| accepted, relative to max(1, |interpreted|): GEMMs of
/// length 1024 sum in a different order than the interpreter.
const TOLERANCE: f32 = 1e-4;

/// The two ways every graph runs: compiled code and the reference interpreter.
const LEVELS: [(&str, OptLevel); 2] = [("compiled", OptLevel::O2), ("interp", OptLevel::O0)];

/// Deterministic uniform values in [-1, 1) (xorshift64*), so runs are comparable.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let bits = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 random bits
            bits as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_f32(shape.to_vec(), values(n, seed)).expect("length matches the shape")
}

fn input(g: &mut Graph, name: &str, shape: &[usize]) -> ValueId {
    g.add_input(name, TensorType::new(DType::F32, static_shape(shape)))
}

/// Appends a one-output node and returns its output.
fn node(g: &mut Graph, op: Op, inputs: &[ValueId], output: &str) -> ValueId {
    let id = g.add_node(
        output,
        op,
        inputs.iter().copied().map(Some).collect(),
        vec![output.to_string()],
    );
    g.node(id).outputs[0]
}

/// Marks `y` as the graph's output and infers every type.
fn finish(mut g: Graph, y: ValueId) -> Model {
    g.outputs.push(y);
    tenfold::ir::infer::infer_graph(&mut g).expect("benchmark graphs are well typed");
    Model::from_graph(g)
}

/// `y = a · w`, `a: [n, n]` fed, `w: [n, n]` constant (as a model's weight is).
fn gemm(n: usize) -> (Model, HashMap<String, Tensor>) {
    let mut g = Graph::new(format!("gemm{n}"));
    let a = input(&mut g, "a", &[n, n]);
    let w = g.add_constant("w", tensor(&[n, n], 2));
    let y = node(&mut g, Op::MatMul, &[a, w], "y");
    let feeds = HashMap::from([("a".to_string(), tensor(&[n, n], 1))]);
    (finish(g, y), feeds)
}

/// `y = Softmax(x · scale + mask)` over the last axis.
fn softmax(shape: &[usize]) -> (Model, HashMap<String, Tensor>) {
    let last = shape[shape.len() - 1];
    let mut mask_shape = vec![1; shape.len()];
    mask_shape[shape.len() - 1] = last;
    let mut g = Graph::new("softmax_fused");
    let x = input(&mut g, "x", shape);
    let mask = input(&mut g, "mask", &mask_shape);
    let scale = g.add_constant("scale", Tensor::scalar_f32(0.125));
    let scaled = node(&mut g, Op::Binary(BinaryOp::Mul), &[x, scale], "scaled");
    let masked = node(&mut g, Op::Binary(BinaryOp::Add), &[scaled, mask], "masked");
    let softmax = Op::Softmax {
        kind: SoftmaxKind::Softmax,
        axis: -1,
        coerce_2d: false,
    };
    let y = node(&mut g, softmax, &[masked], "y");
    // An additive padding mask: the last eighth of the keys is masked out.
    let mask_values = (0..last)
        .map(|i| if i >= last - last / 8 { -10000.0 } else { 0.0 })
        .collect();
    let feeds = HashMap::from([
        ("x".to_string(), tensor(shape, 3)),
        (
            "mask".to_string(),
            Tensor::from_f32(mask_shape, mask_values).expect("length matches the shape"),
        ),
    ]);
    (finish(g, y), feeds)
}

/// `y = LayerNormalization(x + residual)` over the last axis, with scale and bias.
fn layernorm(shape: &[usize]) -> (Model, HashMap<String, Tensor>) {
    let hidden = shape[shape.len() - 1];
    let mut g = Graph::new("layernorm_fused");
    let x = input(&mut g, "x", shape);
    let residual = input(&mut g, "residual", shape);
    let scale = g.add_constant("scale", tensor(&[hidden], 4));
    let bias = g.add_constant("bias", tensor(&[hidden], 5));
    let sum = node(&mut g, Op::Binary(BinaryOp::Add), &[x, residual], "sum");
    let ln = Op::LayerNormalization {
        axis: -1,
        epsilon: 1e-5,
        stash_type: DType::F32,
    };
    let y = node(&mut g, ln, &[sum, scale, bias], "y");
    let feeds = HashMap::from([
        ("x".to_string(), tensor(shape, 6)),
        ("residual".to_string(), tensor(shape, 7)),
    ]);
    (finish(g, y), feeds)
}

/// Compiles `model` at `level` on one thread, and says on stderr when "compiled" code in fact
/// runs in the interpreter (then both entries of a group time the same thing).
fn compile(model: &Model, level: OptLevel, feeds: &HashMap<String, Tensor>) -> Executable {
    let exe = Compiler::new()
        .opt_level(level)
        .threads(1)
        .compile(model)
        .expect("benchmark graphs compile");
    if level != OptLevel::O0
        && let Plan::Interpreted(why) = &*exe.plan(feeds).expect("feeds match the graph")
    {
        eprintln!(
            "note: {}: -O2 runs in the interpreter ({why})",
            model.graph().name
        );
    }
    exe
}

fn output(exe: &Executable, feeds: &HashMap<String, Tensor>) -> Vec<f32> {
    let outputs = exe.run(feeds).expect("benchmark graphs run");
    outputs[0].1.to_f32_vec()
}

/// Panics when compiled and interpreted outputs differ beyond [`TOLERANCE`].
fn check(name: &str, compiled: &Executable, interp: &Executable, f: &HashMap<String, Tensor>) {
    let (got, want) = (output(compiled, f), output(interp, f));
    assert_eq!(got.len(), want.len(), "{name}: output lengths differ");
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(
        worst <= TOLERANCE,
        "{name}: compiled output differs from the interpreter's by {worst:e} (relative)"
    );
}

/// Benches `model` at both levels in `group` under the id `parameter`.
fn bench_pair(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    parameter: &str,
    model: &Model,
    feeds: &HashMap<String, Tensor>,
) {
    let exes = LEVELS.map(|(_, level)| compile(model, level, feeds));
    check(&model.graph().name, &exes[0], &exes[1], feeds);
    for ((label, _), exe) in LEVELS.iter().zip(&exes) {
        group.bench_function(BenchmarkId::new(*label, parameter), |b| {
            b.iter(|| black_box(exe.run(black_box(feeds)).expect("benchmark graphs run")))
        });
    }
}

fn input_bytes(feeds: &HashMap<String, Tensor>) -> u64 {
    feeds.values().map(|t| 4 * t.len() as u64).sum()
}

fn gemm_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    // The interpreter takes 0.1-0.2 s per run at n = 1024: few equal-sized samples, and time
    // enough for ten of them.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in [256, 512, 1024] {
        let (model, feeds) = gemm(n);
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        bench_pair(&mut group, &n.to_string(), &model, &feeds);
    }
    group.finish();
}

fn softmax_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("softmax_fused");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let shape = [16, 128, 128];
    let (model, feeds) = softmax(&shape);
    group.throughput(Throughput::Bytes(input_bytes(&feeds)));
    bench_pair(&mut group, "16x128x128", &model, &feeds);
    group.finish();
}

fn layernorm_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("layernorm_fused");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let shape = [128, 768];
    let (model, feeds) = layernorm(&shape);
    group.throughput(Throughput::Bytes(input_bytes(&feeds)));
    bench_pair(&mut group, "128x768", &model, &feeds);
    group.finish();
}

criterion_group! {
    name = kernels;
    // Plotting costs far more than the measurements (about a minute on two cores):
    // off by default, back on with `-- --plotting-backend plotters` (HTML in target/criterion).
    config = Criterion::default().without_plots();
    targets = gemm_group, softmax_group, layernorm_group
}
criterion_main!(kernels);
