//! FLOP counts checked by hand on small shapes.

use super::*;
use crate::dtype::DType;
use crate::op::{AttentionAttrs, AutoPad, ConvAttrs, GemmAttrs};
use crate::shape::{Dim, static_shape};

fn ty(d: &[usize]) -> TensorType {
    TensorType::new(DType::F32, static_shape(d))
}

#[test]
fn matmul_counts_two_per_multiply_add() {
    let (a, b, y) = (ty(&[2, 3, 4]), ty(&[4, 5]), ty(&[2, 3, 5]));
    assert_eq!(
        flops(&Op::MatMul, &[Some(&a), Some(&b)], &[y]),
        Some(2 * 2 * 3 * 5 * 4)
    );
}

#[test]
fn gemm_adds_the_bias() {
    let attrs = GemmAttrs {
        alpha: 1.0,
        beta: 1.0,
        trans_a: true,
        trans_b: false,
    };
    let (a, b, c, y) = (ty(&[7, 3]), ty(&[7, 5]), ty(&[5]), ty(&[3, 5]));
    let op = Op::Gemm(attrs);
    assert_eq!(
        flops(
            &op,
            &[Some(&a), Some(&b), Some(&c)],
            std::slice::from_ref(&y)
        ),
        Some(2 * 3 * 5 * 7 + 15)
    );
    assert_eq!(
        flops(&op, &[Some(&a), Some(&b), None], &[y]),
        Some(2 * 3 * 5 * 7)
    );
}

#[test]
fn grouped_conv_uses_the_weight_shape() {
    let attrs = ConvAttrs {
        kernel_shape: None,
        strides: vec![],
        dilations: vec![],
        pads: vec![],
        auto_pad: AutoPad::NotSet,
        group: 2,
    };
    // x [1,4,8,8], w [6, 4/2, 3, 3], y [1,6,6,6].
    let (x, w, y) = (ty(&[1, 4, 8, 8]), ty(&[6, 2, 3, 3]), ty(&[1, 6, 6, 6]));
    let expected = 2 * (6 * 6 * 6) * (2 * 3 * 3);
    assert_eq!(
        flops(&Op::Conv(attrs), &[Some(&x), Some(&w), None], &[y]),
        Some(expected)
    );
}

#[test]
fn symbolic_shapes_are_unknown() {
    let x = TensorType::new(DType::F32, vec![Dim::Symbolic("n".into()), Dim::Static(3)]);
    assert_eq!(
        flops(
            &Op::Unary(UnaryOp::Relu),
            &[Some(&x)],
            std::slice::from_ref(&x)
        ),
        None
    );
    assert_eq!(
        flops(&Op::Identity, &[Some(&x)], std::slice::from_ref(&x)),
        Some(0)
    );
}

#[test]
fn elementwise_and_transcendental_rates() {
    let x = ty(&[10]);
    assert_eq!(
        flops(
            &Op::Unary(UnaryOp::Relu),
            &[Some(&x)],
            std::slice::from_ref(&x)
        ),
        Some(10)
    );
    assert_eq!(
        flops(
            &Op::Unary(UnaryOp::Tanh),
            &[Some(&x)],
            std::slice::from_ref(&x)
        ),
        Some(10 * TRANSCENDENTAL)
    );
    let s = ty(&[1]);
    assert_eq!(
        flops(
            &Op::Binary(BinaryOp::Add),
            &[Some(&x), Some(&s)],
            std::slice::from_ref(&x)
        ),
        Some(10)
    );
}

#[test]
fn einsum_matches_matmul() {
    let (a, b) = (ty(&[3, 4]), ty(&[4, 5]));
    let op = Op::Einsum {
        equation: "ij,jk->ik".into(),
    };
    assert_eq!(
        flops(&op, &[Some(&a), Some(&b)], &[ty(&[3, 5])]),
        Some(2 * 3 * 4 * 5)
    );
    let (a, b) = (ty(&[2, 7, 3, 4]), ty(&[2, 7, 4, 5]));
    let op = Op::Einsum {
        equation: "...ij,...jk->...ik".into(),
    };
    assert_eq!(
        flops(&op, &[Some(&a), Some(&b)], &[ty(&[2, 7, 3, 5])]),
        Some(2 * 14 * 3 * 4 * 5)
    );
}

#[test]
fn attention_counts_both_matmuls_and_softmax() {
    let attrs = AttentionAttrs {
        is_causal: false,
        kv_num_heads: None,
        q_num_heads: None,
        qk_matmul_output_mode: 0,
        scale: None,
        softcap: 0.0,
        softmax_precision: None,
        left_window_size: None,
        right_window_size: None,
    };
    // batch 1, 2 heads, q seq 3, kv seq 5, head size 4.
    let (q, k, v, y) = (
        ty(&[1, 2, 3, 4]),
        ty(&[1, 2, 5, 4]),
        ty(&[1, 2, 5, 4]),
        ty(&[1, 2, 3, 4]),
    );
    let scores = 2 * 3 * 5;
    let expected = 2 * scores * 4 + 2 * scores * 4 + SOFTMAX * scores;
    let got = flops(&Op::Attention(attrs), &[Some(&q), Some(&k), Some(&v)], &[y]);
    assert_eq!(got, Some(expected));
}
