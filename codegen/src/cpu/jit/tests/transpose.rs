//! Transposing copies: the default schedule tiles them in blocks (the `Threads` dim included),
//! and the tiled nest covers every call range exactly, against the reference evaluator.

use super::util::{B, check, pointwise};
use crate::kernel::schedule::default_for;
use crate::kernel::{LoopSchedule, Schedule};
use ir::{DType, Tensor};

/// out[n, c] = x[c, n] over `shape` = [n, c]: x is contiguous along the outer loop dim.
fn transpose_kernel(shape: [usize; 2]) -> crate::kernel::Kernel {
    let mut b = B::new();
    let x = b.load(0, 0, &[1, shape[0] as i64]);
    b.store(x, 1);
    let s = LoopSchedule::default_for(&shape, 1, true);
    let mut k = pointwise(&shape, b.done(), 2, s);
    k.schedule = default_for(&k);
    k
}

fn args(shape: [usize; 2]) -> Vec<Tensor> {
    let [n, c] = shape;
    let x: Vec<f32> = (0..n * c).map(|i| i as f32).collect();
    vec![
        Tensor::from_f32(vec![c, n], x).unwrap(),
        Tensor::zeros(DType::F32, vec![n, c]),
    ]
}

#[test]
fn large_transposes_are_tiled_and_exact() {
    // Extents that are no multiple of the 16 × 8 block, split over threads by `check`'s
    // chunked calls.
    for shape in [[1024, 64], [333, 157], [40, 4099]] {
        let k = transpose_kernel(shape);
        let Schedule::Loops(s) = &k.schedule else {
            panic!("pointwise kernels have loop schedules")
        };
        assert_eq!(s.tiles, vec![16, 8], "{shape:?}: {s:?}");
        assert_eq!(
            s.parallel_dim(),
            Some(0),
            "{shape:?}: the tiled dim is the parallel one"
        );
        let got = check(&k, &args(shape), 0.0, 0.0);
        let [n, c] = shape;
        let out = got[1].to_f32_vec();
        assert_eq!(out[c + 1], (n + 1) as f32, "{shape:?}: out[1, 1] = x[1, 1]");
    }
}

#[test]
fn small_and_contiguous_copies_stay_untiled() {
    // Below the size threshold.
    let k = transpose_kernel([64, 64]);
    let Schedule::Loops(s) = &k.schedule else {
        panic!("pointwise kernels have loop schedules")
    };
    assert_eq!(s.tiles, vec![0, 0]);
    // A plain copy: contiguous along the innermost dim.
    let shape = [512, 512];
    let mut b = B::new();
    let x = b.dense(0, &shape);
    b.store(x, 1);
    let mut k = pointwise(
        &shape,
        b.done(),
        2,
        LoopSchedule::default_for(&shape, 1, true),
    );
    k.schedule = default_for(&k);
    let Schedule::Loops(s) = &k.schedule else {
        panic!("pointwise kernels have loop schedules")
    };
    assert_eq!(s.tiles, vec![0, 0]);
}
