//! Tests of one-row products (`gemv`): both layouts of `b`, sums whose length is not a multiple
//! of the unrolling, outputs wider than one step, strided rows of `a`, alpha, batches, threads
//! and a fused epilogue, against the f64 reference of `tests.rs` under its tolerance.

use super::tests::{Rng, bias_relu, check, epilogues_available, kernel, out_shape, schedule};
use crate::kernel::GemmPath;

#[test]
fn one_row_products_match_reference_in_both_layouts() {
    let mut rng = Rng::new(21);
    let ks = [1usize, 3, 4, 5, 16, 17, 33, 100, 1000];
    let ns = [1usize, 2, 3, 4, 5, 31, 300, 4100];
    for &k in &ks {
        for &n in &ns {
            for tb in [false, true] {
                let mut g = kernel(&[], 1, n, k, false, tb);
                if rng.below(2) == 1 {
                    g.alpha = -0.5;
                }
                let out = out_shape(&g);
                let threads = 1 + rng.below(3);
                let s = schedule(GemmPath::Library, [0, 8, 0], threads > 1, &out);
                check(&g, &s, threads, k as u64 * 31 + n as u64, None);
            }
        }
    }
}

#[test]
fn one_row_products_with_a_strided_row_and_batches() {
    for tb in [false, true] {
        // a's elements 3 apart (a column of a wider matrix) and an offset into it.
        let mut g = kernel(&[], 1, 70, 45, false, tb);
        g.a.col_stride = 3;
        g.a.offset = 2;
        let out = out_shape(&g);
        for threads in [1, 2] {
            let s = schedule(GemmPath::Library, [0, 8, 0], threads > 1, &out);
            check(&g, &s, threads, 3, None);
        }
        // A batch of one-row items, b shared by all of them (a decoder step over heads).
        let mut g = kernel(&[5], 1, 37, 64, false, tb);
        g.b.batch_strides = vec![0];
        let out = out_shape(&g);
        for threads in [1, 2] {
            let s = schedule(GemmPath::Library, [0, 8, 0], threads > 1, &out);
            check(&g, &s, threads, 4, None);
        }
    }
}

#[test]
fn one_row_product_feeds_a_fused_epilogue() {
    if !epilogues_available() {
        eprintln!("skipped: the JIT cannot compile pointwise epilogues on this host");
        return;
    }
    for tb in [false, true] {
        let (n, k) = (4100, 70);
        let mut g = kernel(&[], 1, n, k, false, tb);
        g.epilogue = bias_relu(2, 3, vec![0, 1]);
        let out = out_shape(&g);
        let mut rng = Rng::new(8);
        for threads in [1, 2] {
            let s = schedule(GemmPath::Library, [0, 8, 0], threads > 1, &out);
            check(&g, &s, threads, 6, Some(rng.vec(n)));
        }
    }
}
