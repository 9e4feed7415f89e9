//! Tests of convolutions against `ir::interp` (`Op::Conv`): 1-D, 2-D and 3-D, groups, strides,
//! dilations, pads, the direct 1×1 case, both paths, threads, and a fused bias + relu.
//!
//! Tolerance: rtol 1e-4, atol 1e-5 (f32 sums in different orders).

use super::GemmPlan;
use super::tests::{Rng, bias_relu, epilogues_available, plain_epilogue, run_plan, schedule};
use crate::kernel::{ConvKernel, GemmPath};
use ir::op::{AutoPad, ConvAttrs};
use ir::{DType, Op, Tensor};

/// One convolution case: input spatial size, kernel, strides, dilations, pads (begin, end).
struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    group: usize,
    input: Vec<usize>,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads: (Vec<usize>, Vec<usize>),
}

impl Case {
    fn out_spatial(&self) -> Vec<usize> {
        (0..self.input.len())
            .map(|d| {
                let span = self.dilations[d] * (self.kernel[d] - 1) + 1;
                (self.input[d] + self.pads.0[d] + self.pads.1[d] - span) / self.strides[d] + 1
            })
            .collect()
    }

    fn kernel_ir(&self, relu: bool) -> ConvKernel {
        let rank = self.input.len() + 2;
        let epilogue = if relu {
            let mut st = vec![0i64; rank];
            st[1] = 1;
            bias_relu(2, 3, st)
        } else {
            plain_epilogue(2)
        };
        ConvKernel {
            input: 0,
            weight: 1,
            batch: self.batch,
            c_in: self.c_in,
            c_out: self.c_out,
            group: self.group,
            in_spatial: self.input.clone(),
            kernel: self.kernel.clone(),
            out_spatial: self.out_spatial(),
            strides: self.strides.clone(),
            dilations: self.dilations.clone(),
            pads_begin: self.pads.0.clone(),
            epilogue,
        }
    }

    /// Runs the case on both paths, 1 and 2 threads, against the interpreter.
    fn check(&self, seed: u64, relu: bool) {
        let mut rng = Rng::new(seed);
        let xs: Vec<usize> = [self.batch, self.c_in]
            .into_iter()
            .chain(self.input.iter().copied())
            .collect();
        let ws: Vec<usize> = [self.c_out, self.c_in / self.group]
            .into_iter()
            .chain(self.kernel.iter().copied())
            .collect();
        let x = rng.vec(xs.iter().product());
        let w = rng.vec(ws.iter().product());
        let bias = rng.vec(self.c_out);
        let attrs = ConvAttrs {
            kernel_shape: Some(self.kernel.clone()),
            strides: self.strides.clone(),
            dilations: self.dilations.clone(),
            pads: self.pads.0.iter().chain(&self.pads.1).copied().collect(),
            auto_pad: AutoPad::NotSet,
            group: self.group,
        };
        let xt = Tensor::from_f32(xs, x.clone()).unwrap();
        let wt = Tensor::from_f32(ws, w.clone()).unwrap();
        let bt = Tensor::from_f32(vec![self.c_out], bias.clone()).unwrap();
        let inputs = if relu {
            vec![Some(&xt), Some(&wt), Some(&bt)]
        } else {
            vec![Some(&xt), Some(&wt)]
        };
        let want = ir::interp::eval(&Op::Conv(attrs), &inputs, 1).unwrap();
        let mut want = want[0].to_f32_vec();
        if relu {
            want.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        let k = self.kernel_ir(relu);
        let out: Vec<usize> = [k.batch, k.c_out]
            .into_iter()
            .chain(k.out_spatial.iter().copied())
            .collect();
        for path in [GemmPath::Library, GemmPath::Jit] {
            for (tm, threads) in [(0, 1), (4, 1), (3, 2)] {
                let s = schedule(path, [tm, 8, 0], threads > 1, &out);
                let mut args = vec![x.clone(), w.clone(), vec![f32::NAN; want.len()]];
                let mut dtypes = vec![DType::F32; 3];
                if relu {
                    args.push(bias.clone());
                    dtypes.push(DType::F32);
                }
                run_plan(
                    &|jit| GemmPlan::conv("c", &k, &s, &dtypes, jit),
                    &mut args,
                    threads,
                )
                .unwrap_or_else(|e| panic!("{path:?}: {e}"));
                for (i, (&g, &e)) in args[2].iter().zip(&want).enumerate() {
                    assert!(
                        (g - e).abs() <= 1e-5 + 1e-4 * e.abs(),
                        "{path:?} tile_m {tm} threads {threads}: element {i}: got {g}, want {e}"
                    );
                }
            }
        }
    }
}

fn case(
    batch: usize,
    c: (usize, usize, usize),
    input: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    pads: (&[usize], &[usize]),
) -> Case {
    Case {
        batch,
        c_in: c.0,
        c_out: c.1,
        group: c.2,
        input: input.to_vec(),
        kernel: kernel.to_vec(),
        strides: strides.to_vec(),
        dilations: dilations.to_vec(),
        pads: (pads.0.to_vec(), pads.1.to_vec()),
    }
}

#[test]
fn conv_1d() {
    case(2, (4, 6, 2), &[17], &[3], &[2], &[2], (&[1], &[2])).check(1, false);
    case(1, (3, 5, 1), &[9], &[1], &[1], &[1], (&[0], &[0])).check(2, false);
    case(1, (3, 2, 1), &[5], &[5], &[1], &[1], (&[4], &[4])).check(3, false);
}

#[test]
fn conv_2d() {
    case(
        2,
        (6, 4, 2),
        &[9, 7],
        &[3, 2],
        &[1, 2],
        &[1, 2],
        (&[1, 0], &[2, 1]),
    )
    .check(4, false);
    // Depthwise, stride 2, padded.
    case(
        1,
        (8, 8, 8),
        &[10, 11],
        &[3, 3],
        &[2, 2],
        &[1, 1],
        (&[1, 1], &[1, 1]),
    )
    .check(5, false);
    // 1×1 unpadded stride 1: the direct path (no im2col).
    case(
        2,
        (16, 12, 1),
        &[5, 6],
        &[1, 1],
        &[1, 1],
        &[1, 1],
        (&[0, 0], &[0, 0]),
    )
    .check(6, false);
    // 1×1 with stride: im2col.
    case(
        1,
        (5, 7, 1),
        &[7, 6],
        &[1, 1],
        &[2, 3],
        &[1, 1],
        (&[0, 0], &[0, 0]),
    )
    .check(7, false);
    // Larger, enough work to split the im2col over threads.
    case(
        1,
        (16, 32, 1),
        &[24, 24],
        &[3, 3],
        &[1, 1],
        &[1, 1],
        (&[1, 1], &[1, 1]),
    )
    .check(8, false);
}

#[test]
fn conv_3d() {
    case(
        1,
        (4, 6, 2),
        &[5, 6, 4],
        &[2, 3, 2],
        &[1, 2, 1],
        &[2, 1, 1],
        (&[1, 0, 1], &[0, 2, 1]),
    )
    .check(9, false);
    case(
        2,
        (3, 3, 3),
        &[4, 4, 4],
        &[3, 3, 3],
        &[1, 1, 1],
        &[1, 1, 1],
        (&[1, 1, 1], &[1, 1, 1]),
    )
    .check(10, false);
}

#[test]
fn conv_bias_relu_epilogue() {
    if !epilogues_available() {
        eprintln!("the JIT has no pointwise kernels yet: epilogue tests skipped");
        return;
    }
    case(
        2,
        (6, 4, 2),
        &[9, 7],
        &[3, 3],
        &[1, 1],
        &[1, 1],
        (&[1, 1], &[1, 1]),
    )
    .check(11, true);
    case(1, (4, 8, 1), &[13], &[3], &[2], &[1], (&[1], &[1])).check(12, true);
    case(
        2,
        (8, 4, 1),
        &[3, 3, 2],
        &[1, 1, 1],
        &[1, 1, 1],
        &[1, 1, 1],
        (&[0, 0, 0], &[0, 0, 0]),
    )
    .check(13, true);
}

#[test]
fn conv_without_spatial_dims() {
    if !epilogues_available() {
        return;
    }
    // [N, C] input: a grouped matrix product per image, with a bias + relu epilogue.
    let (batch, c_in, c_out, group) = (3, 6, 4, 2);
    let mut rng = Rng::new(14);
    let x = rng.vec(batch * c_in);
    let w = rng.vec(c_out * c_in / group);
    let bias = rng.vec(c_out);
    let k = ConvKernel {
        input: 0,
        weight: 1,
        batch,
        c_in,
        c_out,
        group,
        in_spatial: vec![],
        kernel: vec![],
        out_spatial: vec![],
        strides: vec![],
        dilations: vec![],
        pads_begin: vec![],
        epilogue: bias_relu(2, 3, vec![0, 1]),
    };
    let (cig, cog) = (c_in / group, c_out / group);
    let mut want = vec![0f32; batch * c_out];
    for n in 0..batch {
        for co in 0..c_out {
            let g = co / cog;
            let s: f32 = (0..cig)
                .map(|c| w[co * cig + c] * x[n * c_in + g * cig + c])
                .sum();
            want[n * c_out + co] = (s + bias[co]).max(0.0);
        }
    }
    for path in [GemmPath::Library, GemmPath::Jit] {
        let s = schedule(path, [0, 8, 0], false, &[batch, c_out]);
        let mut args = vec![x.clone(), w.clone(), vec![0.0; batch * c_out], bias.clone()];
        run_plan(
            &|jit| GemmPlan::conv("c", &k, &s, &[DType::F32; 4], jit),
            &mut args,
            1,
        )
        .unwrap();
        for (g, e) in args[2].iter().zip(&want) {
            assert!(
                (g - e).abs() <= 1e-5 + 1e-4 * e.abs(),
                "{path:?}: got {g}, want {e}"
            );
        }
    }
}

/// A random spatial geometry of rank 1 or 2 whose windows fit the padded input: (input,
/// kernel, strides, dilations, pads begin, pads end), with input extents below `max_in`,
/// kernels below `max_k` and strides up to `max_stride`.
type Geometry = (
    Vec<usize>,
    Vec<usize>,
    Vec<usize>,
    Vec<usize>,
    Vec<usize>,
    Vec<usize>,
);

fn random_geometry(
    rng: &mut super::tests::Rng,
    max_in: usize,
    max_k: usize,
    max_stride: usize,
) -> Geometry {
    loop {
        let rank = 1 + rng.below(2);
        let mut pick =
            |n: usize, lo: usize| -> Vec<usize> { (0..rank).map(|_| lo + rng.below(n)).collect() };
        let (input, kernel) = (pick(max_in, 1), pick(max_k, 1));
        let (strides, dilations) = (pick(max_stride, 1), pick(2, 1));
        let (pb, pe) = (pick(3, 0), pick(3, 0));
        if (0..rank).all(|d| input[d] + pb[d] + pe[d] > dilations[d] * (kernel[d] - 1)) {
            return (input, kernel, strides, dilations, pb, pe);
        }
    }
}

/// Depthwise convolutions (one channel per group) run plane by plane, not as products: random
/// 1-D and 2-D geometries (strides 1 to 3, dilations, uneven pads, planes narrower and wider
/// than one block of 8 columns, a fused bias and relu), against the same reference.
#[test]
fn depthwise_random_geometries() {
    let mut rng = super::tests::Rng::new(41);
    for i in 0..40u64 {
        let c = 1 + rng.below(6);
        let (input, kernel, strides, dilations, pb, pe) = random_geometry(&mut rng, 20, 5, 3);
        let batch = 1 + rng.below(2);
        let geo = case(
            batch,
            (c, c, c),
            &input,
            &kernel,
            &strides,
            &dilations,
            (&pb, &pe),
        );
        geo.check(100 + i, i % 2 == 1);
    }
}

/// Convolutions through im2col over random geometries: column strides 1 to 4 (a copy, the
/// constant-stride gathers and the general one), dilations, uneven pads, groups.
#[test]
fn im2col_random_geometries() {
    let mut rng = super::tests::Rng::new(43);
    for i in 0..30u64 {
        let group = 1 + rng.below(2);
        // At least two channels on one side: one on both would be depthwise.
        let c_in = group * (1 + rng.below(3));
        let c_out = group * (if c_in == group { 2 } else { 1 } + rng.below(2));
        let (input, kernel, strides, dilations, pb, pe) = random_geometry(&mut rng, 16, 4, 4);
        let geo = case(
            1,
            (c_in, c_out, group),
            &input,
            &kernel,
            &strides,
            &dilations,
            (&pb, &pe),
        );
        geo.check(200 + i, false);
    }
}
