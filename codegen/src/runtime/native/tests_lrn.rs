//! The native LRN against the interpreter's f64: random shapes (rank 2 to 5, one channel to
//! twelve), odd and even window sizes, the betas with their own power (0.75, 0.5, 1) and one
//! through `powf`, on 1 and 2 threads. Tolerance: |native − interp| ≤ 1e-5 · |interp| + 1e-7
//! (f32 sums of at most 7 squares and two square roots: a few roundings).

use super::tests::native_and_interp;
use ir::{Op, Tensor};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn unit(&mut self) -> f32 {
        self.below(1 << 20) as f32 / (1 << 19) as f32 - 1.0
    }
}

#[test]
fn lrn_of_random_shapes_equals_the_interpreter() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for case in 0..60 {
        let rank = 2 + rng.below(4);
        let mut shape = vec![1 + rng.below(2), 1 + rng.below(12)];
        shape.extend((2..rank).map(|_| 1 + rng.below(9)));
        let beta = [0.75f32, 0.5, 1.0, 0.6][case % 4];
        let op = Op::Lrn {
            alpha: 1e-4 + rng.below(100) as f32 * 1e-3,
            beta,
            bias: 0.5 + rng.below(4) as f32 * 0.5,
            size: 1 + rng.below(7),
        };
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| 4.0 * rng.unit()).collect();
        let x = Tensor::from_f32(shape.clone(), values).expect("sizes");
        for threads in [1, 2] {
            let (got, want) = native_and_interp(&op, &x, threads).expect("interpreter runs");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * w.abs() + 1e-7,
                    "{op:?} on {shape:?}, {threads} threads [{i}]: {g} vs {w}"
                );
            }
        }
    }
}

/// Planes of AlexNet's first LRN: enough work to spread over the threads.
#[test]
fn a_large_lrn_split_over_threads_equals_the_interpreter() {
    let shape = vec![1usize, 96, 27, 27];
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.7)
        .collect();
    let x = Tensor::from_f32(shape, values).expect("sizes");
    let op = Op::Lrn {
        alpha: 1e-4,
        beta: 0.75,
        bias: 1.0,
        size: 5,
    };
    let (got, want) = native_and_interp(&op, &x, 2).expect("interpreter runs");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-5 * w.abs() + 1e-7, "[{i}]: {g} vs {w}");
    }
}
