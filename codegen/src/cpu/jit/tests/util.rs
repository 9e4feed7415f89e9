//! Test helpers: kernels and schedules by hand, running a kernel through the JIT on tensors,
//! comparing with the reference evaluator under a stated tolerance.

use crate::cpu::jit::JitCompiler;
use crate::kernel::eval::eval_kernel;
use crate::kernel::{
    Access, Body, BufferId, Inst, InstId, Kernel, KernelKind, LoopBinding, LoopSchedule,
    PointwiseKernel, Scalar, Schedule, Store,
};
use ir::{DType, Tensor};

/// A deterministic pseudo-random stream (xorshift) for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [lo, hi).
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32(lo, hi)).collect()
    }
}

pub fn f32s(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v).unwrap()
}

pub fn random(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let n = shape.iter().product();
    f32s(shape, Rng::new(seed).vec(n, lo, hi))
}

/// A schedule in natural order, untiled, serial.
pub fn sched(rank: usize, vector_width: u32, unroll: u32) -> LoopSchedule {
    LoopSchedule {
        order: (0..rank).collect(),
        tiles: vec![0; rank],
        vector_width,
        unroll,
        bindings: vec![LoopBinding::Serial; rank],
        grain: 1,
    }
}

pub fn kernel(kind: KernelKind, nargs: usize, s: LoopSchedule) -> Kernel {
    Kernel {
        name: "test".into(),
        nodes: Vec::new(),
        args: (0..nargs as u32).map(BufferId).collect(),
        kind,
        schedule: Schedule::Loops(s),
        index_checks: Vec::new(),
    }
}

/// A pointwise kernel over `shape` with `nargs` args.
pub fn pointwise(shape: &[usize], body: Body, nargs: usize, s: LoopSchedule) -> Kernel {
    kernel(
        KernelKind::Pointwise(PointwiseKernel {
            shape: shape.to_vec(),
            body,
        }),
        nargs,
        s,
    )
}

/// Builds bodies tersely.
pub struct B(pub Body);

impl B {
    pub fn new() -> B {
        B(Body::default())
    }
    pub fn load(&mut self, arg: usize, offset: i64, strides: &[i64]) -> InstId {
        self.0.push(Inst::Load(Access {
            arg,
            offset,
            strides: strides.to_vec(),
            indirect: None,
        }))
    }
    pub fn dense(&mut self, arg: usize, shape: &[usize]) -> InstId {
        self.0.push(Inst::Load(Access::dense(arg, shape)))
    }
    pub fn f(&mut self, v: f64) -> InstId {
        self.0.push(Inst::Const {
            value: v,
            ty: Scalar::F32,
        })
    }
    pub fn c(&mut self, v: f64, ty: Scalar) -> InstId {
        self.0.push(Inst::Const { value: v, ty })
    }
    pub fn un(&mut self, f: crate::kernel::UnaryFn, x: InstId) -> InstId {
        self.0.push(Inst::Unary(f, x))
    }
    pub fn bin(&mut self, f: crate::kernel::BinaryFn, x: InstId, y: InstId) -> InstId {
        self.0.push(Inst::Binary(f, x, y))
    }
    pub fn push(&mut self, i: Inst) -> InstId {
        self.0.push(i)
    }
    pub fn store(&mut self, value: InstId, arg: usize) {
        self.0.stores.push(Store { value, arg });
    }
    pub fn done(self) -> Body {
        self.0
    }
}

/// The dims of `k`'s loops and the `Threads` dim's extent, if any.
fn threads_extent(k: &Kernel) -> Option<usize> {
    let Schedule::Loops(s) = &k.schedule else {
        return None;
    };
    let d = s.parallel_dim()?;
    let dims: Vec<usize> = match &k.kind {
        KernelKind::Pointwise(p) => p.shape.clone(),
        KernelKind::Row(r) => r.shape[..r.shape.len() - 1].to_vec(),
        KernelKind::Reduce(r) => r.kept_shape(),
        _ => return None,
    };
    dims.get(d).copied()
}

/// Compiles `k` (its own schedule) and runs it on `args` in place. A `Threads` loop is run in
/// `chunks` calls over consecutive sub-ranges (in reverse order, to catch dependence on it).
pub fn run_jit(k: &Kernel, args: &mut [Tensor], chunks: usize) {
    run_jit_wide(k, args, chunks, true)
}

/// [`run_jit`]; `wide` false keeps every kernel in generated code on wide hosts.
pub fn run_jit_wide(k: &Kernel, args: &mut [Tensor], chunks: usize, wide: bool) {
    let dtypes: Vec<DType> = args.iter().map(|t| t.dtype()).collect();
    let Schedule::Loops(s) = &k.schedule else {
        panic!("test kernels have loop schedules")
    };
    let mut jit = JitCompiler::new().unwrap();
    jit.set_wide(wide);
    let f = match &k.kind {
        KernelKind::Pointwise(p) => jit.pointwise(&k.name, &p.shape, &p.body, &dtypes, None, s),
        KernelKind::Row(r) => jit.row(&k.name, r, &dtypes, s),
        KernelKind::Reduce(r) => jit.reduce(&k.name, r, &dtypes, s),
        _ => panic!("not a JIT kernel"),
    }
    .unwrap();
    let code = jit.finish().unwrap();
    let mut parts: Vec<(DType, Vec<usize>, ir::Data)> =
        args.iter().map(|t| t.clone().into_parts()).collect();
    let ptrs: Vec<*mut u8> = parts.iter_mut().map(|p| p.2.as_mut_ptr()).collect();
    let ranges: Vec<(i64, i64)> = match threads_extent(k) {
        Some(n) => {
            let step = n.div_ceil(chunks.max(1)).max(1);
            let mut r: Vec<(i64, i64)> = (0..n)
                .step_by(step)
                .map(|a| (a as i64, (a + step).min(n) as i64))
                .collect();
            r.reverse();
            r
        }
        None => vec![(0, 0)],
    };
    for (b, e) in ranges {
        unsafe { code.get(f)(ptrs.as_ptr(), b, e) };
    }
    for (t, (dt, shape, data)) in args.iter_mut().zip(parts) {
        *t = Tensor::new(dt, shape, data).unwrap();
    }
}

/// Runs `k` through the JIT and through the reference evaluator on copies of `args`; checks
/// every arg agrees within `rel`·|want| + `abs` (NaN matches NaN, infinities match exactly).
/// Returns the JIT's tensors.
pub fn check(k: &Kernel, args: &[Tensor], rel: f64, abs: f64) -> Vec<Tensor> {
    check_wide(k, args, rel, abs, true)
}

/// [`check`], with softmax rows in the wide helpers or in generated code.
pub fn check_wide(k: &Kernel, args: &[Tensor], rel: f64, abs: f64, wide: bool) -> Vec<Tensor> {
    let mut want = args.to_vec();
    eval_kernel(k, &mut want).unwrap();
    let mut got = args.to_vec();
    run_jit_wide(k, &mut got, 3, wide);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_close(&format!("arg {i}"), g, w, rel, abs);
    }
    got
}

pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, rel: f64, abs: f64) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
    assert_eq!(g.len(), w.len(), "{what}: length");
    for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
        let ok = if b.is_nan() {
            a.is_nan()
        } else if b.is_infinite() {
            a == b
        } else {
            (a - b).abs() <= rel * b.abs() + abs
        };
        assert!(ok, "{what}[{i}]: got {a}, want {b}");
    }
}

/// Bitwise equality of two runs (NaN payloads aside).
pub fn assert_same(what: &str, got: &[Tensor], want: &[Tensor]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(&format!("{what} arg {i}"), g, w, 0.0, 0.0);
    }
}

/// Schedules over `dims` to try for invariance: orders, tiles, widths, unrolls, threads.
pub fn schedules(dims: &[usize]) -> Vec<LoopSchedule> {
    let rank = dims.len();
    let mut out = Vec::new();
    for (w, u) in [(1, 1), (4, 1), (4, 2), (4, 4), (1, 4), (1, 2)] {
        out.push(sched(rank, w, u));
    }
    if rank >= 2 {
        let mut s = sched(rank, 4, 2);
        s.order.reverse();
        out.push(s);
        let mut s = sched(rank, 4, 1);
        s.order.rotate_left(1);
        out.push(s);
        let mut s = sched(rank, 4, 2);
        s.tiles = dims.iter().map(|&n| n.div_ceil(2).max(1)).collect();
        out.push(s);
        let mut s = sched(rank, 1, 1);
        s.tiles = vec![3; rank];
        s.order.reverse();
        out.push(s);
    }
    if rank >= 1 {
        let mut s = sched(rank, 4, 2);
        s.bindings[0] = LoopBinding::Threads;
        s.tiles[0] = 2; // tiles each call's range
        out.push(s);
        // Tiles of 3 on every dim, the Threads one included: call ranges (see `run_jit`'s
        // chunks) that are no multiple of the tile must still be covered exactly.
        let mut s = sched(rank, 4, 1);
        s.bindings[0] = LoopBinding::Threads;
        s.tiles = vec![3; rank];
        out.push(s);
        let mut s = sched(rank, 4, 1);
        s.bindings[rank - 1] = LoopBinding::Threads;
        out.push(s);
    }
    out
}
