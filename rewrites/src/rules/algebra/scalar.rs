//! Neutral and absorbing elements: `x + 0`, `x - 0`, `x · 1`, `x / 1`, `x · 0`, Identity and
//! inference Dropout, products with an identity matrix; division by a constant as a product.
//!
//! "0" and "1" are constants whose every element is 0 or 1. A constant of a bigger shape
//! broadcasts `x` up: the union is then refused, because the replacement's type is not the
//! class's, so no rule here needs to compare shapes itself.

use super::{const_all, random_shape, rust_rule, union_with_first};
use crate::analysis::{EG, TensorAnalysis};
use crate::lang::Node;
use crate::rules::build::{binary, children_of, ops};
use crate::rules::{Family, Rule};
use crate::verify::{GraphBuilder, Rng, random_tensor};
use egg::Id;
use ir::op::BinaryOp;
use ir::{DType, Op, Tensor, TensorType};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        // x + 0 = 0 + x = x
        Rule {
            name: "add-zero",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("add-zero", add_zero_search, union_with_first),
            instance: |rng| neutral_instance(rng, BinaryOp::Add, 0.0, true),
        },
        // x - 0 = x
        Rule {
            name: "sub-zero",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("sub-zero", sub_zero_search, union_with_first),
            instance: |rng| neutral_instance(rng, BinaryOp::Sub, 0.0, false),
        },
        // x · 1 = 1 · x = x   (elementwise)
        Rule {
            name: "mul-one",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("mul-one", mul_one_search, union_with_first),
            instance: |rng| neutral_instance(rng, BinaryOp::Mul, 1.0, true),
        },
        // x / 1 = x
        Rule {
            name: "div-one",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("div-one", div_one_search, union_with_first),
            instance: |rng| neutral_instance(rng, BinaryOp::Div, 1.0, false),
        },
        // x · 0 = 0 · x = 0   (the zero of the result's type; x integer, or known and finite)
        Rule {
            name: "mul-zero",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("mul-zero", mul_zero_search, union_with_first),
            instance: mul_zero_instance,
        },
        // Identity(x) = x
        Rule {
            name: "identity-elim",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("identity-elim", identity_search, union_with_first),
            instance: identity_instance,
        },
        // Dropout(x)[0] = x   (inference: training_mode absent or false)
        Rule {
            name: "dropout-elim",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("dropout-elim", dropout_search, union_with_first),
            instance: dropout_instance,
        },
        // x·I = I·x = x   (I an identity matrix constant)
        Rule {
            name: "matmul-identity",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("matmul-identity", eye_search, union_with_first),
            instance: eye_instance,
        },
        // x / c = x · (1/c)   (c a f32/f64 constant without zeros)
        Rule {
            name: "div-const-to-mul",
            family: Family::Algebra,
            explosive: false,
            approx: false,
            rewrite: rust_rule("div-const-to-mul", div_const_search, div_const_apply),
            instance: div_const_instance,
        },
    ]
}

/// The other operand of each `op` node of `class` whose right operand (or either, when the op
/// `commutes`) is a constant of all `v`.
fn neutral_operand(egraph: &EG, class: Id, op: BinaryOp, v: f64, commutes: bool) -> Vec<Vec<Id>> {
    let mut out = Vec::new();
    for ch in children_of(egraph, class, |o| *o == Op::Binary(op)) {
        let [a, b] = ch[..] else { continue };
        if const_all(egraph, b, v) {
            out.push(vec![a]);
        }
        if commutes && const_all(egraph, a, v) {
            out.push(vec![b]);
        }
    }
    out
}

fn add_zero_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    neutral_operand(egraph, class, BinaryOp::Add, 0.0, true)
}

fn sub_zero_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    neutral_operand(egraph, class, BinaryOp::Sub, 0.0, false)
}

fn mul_one_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    neutral_operand(egraph, class, BinaryOp::Mul, 1.0, true)
}

fn div_one_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    neutral_operand(egraph, class, BinaryOp::Div, 1.0, false)
}

/// `x · 0` is the zero constant when that constant already has the result's type. For float
/// x it is not 0 in general: `NaN · 0` and `inf · 0` are NaN. So a float x must be known (a
/// weight) and finite; an integer x always gives 0.
fn mul_zero_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let mut out = Vec::new();
    for ch in children_of(egraph, class, |o| *o == Op::Binary(BinaryOp::Mul)) {
        let [a, b] = ch[..] else { continue };
        for (x, z) in [(a, b), (b, a)] {
            if const_all(egraph, z, 0.0) && super::same_ty(egraph, z, class) && absorbs(egraph, x) {
                out.push(vec![z]);
            }
        }
    }
    out
}

/// True when `x · 0 = 0` for every element of x.
fn absorbs(egraph: &EG, x: Id) -> bool {
    let Some(ty) = egraph[x].data.ty() else {
        return false;
    };
    if ty.dtype.is_int() {
        return true;
    }
    ty.dtype.is_float()
        && egraph[x]
            .data
            .value()
            .is_some_and(|t| t.to_f64_vec().iter().all(|v| v.is_finite()))
}

fn neutral_instance(rng: &mut Rng, op: BinaryOp, v: f64, commutes: bool) -> ir::Graph {
    let shape = random_shape(rng, 1, 3, 1, 5);
    // The constant broadcasts into x: a suffix of x's shape, some dims 1.
    let keep = rng.range(0, shape.len());
    let cshape: Vec<usize> = shape[shape.len() - keep..]
        .iter()
        .map(|&d| if rng.range(0, 2) == 0 { 1 } else { d })
        .collect();
    let n: usize = cshape.iter().product();
    let c = Tensor::from_f64(DType::F32, cshape, &vec![v; n]).expect("constant");
    let mut b = GraphBuilder::new("neutral");
    let x = b.input(&shape);
    let c = b.constant(c);
    let y = if commutes && rng.range(0, 1) == 1 {
        b.op(Op::Binary(op), &[c, x])
    } else {
        b.op(Op::Binary(op), &[x, c])
    };
    b.finish(&[y])
}

/// An integer input times zeros of its shape or of a bigger one.
fn mul_zero_instance(rng: &mut Rng) -> ir::Graph {
    let shape = random_shape(rng, 1, 2, 1, 5);
    let zshape = match rng.range(0, 1) {
        0 => shape.clone(),
        _ => [vec![rng.range(1, 3)], shape.clone()].concat(),
    };
    let mut b = GraphBuilder::new("mul_zero");
    let x = b.g.add_input(
        "x",
        TensorType::new(DType::I64, ir::shape::static_shape(&shape)),
    );
    let z = b.constant(Tensor::zeros(DType::I64, zshape));
    let y = if rng.range(0, 1) == 0 {
        b.op(Op::Binary(BinaryOp::Mul), &[x, z])
    } else {
        b.op(Op::Binary(BinaryOp::Mul), &[z, x])
    };
    b.finish(&[y])
}

fn identity_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    children_of(egraph, class, |o| matches!(o, Op::Identity))
        .into_iter()
        .filter(|ch| ch.len() == 1)
        .collect()
}

fn identity_instance(rng: &mut Rng) -> ir::Graph {
    let shape = random_shape(rng, 0, 3, 1, 5);
    let mut b = GraphBuilder::new("identity");
    let x = b.input(&shape);
    let i = b.op(Op::Identity, &[x]);
    let y = b.op(Op::Unary(ir::op::UnaryOp::Neg), &[i]);
    b.finish(&[y])
}

/// True when a Dropout's optional `training_mode` input is absent or a constant false.
fn inference(egraph: &EG, ch: &[Id]) -> bool {
    match ch.get(2) {
        None => true,
        Some(&t) => {
            egraph[t].nodes.iter().any(|n| matches!(n, Node::Absent))
                || egraph[t]
                    .data
                    .value()
                    .is_some_and(|v| v.len() == 1 && v.to_bool_vec() == [false])
        }
    }
}

/// Dropout with one output (its class is y), or output 0 of a Dropout with a mask.
fn dropout_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let mut out: Vec<Vec<Id>> = ops(egraph, class)
        .filter(|(op, ch)| {
            matches!(op, Op::Dropout { .. }) && !ch.is_empty() && inference(egraph, ch)
        })
        .map(|(_, ch)| vec![ch[0]])
        .collect();
    for n in &egraph[class].nodes {
        let Node::Output(0, [t]) = n else { continue };
        for m in &egraph[*t].nodes {
            if let Node::Op(k, ch) = m
                && matches!(k.op(), Op::Dropout { .. })
                && !ch.is_empty()
                && inference(egraph, ch)
            {
                out.push(vec![ch[0]]);
            }
        }
    }
    out
}

fn dropout_instance(rng: &mut Rng) -> ir::Graph {
    let shape = random_shape(rng, 1, 3, 1, 5);
    let mut b = GraphBuilder::new("dropout");
    let x = b.input(&shape);
    let ratio = match rng.range(0, 1) {
        0 => None,
        _ => Some(b.constant(Tensor::scalar_f32(0.25))),
    };
    let training = match rng.range(0, 1) {
        0 => None,
        _ => Some(b.constant(Tensor::from_bool(vec![], vec![false]).expect("scalar"))),
    };
    let outs = rng.range(1, 2);
    let node = b.g.add_node(
        "dropout",
        Op::Dropout { float_mask: false },
        vec![Some(x), ratio, training],
        vec![String::new(); outs],
    );
    let y = b.g.node(node).outputs[0];
    b.finish(&[y])
}

/// True when a class is a constant square identity matrix (float).
fn is_eye(egraph: &EG, c: Id) -> bool {
    const MAX_EYE: usize = 1 << 12;
    let Some(t) = egraph[c].data.value() else {
        return false;
    };
    let [n, m] = *t.shape() else { return false };
    if n != m || n > MAX_EYE || !t.dtype().is_float() {
        return false;
    }
    let want = |i: usize| if i / n == i % n { 1.0 } else { 0.0 };
    // Searched every iteration for every square weight: stop at the first element that differs.
    match t.as_f32() {
        Some(xs) => xs.iter().enumerate().all(|(i, &x)| x as f64 == want(i)),
        None => t
            .to_f64_vec()
            .iter()
            .enumerate()
            .all(|(i, &x)| x == want(i)),
    }
}

fn eye_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    let mut out = Vec::new();
    for ch in children_of(egraph, class, |o| matches!(o, Op::MatMul)) {
        let [a, b] = ch[..] else { continue };
        if is_eye(egraph, b) {
            out.push(vec![a]);
        }
        if is_eye(egraph, a) {
            out.push(vec![b]);
        }
    }
    out
}

fn eye(n: usize) -> Tensor {
    let v: Vec<f64> = (0..n * n)
        .map(|i| if i / n == i % n { 1.0 } else { 0.0 })
        .collect();
    Tensor::from_f64(DType::F32, vec![n, n], &v).expect("eye")
}

fn eye_instance(rng: &mut Rng) -> ir::Graph {
    let (m, k) = (rng.range(1, 6), rng.range(1, 6));
    let batch = random_shape(rng, 0, 1, 1, 3);
    let mut b = GraphBuilder::new("eye");
    let y = if rng.range(0, 1) == 0 {
        let x = b.input(&[batch, vec![m, k]].concat());
        let i = b.constant(eye(k));
        b.op(Op::MatMul, &[x, i])
    } else {
        let x = b.input(&[batch, vec![k, m]].concat());
        let i = b.constant(eye(k));
        b.op(Op::MatMul, &[i, x])
    };
    b.finish(&[y])
}

/// Divisors are taken up to this many elements.
const MAX_DIVISOR: usize = 1 << 20;

/// The reciprocal of a f32/f64 constant with no zero element whose reciprocals are finite.
fn reciprocal(egraph: &EG, c: Id) -> Option<Tensor> {
    let t = egraph[c].data.value()?;
    if !matches!(t.dtype(), DType::F32 | DType::F64) || t.len() > MAX_DIVISOR {
        return None;
    }
    let r: Vec<f64> = t.to_f64_vec().iter().map(|&v| 1.0 / v).collect();
    if r.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // f32: 1/c rounded once, x·(1/c) rounded again, within an ulp or so of x/c.
    Tensor::from_f64(t.dtype(), t.shape().to_vec(), &r).ok()
}

/// Matches `[x, c]` for `x / c` with c a constant divisor.
fn div_const_search(egraph: &EG, class: Id) -> Vec<Vec<Id>> {
    children_of(egraph, class, |o| *o == Op::Binary(BinaryOp::Div))
        .into_iter()
        .filter(|ch| {
            ch.len() == 2
                && !egraph[ch[0]].data.weight_only
                && egraph[ch[1]].data.value().is_some_and(|t| {
                    matches!(t.dtype(), DType::F32 | DType::F64) && t.len() <= MAX_DIVISOR
                })
        })
        .collect()
}

fn div_const_apply(egraph: &mut EG, class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
    let [x, c] = ids[..] else { return vec![] };
    let Some(r) = reciprocal(egraph, c) else {
        return vec![];
    };
    let r = TensorAnalysis::add_const(egraph, r);
    let y = binary(egraph, BinaryOp::Mul, x, r);
    vec![(class, y)]
}

/// `x / c`, c a scalar, a row or a matrix of values away from 0.
fn div_const_instance(rng: &mut Rng) -> ir::Graph {
    let (m, n) = (rng.range(1, 6), rng.range(1, 6));
    let cshape = rng
        .pick(&[&[][..], &[1][..], &[n][..], &[m, n][..]])
        .to_vec();
    let mut c = random_tensor(rng, &cshape).to_f64_vec();
    for v in &mut c {
        *v = v.signum() * (0.5 + v.abs());
    }
    let mut b = GraphBuilder::new("div");
    let x = b.input(&[m, n]);
    let c = b.constant(Tensor::from_f64(DType::F32, cshape, &c).expect("divisor"));
    let y = b.op(Op::Binary(BinaryOp::Div), &[x, c]);
    b.finish(&[y])
}
