//! End-to-end tests of the algebra rules through `rewrites::optimize`: the structure each rule
//! family finds on a realistic-size graph, the FLOPs the report shows saved, and outputs equal
//! to the original's through the interpreter; snapshots of the optimized text IR on small
//! instances; the three transformer fixtures optimized fast, never worse, and unchanged in value.

use ir::op::{BinaryOp, GemmAttrs};
use ir::{DType, Graph, Op, Tensor};
use rewrites::cost::{CostModel, Roofline, TargetDesc};
use rewrites::verify::{GraphBuilder, Rng};
use rewrites::{Options, Report, optimize, optimize_with};
use std::time::Instant;

/// Runs both graphs on the same inputs; returns the largest relative error.
fn compare_on(a: &Graph, b: &Graph, feeds: Vec<Tensor>) -> f64 {
    rewrites::verify::compare_graphs_on(a, b, feeds).expect("both graphs run alike")
}

/// Runs both graphs on the same random inputs; returns the largest relative error.
fn compare(a: &Graph, b: &Graph, seed: u64) -> f64 {
    rewrites::verify::compare_graphs(a, b, seed).expect("both graphs run alike")
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    rewrites::verify::count_ops(g, pred)
}

fn fired(report: &Report, rule: &str) -> usize {
    report.rules_fired.get(rule).copied().unwrap_or(0)
}

fn flop_ratio(report: &Report) -> f64 {
    report.flops_before / report.flops_after.max(1.0)
}

/// The optimized graph as text, for snapshots.
fn text(g: &Graph) -> String {
    ir::text::print(g)
}

// ---- 1. matrix-chain order ----

/// `((A·B)·C)·v` with square A, B, C of side `n` and a thin v.
fn chain4(n: usize) -> Graph {
    let mut b = GraphBuilder::new("chain4");
    let a = b.input(&[n, n]);
    let bb = b.input(&[n, n]);
    let c = b.input(&[n, n]);
    let v = b.input(&[n, 1]);
    let ab = b.op(Op::MatMul, &[a, bb]);
    let abc = b.op(Op::MatMul, &[ab, c]);
    let y = b.op(Op::MatMul, &[abc, v]);
    b.finish(&[y])
}

#[test]
fn four_matrix_chain_multiplies_right_to_left() {
    let g = chain4(512);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    let ratio = flop_ratio(&report);
    println!(
        "chain4 512: flops {:.3e} -> {:.3e} ({ratio:.0}x), stop: {}",
        report.flops_before, report.flops_after, report.stop_reason
    );
    assert!(ratio >= 100.0, "{report:?}");
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 3);
    let err = compare(&g, &opt, 1);
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn snapshot_chain_order() {
    let g = chain4(4);
    let (opt, _) = optimize(&g, &Options::default()).expect("optimizes");
    insta::assert_snapshot!("chain_order", text(&opt));
}

// ---- 2. distributivity ----

/// `X·W1 + X·W2` with constant weights.
fn two_branches(rng: &mut Rng, m: usize, d: usize) -> Graph {
    let mut b = GraphBuilder::new("distrib");
    let x = b.input(&[m, d]);
    let w1 = b.random_const(rng, &[d, d]);
    let w2 = b.random_const(rng, &[d, d]);
    let p = b.op(Op::MatMul, &[x, w1]);
    let q = b.op(Op::MatMul, &[x, w2]);
    let y = b.op(Op::Binary(BinaryOp::Add), &[p, q]);
    b.finish(&[y])
}

#[test]
fn two_products_of_one_input_become_one() {
    let g = two_branches(&mut Rng::new(2), 64, 256);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    println!(
        "distrib 64x256·256x256: flops {:.3e} -> {:.3e} ({:.2}x)",
        report.flops_before,
        report.flops_after,
        flop_ratio(&report)
    );
    assert!(fired(&report, "matmul-factor-right") > 0, "{report:?}");
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 1);
    assert_eq!(count(&opt, |o| matches!(o, Op::Binary(BinaryOp::Add))), 0);
    // 2 products and a sum become 1 product.
    assert!(flop_ratio(&report) > 1.9, "{report:?}");
    let err = compare(&g, &opt, 2);
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn snapshot_distributivity() {
    let g = two_branches(&mut Rng::new(3), 2, 3);
    let (opt, _) = optimize(&g, &Options::default()).expect("optimizes");
    insta::assert_snapshot!("distributivity", text(&opt));
}

// ---- 3. transpose and reshape chains ----

/// `Transpose(Transpose(x, p), q)` with `p∘q` the identity, and a Relu so the graph computes.
fn transpose_pair(shape: &[usize]) -> Graph {
    let mut b = GraphBuilder::new("transpose_pair");
    let x = b.input(shape);
    let t = b.op(
        Op::Transpose {
            perm: Some(vec![1, 2, 0]),
        },
        &[x],
    );
    let tt = b.op(
        Op::Transpose {
            perm: Some(vec![2, 0, 1]),
        },
        &[t],
    );
    let y = b.op(Op::Unary(ir::op::UnaryOp::Relu), &[tt]);
    b.finish(&[y])
}

/// `Reshape(Reshape(x, [a·b, c]), [a, b·c])` and `Reshape(Reshape(x, [a·b, c]), [a, b, c])`.
fn reshape_pairs(a: usize, bb: usize, c: usize) -> Graph {
    let mut b = GraphBuilder::new("reshape_pairs");
    let x = b.input(&[a, bb, c]);
    let s1 = b.i64s(&[-1, c as i64]);
    let r1 = b.op(Op::Reshape { allowzero: false }, &[x, s1]);
    let s2 = b.i64s(&[a as i64, -1]);
    let merged = b.op(Op::Reshape { allowzero: false }, &[r1, s2]);
    let s3 = b.i64s(&[a as i64, bb as i64, -1]);
    let back = b.op(Op::Reshape { allowzero: false }, &[r1, s3]);
    let y1 = b.op(Op::Unary(ir::op::UnaryOp::Relu), &[merged]);
    let y2 = b.op(Op::Unary(ir::op::UnaryOp::Neg), &[back]);
    b.finish(&[y1, y2])
}

#[test]
fn transpose_and_reshape_chains_vanish() {
    let g = transpose_pair(&[16, 32, 64]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    println!(
        "transpose pair: bytes {:.3e} -> {:.3e}, flops {:.3e} -> {:.3e}",
        report.bytes_before, report.bytes_after, report.flops_before, report.flops_after
    );
    assert_eq!(count(&opt, |o| matches!(o, Op::Transpose { .. })), 0);
    assert!(report.cost_after < report.cost_before, "{report:?}");
    assert!(compare(&g, &opt, 3) == 0.0);

    let g = reshape_pairs(8, 16, 32);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    println!("reshape pairs: rules {:?}", report.rules_fired);
    // The pair that returns to x's shape vanishes, the other becomes one Reshape of x.
    assert_eq!(count(&opt, |o| matches!(o, Op::Reshape { .. })), 1);
    let reshape = opt
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Reshape { .. }))
        .expect("one reshape");
    assert_eq!(reshape.inputs[0], Some(opt.inputs[0]));
    assert!(compare(&g, &opt, 4) == 0.0);
}

#[test]
fn snapshot_transpose_pair_cancel() {
    let (opt, _) = optimize(&transpose_pair(&[2, 3, 4]), &Options::default()).expect("optimizes");
    insta::assert_snapshot!("transpose_pair_cancel", text(&opt));
}

#[test]
fn snapshot_reshape_merge() {
    let (opt, _) = optimize(&reshape_pairs(2, 3, 4), &Options::default()).expect("optimizes");
    insta::assert_snapshot!("reshape_merge", text(&opt));
}

// ---- 4. division by a constant ----

fn divide(shape: &[usize], by: f32) -> Graph {
    let mut b = GraphBuilder::new("divide");
    let x = b.input(shape);
    let c = b.constant(Tensor::scalar_f32(by));
    let y = b.op(Op::Binary(BinaryOp::Div), &[x, c]);
    b.finish(&[y])
}

/// The roofline with division priced as on hardware: a few times a multiplication (the
/// default roofline prices them alike, and a tie keeps the original op).
struct DivisionAware(Roofline);

impl CostModel for DivisionAware {
    fn op_cost(&self, op: &Op, ins: &[Option<&ir::TensorType>], outs: &[ir::TensorType]) -> f64 {
        let c = self.0.op_cost(op, ins, outs);
        if *op == Op::Binary(BinaryOp::Div) {
            c * 1.5
        } else {
            c
        }
    }
}

fn division_aware() -> DivisionAware {
    DivisionAware(Roofline(TargetDesc::cpu()))
}

#[test]
fn division_by_eight_becomes_multiplication_by_an_eighth() {
    let g = divide(&[64, 64], 8.0);
    let (opt, report) =
        optimize_with(&g, &Options::default(), &division_aware()).expect("optimizes");
    assert!(fired(&report, "div-const-to-mul") > 0, "{report:?}");
    assert_eq!(count(&opt, |o| matches!(o, Op::Binary(BinaryOp::Div))), 0);
    let mul = opt
        .nodes
        .iter()
        .find(|n| n.op == Op::Binary(BinaryOp::Mul))
        .expect("a multiplication");
    let c = mul
        .inputs
        .iter()
        .flatten()
        .find_map(|&v| opt.constant(v))
        .expect("by a constant");
    assert_eq!(c.to_f64_vec(), vec![0.125]);
    let err = compare(&g, &opt, 5);
    assert!(err < 1e-6, "relative error {err}");
}

/// Under the default roofline a division by a constant feeding a product with a weight
/// disappears: `(x·W)/8 = x·(W·0.125)`, the scaled weight folded.
#[test]
fn division_after_a_weight_folds_into_it() {
    let mut rng = Rng::new(6);
    let mut b = GraphBuilder::new("scaled_projection");
    let x = b.input(&[64, 128]);
    let w = b.random_const(&mut rng, &[128, 128]);
    let c = b.constant(Tensor::scalar_f32(8.0));
    let p = b.op(Op::MatMul, &[x, w]);
    let y = b.op(Op::Binary(BinaryOp::Div), &[p, c]);
    let g = b.finish(&[y]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    println!("scaled projection: rules {:?}", report.rules_fired);
    assert_eq!(
        count(&opt, |o| matches!(o, Op::Binary(_))),
        0,
        "{}",
        text(&opt)
    );
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 1);
    let err = compare(&g, &opt, 6);
    assert!(err < 1e-5, "relative error {err}");
}

#[test]
fn snapshot_division() {
    let (opt, _) = optimize_with(
        &divide(&[2, 2], 8.0),
        &Options::default(),
        &division_aware(),
    )
    .expect("optimizes");
    insta::assert_snapshot!("division", text(&opt));
}

// ---- 5. Gemm ----

/// `Gemm(x, W, b; transB = 1)` (nn.Linear as exporters write it) followed by a second linear
/// layer `Gemm(·, W2, b2; transB = 1)`.
fn linear(rng: &mut Rng, m: usize, d_in: usize, d_out: usize) -> Graph {
    let attrs = GemmAttrs {
        alpha: 1.0,
        beta: 1.0,
        trans_a: false,
        trans_b: true,
    };
    let mut b = GraphBuilder::new("linear");
    let x = b.input(&[m, d_in]);
    let w = b.random_const(rng, &[d_out, d_in]);
    let bias = b.random_const(rng, &[d_out]);
    let n = b.g.add_node(
        "gemm",
        Op::Gemm(attrs),
        vec![Some(x), Some(w), Some(bias)],
        vec![String::new()],
    );
    let y = b.g.node(n).outputs[0];
    b.finish(&[y])
}

#[test]
fn gemm_round_trips() {
    let g = linear(&mut Rng::new(7), 32, 256, 512);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    println!(
        "gemm: rules {:?}, flops {:.3e} -> {:.3e}, ops {:?}",
        report.rules_fired,
        report.flops_before,
        report.flops_after,
        opt.nodes.iter().map(|n| n.op.name()).collect::<Vec<_>>()
    );
    assert!(fired(&report, "gemm-to-matmul") > 0, "{report:?}");
    assert!(report.flops_after <= report.flops_before);
    let err = compare(&g, &opt, 7);
    assert!(err < 1e-5, "relative error {err}");
}

/// Two stacked linear layers without an activation between them, `d → h → d` with a wide
/// hidden size, as exporters write them: `Gemm(Gemm(x, W1; transB), W2, b2; transB)`.
fn stacked_linear(rng: &mut Rng, m: usize, d: usize, h: usize) -> Graph {
    let attrs = GemmAttrs {
        alpha: 1.0,
        beta: 1.0,
        trans_a: false,
        trans_b: true,
    };
    let mut b = GraphBuilder::new("stacked_linear");
    let x = b.input(&[m, d]);
    let w1 = b.random_const(rng, &[h, d]);
    let w2 = b.random_const(rng, &[d, h]);
    let b2 = b.random_const(rng, &[d]);
    let n1 = b.g.add_node(
        "up",
        Op::Gemm(attrs),
        vec![Some(x), Some(w1)],
        vec![String::new()],
    );
    let hid = b.g.node(n1).outputs[0];
    let n2 = b.g.add_node(
        "down",
        Op::Gemm(attrs),
        vec![Some(hid), Some(w2), Some(b2)],
        vec![String::new()],
    );
    let y = b.g.node(n2).outputs[0];
    b.finish(&[y])
}

/// The chain rules see through Gemm: `(x·W1ᵀ)·W2ᵀ = x·(W1ᵀ·W2ᵀ)`, the `d × d` product folded.
#[test]
fn stacked_gemms_fold_into_one_product() {
    let g = stacked_linear(&mut Rng::new(10), 64, 64, 512);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    println!(
        "stacked gemm 64→512→64: flops {:.3e} -> {:.3e} ({:.1}x), ops {:?}",
        report.flops_before,
        report.flops_after,
        flop_ratio(&report),
        opt.nodes.iter().map(|n| n.op.name()).collect::<Vec<_>>()
    );
    assert!(flop_ratio(&report) > 7.0, "{report:?}");
    assert_eq!(
        count(&opt, |o| matches!(o, Op::MatMul | Op::Gemm(_))),
        1,
        "{}",
        text(&opt)
    );
    let err = compare(&g, &opt, 10);
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn snapshot_gemm() {
    let (opt, _) = optimize(
        &stacked_linear(&mut Rng::new(8), 2, 3, 8),
        &Options::default(),
    )
    .expect("optimizes");
    insta::assert_snapshot!("gemm", text(&opt));
}

// ---- 6. the transformer fixtures ----

/// Random inputs of a graph's declared (static) input types: token ids in 0..8 for integer
/// inputs, standard normal floats otherwise.
fn fixture_feeds(g: &Graph, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    g.inputs
        .iter()
        .map(|&i| {
            let ty = g.value(i).ty.as_ref().expect("typed input");
            let shape = ir::shape::concrete(ty.shape.as_deref().expect("ranked input"))
                .expect("static input");
            let n: usize = shape.iter().product();
            let v: Vec<f64> = if ty.dtype.is_int() {
                (0..n).map(|_| rng.range(0, 7) as f64).collect()
            } else {
                rng.normals(n)
            };
            Tensor::from_f64(ty.dtype, shape, &v).expect("feed")
        })
        .collect()
}

fn fixture(name: &str) {
    let path = format!("../tests/fixtures/{name}/model.onnx");
    let bytes = std::fs::read(&path).expect("fixture present");
    let mut g = ir::onnx::import_model(&bytes, None).expect("imports");
    ir::infer::infer_graph(&mut g).expect("types");
    let start = Instant::now();
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    let secs = start.elapsed().as_secs_f64();
    let err = compare_on(&g, &opt, fixture_feeds(&g, 9));
    println!(
        "{name}: {secs:.3} s, stop: {}, iterations {}, e-graph {} nodes, kept original: {}, \
         cost {:.3e} -> {:.3e}, flops {:.3e} -> {:.3e}, nodes {} -> {}, rel err {err:.2e}",
        report.stop_reason,
        report.iterations,
        report.egraph_nodes,
        report.kept_original,
        report.cost_before,
        report.cost_after,
        report.flops_before,
        report.flops_after,
        g.nodes.len(),
        opt.nodes.len(),
    );
    println!("{name}: rules {:?}", report.rules_fired);
    assert!(secs < 1.0, "{name} took {secs} s");
    assert!(!report.stop_reason.starts_with("time limit"), "{report:?}");
    assert!(
        !report.kept_original,
        "{name}: the optimized graph costs more: {report:?}"
    );
    assert!(report.cost_after <= report.cost_before, "{report:?}");
    assert!(err < 1e-5, "{name}: relative error {err}");
}

#[test]
fn fixture_gpt2() {
    fixture("gpt2");
}

#[test]
fn fixture_bert() {
    fixture("bert");
}

#[test]
fn fixture_vit() {
    fixture("vit");
}

#[test]
fn wide_types_are_left_alone() {
    // An f64 graph optimizes too; an integer division by a constant is not turned into a product.
    let mut b = GraphBuilder::new("ints");
    let x = b.g.add_input(
        "x",
        ir::TensorType::new(DType::I64, ir::shape::static_shape(&[4, 4])),
    );
    let c = b.constant(Tensor::from_i64(vec![], vec![2]).expect("scalar"));
    let y = b.op(Op::Binary(BinaryOp::Div), &[x, c]);
    let g = b.finish(&[y]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    assert_eq!(fired(&report, "div-const-to-mul"), 0);
    assert_eq!(count(&opt, |o| matches!(o, Op::Binary(BinaryOp::Div))), 1);
}
