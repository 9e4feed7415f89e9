//! End-to-end optimization: structure the rules find, extraction by cost, and outputs equal to
//! the input graph's through the interpreter.

use ir::{Graph, Op};
use rewrites::verify::{GraphBuilder, Rng};
use rewrites::{Options, optimize};

/// Runs both graphs on the same random inputs; returns the largest relative error.
fn compare(a: &Graph, b: &Graph, seed: u64) -> f64 {
    rewrites::verify::compare_graphs(a, b, seed).expect("both graphs run alike")
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    rewrites::verify::count_ops(g, pred)
}

#[test]
fn matrix_chain_with_thin_vector_multiplies_right_to_left() {
    let mut b = GraphBuilder::new("chain");
    let a = b.input(&[256, 256]);
    let m = b.input(&[256, 256]);
    let v = b.input(&[256, 1]);
    let am = b.op(Op::MatMul, &[a, m]);
    let y = b.op(Op::MatMul, &[am, v]);
    let g = b.finish(&[y]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    assert!(
        report.flops_before / report.flops_after > 100.0,
        "{report:?}"
    );
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 2);
    let err = compare(&g, &opt, 1);
    assert!(err < 1e-4, "relative error {err}");
}

fn share_graph(rng: &mut Rng, m: usize, k: usize, ns: &[usize]) -> Graph {
    let mut b = GraphBuilder::new("share");
    let x = b.input(&[m, k]);
    let outs: Vec<_> = ns
        .iter()
        .map(|&n| {
            let w = b.random_const(rng, &[k, n]);
            let y = b.op(Op::MatMul, &[x, w]);
            b.op(Op::Unary(ir::op::UnaryOp::Relu), &[y])
        })
        .collect();
    b.finish(&outs)
}

#[test]
fn matmuls_of_one_input_merge_into_one() {
    let mut rng = Rng::new(5);
    let g = share_graph(&mut rng, 16, 64, &[64, 64, 64]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    assert_eq!(count(&opt, |o| matches!(o, Op::MatMul)), 1, "{report:?}");
    assert_eq!(count(&opt, |o| matches!(o, Op::Split { .. })), 1);
    assert!(report.cost_after < report.cost_before);
    let err = compare(&g, &opt, 2);
    assert!(err < 1e-5, "relative error {err}");
}

#[test]
fn sharing_snapshot() {
    let mut rng = Rng::new(9);
    let g = share_graph(&mut rng, 2, 2, &[1, 2]);
    let (opt, _) = optimize(&g, &Options::default()).expect("optimizes");
    insta::assert_snapshot!(ir::text::print(&opt));
}

#[test]
fn output_names_and_inputs_survive_and_a_passthrough_output_works() {
    let mut b = GraphBuilder::new("names");
    let x = b.input(&[3, 4]);
    let w = b.input(&[4, 4]);
    let y = b.op(Op::MatMul, &[x, w]);
    let mut g = b.finish(&[y]);
    // The input itself is also an output.
    g.value_mut(x).name = "x_in".into();
    g.outputs.push(x);
    g.value_mut(y).name = "y0".into();
    let (opt, _) = optimize(&g, &Options::default()).expect("optimizes");
    let names: Vec<&str> = opt
        .outputs
        .iter()
        .map(|&o| opt.value(o).name.as_str())
        .collect();
    assert_eq!(names, ["y0", "x_in"]);
    assert_eq!(opt.value(opt.inputs[0]).name, "x_in");
    assert!(compare(&g, &opt, 3) == 0.0);
}

/// An If whose branches read an enclosing value: the optimizer reorders the matrix chain that
/// feeds it, keeps the If and what its captures hold, and the result computes the same
/// whichever branch a random input takes.
#[test]
fn an_if_and_its_captures_survive_optimization() {
    use ir::op::{BinaryOp, ReduceKind, UnaryOp};
    let mut rng = Rng::new(9);
    let mut b = GraphBuilder::new("if");
    let x = b.input(&[64, 64]);
    let a = b.random_const(&mut rng, &[64, 64]);
    let v = b.random_const(&mut rng, &[64, 1]);
    let xa = b.op(Op::MatMul, &[x, a]);
    let h = b.op(Op::MatMul, &[xa, v]);
    let axes = b.i64s(&[0, 1]);
    let reduce = Op::Reduce {
        kind: ReduceKind::Sum,
        keepdims: false,
        noop_with_empty_axes: false,
    };
    let s = b.op(reduce, &[h, axes]);
    let zero = b.constant(ir::Tensor::from_f32(vec![], vec![0.0]).expect("scalar"));
    let cond = b.op(Op::Binary(BinaryOp::Greater), &[s, zero]);
    let branch = |name: &str, op: UnaryOp| {
        let mut g = GraphBuilder::new(name);
        let captured = g.input(&[64, 1]);
        let out = g.op(Op::Unary(op), &[captured]);
        Box::new(g.finish(&[out]))
    };
    let if_op = Op::If {
        then_branch: branch("then", UnaryOp::Relu),
        else_branch: branch("else", UnaryOp::Neg),
    };
    let y = b.op(if_op, &[cond, h]);
    let g = b.finish(&[y]);
    let (opt, report) = optimize(&g, &Options::default()).expect("optimizes");
    assert_eq!(count(&opt, |o| matches!(o, Op::If { .. })), 1);
    assert!(
        report.flops_after < report.flops_before / 10.0,
        "{report:?}"
    );
    for seed in 0..6 {
        let err = compare(&g, &opt, seed);
        assert!(err < 1e-4, "seed {seed}: relative error {err}");
    }
}
