//! Tests of contractions: both paths against an f64 reference over random shapes, strided
//! (transposed) operands, broadcast batches, alpha, tiles and threads, fused epilogues, and the
//! two paths against each other.
//!
//! Tolerance: |got − want| ≤ 1e-4 · Σ|aᵢ·bᵢ| + 1e-5 per element (f32 accumulation of k terms
//! against an f64 sum).

use super::GemmPlan;
use crate::cpu::jit::JitCompiler;
use crate::error::CodegenError;
use crate::kernel::{
    Access, BinaryFn, Body, GemmKernel, GemmOperand, GemmPath, GemmSchedule, Inst, LoopSchedule,
    Store, UnaryFn,
};
use crate::runtime::pool::Pool;
use ir::DType;

/// A small deterministic generator (xorshift) of values in [-1, 1).
pub(super) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Whether the JIT compiles pointwise kernels (epilogues); until it does, the tests check the
/// accumulator only.
pub(super) fn epilogues_available() -> bool {
    let Ok(mut jit) = JitCompiler::new() else {
        return false;
    };
    let mut body = Body::default();
    let x = body.push(Inst::Anchor);
    let y = body.push(Inst::Unary(UnaryFn::Neg, x));
    body.stores.push(Store { value: y, arg: 0 });
    let ls = LoopSchedule::default_for(&[4], 1, true);
    jit.pointwise("probe", &[4], &body, &[DType::F32], Some(0), &ls)
        .is_ok()
}

/// The default-like schedule with the given knobs.
pub(super) fn schedule(
    path: GemmPath,
    tiles: [usize; 3],
    parallel: bool,
    out: &[usize],
) -> GemmSchedule {
    GemmSchedule {
        path,
        tile_m: tiles[0],
        tile_n: tiles[1],
        tile_k: tiles[2],
        parallel,
        mma: None,
        stage_shared: false,
        epilogue: LoopSchedule::default_for(out, 1, true),
    }
}

/// An epilogue that stores the accumulator to arg `acc`.
pub(super) fn plain_epilogue(acc: usize) -> Body {
    let mut body = Body::default();
    let x = body.push(Inst::Anchor);
    body.stores.push(Store { value: x, arg: acc });
    body
}

/// `relu(acc + bias)` with `bias` read through `bias_strides` over the output space.
pub(super) fn bias_relu(acc: usize, bias: usize, bias_strides: Vec<i64>) -> Body {
    let mut body = Body::default();
    let x = body.push(Inst::Anchor);
    let b = body.push(Inst::Load(Access {
        arg: bias,
        offset: 0,
        strides: bias_strides,
        indirect: None,
    }));
    let s = body.push(Inst::Binary(BinaryFn::Add, x, b));
    let z = body.push(Inst::Const {
        value: 0.0,
        ty: crate::kernel::Scalar::F32,
    });
    let r = body.push(Inst::Binary(BinaryFn::Max, s, z));
    body.stores.push(Store { value: r, arg: acc });
    body
}

/// Builds, links and runs a plan over f32 args on `threads` threads.
pub(super) fn run_plan(
    build: &dyn Fn(&mut JitCompiler) -> Result<GemmPlan, CodegenError>,
    args: &mut [Vec<f32>],
    threads: usize,
) -> Result<(), CodegenError> {
    let mut jit = JitCompiler::new()?;
    let mut plan = build(&mut jit)?;
    let code = jit.finish()?;
    plan.link(&code);
    // The path asked for is the path taken.
    assert_eq!(
        matches!(plan.micro, Some((_, Some(_)))),
        plan.path == GemmPath::Jit
    );
    let mut scratch = vec![0u64; plan.scratch_bytes().div_ceil(8) + 8];
    let base = scratch.as_mut_ptr() as usize;
    let aligned = (base.div_ceil(64) * 64) as *mut u8;
    let ptrs: Vec<*mut u8> = args.iter_mut().map(|a| a.as_mut_ptr() as *mut u8).collect();
    // SAFETY: the args hold the kernel's buffers; the scratch is large enough and aligned.
    unsafe { plan.run(&ptrs, aligned, &Pool::new(threads)) };
    Ok(())
}

/// Element `(i, j)` of item `bi` of `op`.
fn at(op: &GemmOperand, dims: &[usize], bi: usize, i: usize, j: usize) -> i64 {
    let mut rest = bi;
    let mut off = op.offset + op.row_stride * i as i64 + op.col_stride * j as i64;
    for d in (0..dims.len()).rev() {
        off += op.batch_strides[d] * (rest % dims[d]) as i64;
        rest /= dims[d];
    }
    off
}

/// The reference accumulator (f64) and the per-element Σ|terms|.
pub(super) fn reference(g: &GemmKernel, a: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let items: usize = g.batch.iter().product();
    let mut out = vec![0f64; items * g.m * g.n];
    let mut mag = vec![0f64; out.len()];
    for bi in 0..items {
        for i in 0..g.m {
            for j in 0..g.n {
                let (mut s, mut t) = (0f64, 0f64);
                for p in 0..g.k {
                    let x = a[at(&g.a, &g.batch, bi, i, p) as usize] as f64
                        * b[at(&g.b, &g.batch, bi, p, j) as usize] as f64;
                    s += x;
                    t += x.abs();
                }
                let o = (bi * g.m + i) * g.n + j;
                out[o] = g.alpha as f64 * s;
                mag[o] = g.alpha.abs() as f64 * t;
            }
        }
    }
    (out, mag)
}

pub(super) fn assert_close(got: &[f32], want: &[f64], mag: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(mag).enumerate() {
        let tol = 1e-4 * m + 1e-5;
        assert!(
            (g as f64 - w).abs() <= tol,
            "{what}: element {i}: got {g}, want {w} (tol {tol})"
        );
    }
}

/// A dense row-major operand of `batch ++ [rows, cols]`, or its transpose in memory.
fn operand(arg: usize, batch: &[usize], rows: usize, cols: usize, transposed: bool) -> GemmOperand {
    let item = (rows * cols) as i64;
    let mut bs = vec![0i64; batch.len()];
    let mut acc = item;
    for d in (0..batch.len()).rev() {
        bs[d] = acc;
        acc *= batch[d] as i64;
    }
    let (row_stride, col_stride) = if transposed {
        (1, rows as i64)
    } else {
        (cols as i64, 1)
    };
    GemmOperand {
        arg,
        offset: 0,
        batch_strides: bs,
        row_stride,
        col_stride,
    }
}

/// Runs `g` (args: a, b, out[, bias]) under `s` and checks it against the reference.
pub(super) fn check(
    g: &GemmKernel,
    s: &GemmSchedule,
    threads: usize,
    seed: u64,
    bias: Option<Vec<f32>>,
) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let span = |op: &GemmOperand, rows: usize, cols: usize| -> usize {
        let mut hi = op.offset
            + op.row_stride * (rows as i64 - 1).max(0)
            + op.col_stride * (cols as i64 - 1).max(0);
        for (d, &st) in op.batch_strides.iter().enumerate() {
            hi += st * (g.batch[d] as i64 - 1).max(0);
        }
        hi as usize + 1
    };
    let a = rng.vec(span(&g.a, g.m, g.k));
    let b = rng.vec(span(&g.b, g.k, g.n));
    let items: usize = g.batch.iter().product();
    let out = vec![f32::NAN; items * g.m * g.n];
    let (mut want, mag) = reference(g, &a, &b);
    let mut args = vec![a, b, out];
    let mut dtypes = vec![DType::F32; 3];
    if let Some(bias) = bias {
        for (o, w) in want.iter_mut().enumerate() {
            *w = (*w + bias[o % g.n] as f64).max(0.0);
        }
        args.push(bias);
        dtypes.push(DType::F32);
    }
    let what = format!(
        "{:?} {:?}x{}x{}x{} tiles {}x{}x{} threads {threads}",
        s.path, g.batch, g.m, g.n, g.k, s.tile_m, s.tile_n, s.tile_k
    );
    run_plan(
        &|jit| GemmPlan::gemm("t", g, s, &dtypes, jit),
        &mut args,
        threads,
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_close(&args[2], &want, &mag, &what);
    args.swap_remove(2)
}

pub(super) fn kernel(
    batch: &[usize],
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
) -> GemmKernel {
    GemmKernel {
        batch: batch.to_vec(),
        m,
        n,
        k,
        a: operand(0, batch, m, k, ta),
        b: operand(1, batch, k, n, tb),
        alpha: 1.0,
        epilogue: plain_epilogue(2),
    }
}

pub(super) fn out_shape(g: &GemmKernel) -> Vec<usize> {
    g.batch.iter().copied().chain([g.m, g.n]).collect()
}

#[test]
fn both_paths_match_reference_on_random_shapes() {
    let sizes = [1usize, 3, 17, 64, 100];
    let mut rng = Rng::new(7);
    for case in 0..40u64 {
        let (m, n, k) = (
            sizes[rng.below(5)],
            sizes[rng.below(5)],
            sizes[rng.below(5)],
        );
        let g = kernel(&[], m, n, k, false, false);
        let out = out_shape(&g);
        let lib = check(
            &g,
            &schedule(GemmPath::Library, [0, 8, 0], false, &out),
            1,
            case,
            None,
        );
        let jit = check(
            &g,
            &schedule(GemmPath::Jit, [4, 8, 0], false, &out),
            1,
            case,
            None,
        );
        for (x, y) in lib.iter().zip(&jit) {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                "{m}x{n}x{k}: paths differ: {x} vs {y}"
            );
        }
    }
}

#[test]
fn all_small_edge_shapes() {
    for m in [1usize, 3, 5] {
        for n in [1usize, 2, 3, 4, 5, 6, 8, 11, 13] {
            for k in [0usize, 1, 3, 9] {
                let g = kernel(&[], m, n, k, false, false);
                let out = out_shape(&g);
                check(
                    &g,
                    &schedule(GemmPath::Library, [0, 8, 0], false, &out),
                    1,
                    3,
                    None,
                );
                check(
                    &g,
                    &schedule(GemmPath::Jit, [4, 8, 0], false, &out),
                    1,
                    3,
                    None,
                );
            }
        }
    }
}

#[test]
fn transposed_operands_via_strides() {
    for (ta, tb) in [(true, false), (false, true), (true, true)] {
        for (m, n, k) in [(17, 3, 64), (64, 100, 17), (3, 1, 100)] {
            let g = kernel(&[], m, n, k, ta, tb);
            let out = out_shape(&g);
            check(
                &g,
                &schedule(GemmPath::Library, [0, 8, 0], false, &out),
                1,
                11,
                None,
            );
            check(
                &g,
                &schedule(GemmPath::Jit, [4, 8, 0], false, &out),
                1,
                11,
                None,
            );
        }
    }
}

#[test]
fn broadcast_batches_alpha_and_offsets() {
    let batch = [2usize, 3];
    let (m, n, k) = (17, 20, 9);
    let mut g = kernel(&batch, m, n, k, false, true);
    // a broadcast over the first batch dim, b over the second; offsets skip a few elements.
    g.a.batch_strides = vec![0, (m * k) as i64];
    g.a.offset = 5;
    g.b.batch_strides = vec![(k * n) as i64, 0];
    g.b.offset = 2;
    g.alpha = -0.75;
    let out = out_shape(&g);
    for path in [GemmPath::Library, GemmPath::Jit] {
        for threads in [1, 2] {
            check(
                &g,
                &schedule(path, [4, 8, 0], threads > 1, &out),
                threads,
                5,
                None,
            );
            check(
                &g,
                &schedule(path, [0, 12, 4], threads > 1, &out),
                threads,
                5,
                None,
            );
        }
    }
}

#[test]
fn tiles_and_threads_do_not_change_results() {
    let g = kernel(&[3], 37, 29, 41, false, false);
    let out = out_shape(&g);
    let first = check(
        &g,
        &schedule(GemmPath::Library, [0, 8, 0], false, &out),
        1,
        9,
        None,
    );
    for path in [GemmPath::Library, GemmPath::Jit] {
        for tiles in [
            [1, 4, 0],
            [4, 8, 0],
            [6, 8, 16],
            [8, 16, 7],
            [16, 3, 1],
            [5, 24, 40],
        ] {
            for threads in [1, 2, 3] {
                let got = check(
                    &g,
                    &schedule(path, tiles, threads > 1, &out),
                    threads,
                    9,
                    None,
                );
                for (x, y) in first.iter().zip(&got) {
                    assert!(
                        (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                        "{path:?} {tiles:?}: {x} vs {y}"
                    );
                }
            }
        }
    }
}

#[test]
fn epilogue_bias_relu_per_block() {
    if !epilogues_available() {
        eprintln!("the JIT has no pointwise kernels yet: epilogue tests skipped");
        return;
    }
    let mut rng = Rng::new(21);
    for (batch, m, n, k) in [
        (vec![], 128usize, 64usize, 32usize),
        (vec![2], 17, 3, 100),
        (vec![2, 2], 3, 17, 1),
    ] {
        let mut g = kernel(&batch, m, n, k, false, false);
        let mut st = vec![0i64; batch.len() + 2];
        st[batch.len() + 1] = 1;
        g.epilogue = bias_relu(2, 3, st);
        let out = out_shape(&g);
        for path in [GemmPath::Library, GemmPath::Jit] {
            for (tm, threads) in [(0, 1), (4, 1), (16, 2), (0, 2)] {
                let bias = rng.vec(n);
                check(
                    &g,
                    &schedule(path, [tm, 8, 0], threads > 1, &out),
                    threads,
                    13,
                    Some(bias),
                );
            }
        }
    }
}

#[test]
fn epilogue_that_cannot_be_sliced_runs_whole() {
    if !epilogues_available() {
        return;
    }
    // `Index` of the batch dim: out = acc + batch index.
    let mut g = kernel(&[3], 5, 6, 7, false, false);
    let mut body = Body::default();
    let x = body.push(Inst::Anchor);
    let i = body.push(Inst::Index(0));
    let f = body.push(Inst::Cast(i, crate::kernel::Scalar::F32));
    let y = body.push(Inst::Binary(BinaryFn::Add, x, f));
    body.stores.push(Store { value: y, arg: 2 });
    g.epilogue = body;
    let out = out_shape(&g);
    let mut rng = Rng::new(2);
    let a = rng.vec(3 * 5 * 7);
    let b = rng.vec(3 * 7 * 6);
    let (mut want, mag) = reference(&g, &a, &b);
    for (o, w) in want.iter_mut().enumerate() {
        *w += (o / 30) as f64;
    }
    for path in [GemmPath::Library, GemmPath::Jit] {
        let mut args = vec![a.clone(), b.clone(), vec![0.0; 90]];
        let s = schedule(path, [2, 4, 0], true, &out);
        run_plan(
            &|jit| GemmPlan::gemm("t", &g, &s, &[DType::F32; 3], jit),
            &mut args,
            2,
        )
        .unwrap();
        assert_close(&args[2], &want, &mag, "whole epilogue");
    }
}

#[test]
fn sliced_epilogue_sees_row_and_column_indices() {
    if !epilogues_available() {
        return;
    }
    // out = acc + 1000 · i + j over batch [2, 2]: `Index` of the row and column dims survives
    // slicing off the batch dims.
    let (m, n) = (7, 5);
    let mut g = kernel(&[2, 2], m, n, 3, false, true);
    let mut body = Body::default();
    let x = body.push(Inst::Anchor);
    let i = body.push(Inst::Index(2));
    let j = body.push(Inst::Index(3));
    let fi = body.push(Inst::Cast(i, crate::kernel::Scalar::F32));
    let fj = body.push(Inst::Cast(j, crate::kernel::Scalar::F32));
    let k = body.push(Inst::Const {
        value: 1000.0,
        ty: crate::kernel::Scalar::F32,
    });
    let t = body.push(Inst::Binary(BinaryFn::Mul, fi, k));
    let y = body.push(Inst::Binary(BinaryFn::Add, x, t));
    let y = body.push(Inst::Binary(BinaryFn::Add, y, fj));
    body.stores.push(Store { value: y, arg: 2 });
    g.epilogue = body;
    let out = out_shape(&g);
    let mut rng = Rng::new(4);
    let a = rng.vec(4 * m * 3);
    let b = rng.vec(4 * 3 * n);
    let (mut want, mut mag) = reference(&g, &a, &b);
    for (o, (w, t)) in want.iter_mut().zip(&mut mag).enumerate() {
        *w += (1000 * ((o / n) % m) + o % n) as f64;
        // The f32 sum with up to 6007 rounds at 1e-6 relative: widen the tolerance by that.
        *t += 0.01 * w.abs();
    }
    for path in [GemmPath::Library, GemmPath::Jit] {
        for (tm, threads) in [(0, 1), (2, 2)] {
            let mut args = vec![a.clone(), b.clone(), vec![0.0; 4 * m * n]];
            let s = schedule(path, [tm, 4, 0], threads > 1, &out);
            run_plan(
                &|jit| GemmPlan::gemm("t", &g, &s, &[DType::F32; 3], jit),
                &mut args,
                threads,
            )
            .unwrap();
            assert_close(&args[2], &want, &mag, "indexed epilogue");
        }
    }
}

#[test]
fn rejects_non_f32_and_aliasing() {
    let g = kernel(&[], 2, 2, 2, false, false);
    let s = schedule(GemmPath::Library, [0, 8, 0], false, &[2, 2]);
    let Ok(mut jit) = JitCompiler::new() else {
        return;
    };
    let bad = GemmPlan::gemm("t", &g, &s, &[DType::F16, DType::F32, DType::F32], &mut jit);
    assert!(matches!(bad, Err(CodegenError::Unsupported(_))));
    let mut alias = g.clone();
    alias.epilogue = plain_epilogue(0);
    let bad = GemmPlan::gemm("t", &alias, &s, &[DType::F32; 3], &mut jit);
    assert!(matches!(bad, Err(CodegenError::Unsupported(_))));
    let mut rank = g.clone();
    rank.a.batch_strides = vec![1];
    let bad = GemmPlan::gemm("t", &rank, &s, &[DType::F32; 3], &mut jit);
    assert!(matches!(bad, Err(CodegenError::Unsupported(_))));
}

#[test]
fn empty_dims_are_harmless() {
    for (batch, m, n, k) in [
        (vec![0usize], 3, 3, 3),
        (vec![], 0, 4, 4),
        (vec![], 4, 0, 4),
        (vec![], 4, 4, 0),
    ] {
        let g = kernel(&batch, m, n, k, false, false);
        let out = out_shape(&g);
        for path in [GemmPath::Library, GemmPath::Jit] {
            check(&g, &schedule(path, [4, 8, 0], false, &out), 1, 1, None);
        }
    }
}
