//! Tests of staging a contraction's `b` (`stage.rs`): far-apart columns are staged, near ones
//! are not, and results match the f64 reference either way.

use super::GemmPlan;
use super::tests::{check, kernel, out_shape, schedule};
use crate::cpu::jit::JitCompiler;
use crate::kernel::GemmPath;
use ir::DType;

/// A `b` stored column by column far apart is staged into scratch as dense rows (see
/// `stage.rs`); results match the reference on both paths, with broadcast and offset batches.
#[test]
fn far_apart_columns_of_b_are_staged() {
    let batch = [2usize, 3];
    let (m, n, k) = (13, 20, 9);
    let mut g = kernel(&batch, m, n, k, false, true);
    // b[kk, j] at kk + 300·j: k-contiguous columns 1.2 KB apart, the second batch dim
    // broadcast, the first one past every column of the previous item.
    g.b.col_stride = 300;
    g.b.batch_strides = vec![300 * n as i64, 0];
    g.b.offset = 3;
    let items: usize = batch.iter().product();
    let staged = {
        let mut jit = JitCompiler::new().expect("jit");
        let s = schedule(GemmPath::Library, [0, 8, 0], false, &out_shape(&g));
        GemmPlan::gemm("t", &g, &s, &[DType::F32; 3], &mut jit).expect("plan")
    };
    assert_eq!(staged.scratch_bytes(), items * k * n * 4, "b is staged");
    let out = out_shape(&g);
    for path in [GemmPath::Library, GemmPath::Jit] {
        for threads in [1, 2] {
            check(
                &g,
                &schedule(path, [4, 8, 0], threads > 1, &out),
                threads,
                21,
                None,
            );
        }
    }
    // Near columns are read in place.
    let near = kernel(&batch, m, n, k, false, true);
    let mut jit = JitCompiler::new().expect("jit");
    let s = schedule(GemmPath::Library, [0, 8, 0], false, &out);
    let plan = GemmPlan::gemm("t", &near, &s, &[DType::F32; 3], &mut jit).expect("plan");
    assert_eq!(plan.scratch_bytes(), 0);
}
