//! Tests of the reference evaluator on hand-built kernels.

use super::*;
use crate::kernel::{
    Access, BinaryFn, Body, BufferDecl, BufferId, BufferKind, GemmKernel, GemmOperand, IndexCheck,
    Indirect, Inst, InterpKernel, Kernel, KernelKind, PointwiseKernel, ReduceFn, ReduceKernel,
    RowKernel, RowOp, Scalar, Schedule, Store, UnaryFn,
};

fn kernel(args: usize, kind: KernelKind) -> Kernel {
    Kernel {
        name: "k".into(),
        nodes: vec!["n".into()],
        args: (0..args as u32).map(BufferId).collect(),
        kind,
        schedule: Schedule::None,
        index_checks: vec![],
    }
}

fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
}

#[test]
fn pointwise_broadcasts_through_zero_strides() {
    // out[i, j] = a[i, j] + b[j], a read transposed from a [3, 2] buffer.
    let mut body = Body::default();
    let a = body.push(Inst::Load(Access {
        arg: 0,
        offset: 0,
        strides: vec![1, 2],
        indirect: None,
    }));
    let b = body.push(Inst::Load(Access {
        arg: 1,
        offset: 0,
        strides: vec![0, 1],
        indirect: None,
    }));
    let s = body.push(Inst::Binary(BinaryFn::Add, a, b));
    body.stores.push(Store { value: s, arg: 2 });
    let k = kernel(
        3,
        KernelKind::Pointwise(PointwiseKernel {
            shape: vec![2, 3],
            body,
        }),
    );
    let mut args = vec![
        f32s(&[3, 2], &[1., 2., 3., 4., 5., 6.]),
        f32s(&[3], &[10., 20., 30.]),
        Tensor::zeros(ir::DType::F32, vec![2, 3]),
    ];
    eval_kernel(&k, &mut args).unwrap();
    assert_eq!(args[2].as_f32().unwrap(), &[11., 23., 35., 12., 24., 36.]);
}

#[test]
fn casts_saturate_and_max_propagates_nan() {
    let mut body = Body::default();
    let x = body.push(Inst::Load(Access::dense(0, &[4])));
    let c = body.push(Inst::Cast(x, Scalar::I32));
    let z = body.push(Inst::Const {
        value: 0.0,
        ty: Scalar::F32,
    });
    let m = body.push(Inst::Binary(BinaryFn::Max, x, z));
    body.stores.push(Store { value: c, arg: 1 });
    body.stores.push(Store { value: m, arg: 2 });
    let k = kernel(
        3,
        KernelKind::Pointwise(PointwiseKernel {
            shape: vec![4],
            body,
        }),
    );
    let mut args = vec![
        f32s(&[4], &[-1.5, 3e10, f32::NAN, 2.7]),
        Tensor::zeros(ir::DType::I32, vec![4]),
        Tensor::zeros(ir::DType::F32, vec![4]),
    ];
    eval_kernel(&k, &mut args).unwrap();
    assert_eq!(
        args[1].to_i64_vec().unwrap(),
        vec![-1, i32::MAX as i64, 0, 2]
    );
    let m = args[2].as_f32().unwrap();
    assert_eq!((m[0], m[1], m[3]), (0.0, 3e10, 2.7));
    assert!(m[2].is_nan());
}

#[test]
fn gather_reads_through_an_indirect_term_and_checks_bounds() {
    // out[i, j] = table[idx[i], j] with a [3, 2] table.
    let mut body = Body::default();
    let idx = body.push(Inst::Load(Access {
        arg: 1,
        offset: 0,
        strides: vec![1, 0],
        indirect: None,
    }));
    let v = body.push(Inst::Load(Access {
        arg: 0,
        offset: 0,
        strides: vec![0, 1],
        indirect: Some(Indirect {
            index: idx,
            extent: 3,
            stride: 2,
        }),
    }));
    body.stores.push(Store { value: v, arg: 2 });
    let mut k = kernel(
        3,
        KernelKind::Pointwise(PointwiseKernel {
            shape: vec![2, 2],
            body,
        }),
    );
    k.index_checks.push(IndexCheck {
        arg: 1,
        extent: 3,
        node: "gather".into(),
    });
    let table = f32s(&[3, 2], &[0., 1., 10., 11., 20., 21.]);
    let mut args = vec![
        table.clone(),
        Tensor::from_i64(vec![2], vec![-1, 1]).unwrap(),
        Tensor::zeros(ir::DType::F32, vec![2, 2]),
    ];
    eval_kernel(&k, &mut args).unwrap();
    assert_eq!(args[2].as_f32().unwrap(), &[20., 21., 10., 11.]);
    let mut args = vec![
        table,
        Tensor::from_i64(vec![2], vec![3, 0]).unwrap(),
        Tensor::zeros(ir::DType::F32, vec![2, 2]),
    ];
    let err = eval_kernel(&k, &mut args).unwrap_err();
    assert!(err.to_string().contains("gather"), "{err}");
}

#[test]
fn softmax_row_with_scaled_epilogue() {
    let mut pro = Body::default();
    let x = pro.push(Inst::Load(Access::dense(0, &[2, 3])));
    let mut epi = Body::default();
    let a = epi.push(Inst::Anchor);
    let two = epi.push(Inst::Const {
        value: 2.0,
        ty: Scalar::F32,
    });
    let y = epi.push(Inst::Binary(BinaryFn::Mul, a, two));
    epi.stores.push(Store { value: y, arg: 1 });
    let k = kernel(
        2,
        KernelKind::Row(RowKernel {
            shape: vec![2, 3],
            prologue: pro,
            x,
            op: RowOp::Softmax,
            epilogue: epi,
        }),
    );
    let mut args = vec![
        f32s(&[2, 3], &[0., 0., 0., 1., 2., 3.]),
        Tensor::zeros(ir::DType::F32, vec![2, 3]),
    ];
    eval_kernel(&k, &mut args).unwrap();
    let y = args[1].as_f32().unwrap();
    assert!((y[0] - 2.0 / 3.0).abs() < 1e-6);
    let e: Vec<f32> = [1f32, 2., 3.].iter().map(|v| v.exp()).collect();
    let s: f32 = e.iter().sum();
    assert!((y[5] - 2.0 * e[2] / s).abs() < 1e-6);
}

#[test]
fn reduce_over_the_middle_axis_with_mean_epilogue() {
    let mut pro = Body::default();
    let x = pro.push(Inst::Load(Access::dense(0, &[2, 3, 2])));
    let mut epi = Body::default();
    let a = epi.push(Inst::Anchor);
    let third = epi.push(Inst::Const {
        value: 1.0 / 3.0,
        ty: Scalar::F32,
    });
    let y = epi.push(Inst::Binary(BinaryFn::Mul, a, third));
    epi.stores.push(Store { value: y, arg: 1 });
    let k = kernel(
        2,
        KernelKind::Reduce(ReduceKernel {
            shape: vec![2, 3, 2],
            reduced: vec![false, true, false],
            op: ReduceFn::Sum,
            prologue: pro,
            x,
            epilogue: epi,
        }),
    );
    let v: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let mut args = vec![
        f32s(&[2, 3, 2], &v),
        Tensor::zeros(ir::DType::F32, vec![2, 2]),
    ];
    eval_kernel(&k, &mut args).unwrap();
    let y = args[1].as_f32().unwrap();
    let want = [2.0f32, 3.0, 8.0, 9.0];
    for (g, w) in y.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{y:?}");
    }
}

#[test]
fn gemm_with_transposed_b_and_bias_epilogue() {
    // c = a[2, 3] · bt[2, 3]^T + bias[2]
    let mut epi = Body::default();
    let acc = epi.push(Inst::Anchor);
    let bias = epi.push(Inst::Load(Access {
        arg: 2,
        offset: 0,
        strides: vec![0, 1],
        indirect: None,
    }));
    let y = epi.push(Inst::Binary(BinaryFn::Add, acc, bias));
    let r = epi.push(Inst::Unary(UnaryFn::Erf, y));
    epi.stores.push(Store { value: y, arg: 3 });
    epi.stores.push(Store { value: r, arg: 4 });
    let op = |arg, row_stride, col_stride| GemmOperand {
        arg,
        offset: 0,
        batch_strides: vec![],
        row_stride,
        col_stride,
    };
    let k = kernel(
        5,
        KernelKind::Gemm(GemmKernel {
            batch: vec![],
            m: 2,
            n: 2,
            k: 3,
            a: op(0, 3, 1),
            b: op(1, 1, 3),
            alpha: 1.0,
            epilogue: epi,
        }),
    );
    let mut args = vec![
        f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]),
        f32s(&[2, 3], &[1., 0., 0., 0., 1., 1.]),
        f32s(&[2], &[0.5, -0.5]),
        Tensor::zeros(ir::DType::F32, vec![2, 2]),
        Tensor::zeros(ir::DType::F32, vec![2, 2]),
    ];
    eval_kernel(&k, &mut args).unwrap();
    assert_eq!(args[3].as_f32().unwrap(), &[1.5, 4.5, 4.5, 10.5]);
    assert!((args[4].as_f32().unwrap()[0] - 0.966_105_2).abs() < 1e-6);
}

#[test]
fn program_runs_an_interp_kernel_and_returns_outputs() {
    let decl = |kind, shape: Vec<usize>| BufferDecl {
        dtype: ir::DType::F32,
        shape,
        kind,
        name: "v".into(),
    };
    let p = Program {
        buffers: vec![
            decl(BufferKind::Input(0), vec![4]),
            decl(BufferKind::Output(0), vec![4]),
        ],
        kernels: vec![Kernel {
            name: "Relu".into(),
            nodes: vec!["relu".into()],
            args: vec![BufferId(0), BufferId(1)],
            kind: KernelKind::Interp(InterpKernel {
                op: ir::Op::Unary(ir::op::UnaryOp::Relu),
                inputs: vec![Some(0)],
                outputs: vec![Some(1)],
            }),
            schedule: Schedule::None,
            index_checks: vec![],
        }],
        inputs: vec![BufferId(0)],
        outputs: vec![BufferId(1)],
        output_names: vec!["y".into()],
        output_shapes: vec![vec![4]],
    };
    let out = eval_program(&p, &[f32s(&[4], &[-1., 2., -3., 4.])]).unwrap();
    assert_eq!(out[0].as_f32().unwrap(), &[0., 2., 0., 4.]);
    assert!(eval_program(&p, &[f32s(&[3], &[0.; 3])]).is_err());
}

#[test]
fn malformed_kernels_are_errors_not_panics() {
    let mut body = Body::default();
    let x = body.push(Inst::Load(Access::dense(0, &[8])));
    body.stores.push(Store { value: x, arg: 1 });
    let k = kernel(
        2,
        KernelKind::Pointwise(PointwiseKernel {
            shape: vec![8],
            body,
        }),
    );
    // Input too small for the access, output too small for the store, missing args.
    let mut args = vec![f32s(&[4], &[0.; 4]), Tensor::zeros(ir::DType::F32, vec![8])];
    assert!(eval_kernel(&k, &mut args).is_err());
    let mut args = vec![f32s(&[8], &[0.; 8]), Tensor::zeros(ir::DType::F32, vec![4])];
    assert!(eval_kernel(&k, &mut args).is_err());
    assert!(eval_kernel(&k, &mut args[..1]).is_err());
}
