//! The executor: compiles a [`Program`]'s kernels for the CPU once, then runs them many times
//! over caller-owned inputs, per-run outputs and a reused arena of temps.
//!
//! Invariants: inputs and constants are never written; outputs are allocated once per run and
//! handed to the caller without a copy; a temp's bytes are those the [`MemoryPlan`] gave it.

use crate::cpu::JitFn;
use crate::cpu::gemm::GemmPlan;
use crate::cpu::jit::{JitCode, JitCompiler, KernelFn};
use crate::error::CodegenError;
use crate::kernel::{
    BufferKind, Kernel, KernelKind, LoopSchedule, Program, RowKernel, Schedule, storage_bytes,
};
use crate::runtime::copy::CopyPlan;
use crate::runtime::native;
use crate::runtime::plan::{ALIGN, MemoryPlan, plan};
use crate::runtime::pool::Pool;
use ir::{DType, Data, OpError, Tensor};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one kernel runs.
enum Step {
    Jit {
        f: KernelFn,
        resolved: Option<JitFn>,
        /// Extent and grain of the loop bound to threads.
        parallel: Option<(usize, usize)>,
    },
    Gemm(Box<GemmPlan>),
    /// A pointwise kernel that only moves elements, as copies of contiguous runs.
    Copy(CopyPlan),
    Interp,
}

/// A program compiled for the CPU.
pub struct CompiledProgram {
    program: Program,
    steps: Vec<Step>,
    plan: MemoryPlan,
    scratch_bytes: usize,
    /// Arenas of finished runs, reused by the next (more than one when runs overlap).
    arenas: Mutex<Vec<Vec<u8>>>,
    /// Owns the generated code the steps point into; dropped last.
    _code: JitCode,
}

// SAFETY: after `finish`, the JIT code is immutable machine code and the steps hold plain
// function pointers into it; nothing is mutated through shared references except the arena
// free list, which is behind a mutex.
unsafe impl Send for CompiledProgram {}
unsafe impl Sync for CompiledProgram {}

/// Base pointers handed to a kernel from several threads.
struct Args<'a>(&'a [*mut u8]);
// SAFETY: kernels split their parallel loop into disjoint ranges; the pointers are only
// dereferenced by generated code within those ranges.
unsafe impl Sync for Args<'_> {}

impl CompiledProgram {
    /// Compiles every kernel of `program`.
    pub fn compile(program: Program) -> Result<CompiledProgram, CodegenError> {
        let mut jit = JitCompiler::new()?;
        let mut steps = Vec::with_capacity(program.kernels.len());
        for k in &program.kernels {
            let dtypes: Vec<DType> = k.args.iter().map(|&b| program.buffer(b).dtype).collect();
            steps.push(compile_kernel(k, &dtypes, &mut jit)?);
        }
        let code = jit.finish()?;
        for s in &mut steps {
            match s {
                Step::Jit { f, resolved, .. } => *resolved = Some(code.get(*f)),
                Step::Gemm(g) => g.link(&code),
                Step::Copy(_) | Step::Interp => {}
            }
        }
        let scratch_bytes = steps
            .iter()
            .map(|s| match s {
                Step::Gemm(g) => g.scratch_bytes(),
                Step::Jit { .. } | Step::Copy(_) | Step::Interp => 0,
            })
            .max()
            .unwrap_or(0);
        let plan = plan(&program);
        Ok(CompiledProgram {
            program,
            steps,
            plan,
            scratch_bytes,
            arenas: Mutex::new(Vec::new()),
            _code: code,
        })
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn memory_plan(&self) -> &MemoryPlan {
        &self.plan
    }

    /// Bytes held during a run: inputs, outputs, the arena of temps and scratch.
    pub fn peak_bytes(&self) -> usize {
        let io: usize = self
            .program
            .buffers
            .iter()
            .filter(|b| matches!(b.kind, BufferKind::Input(_) | BufferKind::Output(_)))
            .map(|b| b.bytes())
            .sum();
        io + self.plan.arena_bytes + self.scratch_bytes
    }

    /// Runs on `inputs` (one per graph input, in order, already checked against the program's
    /// input buffers) and returns the outputs in order.
    pub fn run(&self, inputs: &[&Tensor], pool: &Pool) -> Result<Vec<Tensor>, CodegenError> {
        self.run_timed(inputs, pool, None)
    }

    /// [`CompiledProgram::run`], also storing each kernel's wall time in `times` (one entry per
    /// kernel of [`Program::kernels`], in order; the clock is read only when `times` is given).
    pub fn run_timed(
        &self,
        inputs: &[&Tensor],
        pool: &Pool,
        times: Option<&mut Vec<Duration>>,
    ) -> Result<Vec<Tensor>, CodegenError> {
        self.run_reusing(inputs, pool, Vec::new(), times)
    }

    /// [`CompiledProgram::run_timed`], writing output `i` into the storage of `reuse[i]` (a
    /// previous run's output) when it has the output's storage type and element count; other
    /// outputs are freshly allocated. Reusing storage spares a loop of runs the page faults of
    /// fresh large allocations; every kernel writes every element of the outputs it stores, so
    /// nothing of the old contents survives.
    pub fn run_reusing(
        &self,
        inputs: &[&Tensor],
        pool: &Pool,
        reuse: Vec<Tensor>,
        mut times: Option<&mut Vec<Duration>>,
    ) -> Result<Vec<Tensor>, CodegenError> {
        let p = &self.program;
        if let Some(t) = times.as_deref_mut() {
            t.clear();
        }
        if inputs.len() != p.inputs.len() {
            return Err(CodegenError::Input {
                name: String::new(),
                msg: format!("expected {} inputs, got {}", p.inputs.len(), inputs.len()),
            });
        }
        let mut arena = self.take_arena();
        let base = align_up(arena.as_mut_ptr());
        let mut reuse: Vec<Option<Data>> =
            reuse.into_iter().map(|t| Some(t.into_parts().2)).collect();
        let mut outputs: Vec<Option<Data>> = vec![None; p.outputs.len()];
        for (b, decl) in p.buffers.iter().enumerate() {
            if let BufferKind::Output(i) = decl.kind
                && i < outputs.len()
                && outputs[i].is_none()
                && p.outputs[i].index() == b
            {
                let (storage, n) = (decl.dtype.storage(), decl.numel());
                let old = reuse.get_mut(i).and_then(Option::take);
                outputs[i] = Some(match old {
                    Some(d) if d.storage() == storage && d.len() == n => d,
                    _ => Data::zeros(storage, n),
                });
            }
        }
        let mut ptrs: Vec<*mut u8> = Vec::with_capacity(p.buffers.len());
        for decl in &p.buffers {
            let ptr = match &decl.kind {
                BufferKind::Input(i) => inputs[*i].data().as_ptr() as *mut u8,
                BufferKind::Constant(t) => t.data().as_ptr() as *mut u8,
                BufferKind::Temp => match self.plan.offsets[ptrs.len()] {
                    // SAFETY: the plan keeps every offset + size within arena_bytes.
                    Some(off) => unsafe { base.add(off) },
                    None => std::ptr::null_mut(),
                },
                BufferKind::Output(i) => match outputs.get_mut(*i).and_then(|o| o.as_mut()) {
                    Some(d) => d.as_mut_ptr(),
                    None => std::ptr::null_mut(),
                },
            };
            ptrs.push(ptr);
        }
        // SAFETY: scratch follows the temps inside the arena.
        let scratch = unsafe { base.add(self.plan.arena_bytes) };
        let mut args: Vec<*mut u8> = Vec::new();
        for (k, step) in p.kernels.iter().zip(&self.steps) {
            args.clear();
            args.extend(k.args.iter().map(|b| ptrs[b.index()]));
            check_indices(p, k, &args)?;
            let started = times.is_some().then(Instant::now);
            match step {
                Step::Jit {
                    resolved: Some(f),
                    parallel,
                    ..
                } => {
                    let f = *f;
                    match *parallel {
                        Some((extent, grain)) => {
                            let shared = Args(&args);
                            pool.for_chunks(extent, grain, &|b, e| {
                                let a = &shared;
                                // SAFETY: the kernel was compiled for these args' shapes and
                                // dtypes; chunks are disjoint.
                                unsafe { f(a.0.as_ptr(), b as i64, e as i64) }
                            });
                        }
                        // SAFETY: as above, one call over the whole space.
                        None => unsafe { f(args.as_ptr(), 0, 0) },
                    }
                }
                Step::Jit { resolved: None, .. } => {
                    return Err(CodegenError::Jit {
                        kernel: k.name.clone(),
                        msg: "function was not linked".into(),
                    });
                }
                // SAFETY: args match the kernel; scratch has the plan's scratch_bytes.
                Step::Gemm(g) => unsafe { g.run(&args, scratch, pool) },
                // SAFETY: args match the kernel (the copy reads what its access names).
                Step::Copy(c) => unsafe { c.run(&args, pool) },
                Step::Interp => run_interp(p, k, &args, pool)?,
            }
            if let (Some(t), Some(started)) = (times.as_deref_mut(), started) {
                t.push(started.elapsed());
            }
        }
        let result = p
            .outputs
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                let decl = p.buffer(b);
                let data = match (&decl.kind, outputs.get_mut(i).and_then(Option::take)) {
                    (BufferKind::Output(j), Some(d)) if *j == i => d,
                    // An output that is an input, a constant or another output: copy it.
                    _ => copy_out(decl.dtype, decl.numel(), ptrs[b.index()]),
                };
                Tensor::new(decl.dtype, p.output_shape(i).to_vec(), data).map_err(|e| {
                    CodegenError::Run(ir::Error::Model(format!("output '{}': {e}", decl.name)))
                })
            })
            .collect();
        self.return_arena(arena);
        result
    }

    fn take_arena(&self) -> Vec<u8> {
        let want = self.plan.arena_bytes + self.scratch_bytes + ALIGN;
        let reused = self.arenas.lock().ok().and_then(|mut a| a.pop());
        match reused {
            Some(a) if a.len() >= want => a,
            Some(_) | None => vec![0u8; want],
        }
    }

    fn return_arena(&self, arena: Vec<u8>) {
        if let Ok(mut a) = self.arenas.lock() {
            a.push(arena);
        }
    }
}

fn align_up(p: *mut u8) -> *mut u8 {
    let mis = (p as usize) % ALIGN;
    if mis == 0 {
        p
    } else {
        // SAFETY: the arena has ALIGN spare bytes.
        unsafe { p.add(ALIGN - mis) }
    }
}

fn compile_kernel(
    k: &Kernel,
    dtypes: &[DType],
    jit: &mut JitCompiler,
) -> Result<Step, CodegenError> {
    let loops = |s: &Schedule| -> Result<LoopSchedule, CodegenError> {
        match s {
            Schedule::Loops(l) => Ok(l.clone()),
            Schedule::Gemm(_) | Schedule::None => Err(CodegenError::Jit {
                kernel: k.name.clone(),
                msg: "a loop kernel needs a loop schedule".into(),
            }),
        }
    };
    let gemm_schedule = |s: &Schedule| match s {
        Schedule::Gemm(g) => Ok(g.clone()),
        Schedule::Loops(_) | Schedule::None => Err(CodegenError::Jit {
            kernel: k.name.clone(),
            msg: "a contraction needs a gemm schedule".into(),
        }),
    };
    Ok(match &k.kind {
        KernelKind::Pointwise(pk) if let Some(c) = CopyPlan::new(pk, dtypes) => Step::Copy(c),
        KernelKind::Pointwise(pk) => {
            let s = loops(&k.schedule)?;
            let parallel = parallel_of(&s, &pk.shape);
            let f = jit.pointwise(&k.name, &pk.shape, &pk.body, dtypes, None, &s)?;
            Step::Jit {
                f,
                resolved: None,
                parallel,
            }
        }
        KernelKind::Row(r) => {
            let s = loops(&k.schedule)?;
            let parallel = parallel_of(&s, row_outer(r));
            let f = jit.row(&k.name, r, dtypes, &s)?;
            Step::Jit {
                f,
                resolved: None,
                parallel,
            }
        }
        KernelKind::Reduce(r) => {
            let s = loops(&k.schedule)?;
            let parallel = parallel_of(&s, &r.kept_shape());
            let f = jit.reduce(&k.name, r, dtypes, &s)?;
            Step::Jit {
                f,
                resolved: None,
                parallel,
            }
        }
        KernelKind::Gemm(g) => Step::Gemm(Box::new(GemmPlan::gemm(
            &k.name,
            g,
            &gemm_schedule(&k.schedule)?,
            dtypes,
            jit,
        )?)),
        KernelKind::Conv(c) => Step::Gemm(Box::new(GemmPlan::conv(
            &k.name,
            c,
            &gemm_schedule(&k.schedule)?,
            dtypes,
            jit,
        )?)),
        KernelKind::Interp(_) => Step::Interp,
    })
}

fn row_outer(r: &RowKernel) -> &[usize] {
    &r.shape[..r.shape.len().saturating_sub(1)]
}

fn parallel_of(s: &LoopSchedule, dims: &[usize]) -> Option<(usize, usize)> {
    let d = s.parallel_dim()?;
    let extent = *dims.get(d)?;
    (extent > 1).then_some((extent, s.grain.max(1)))
}

/// Verifies the index buffers of a kernel before generated code dereferences them.
fn check_indices(p: &Program, k: &Kernel, args: &[*mut u8]) -> Result<(), CodegenError> {
    for c in &k.index_checks {
        let decl = p.buffer(k.args[c.arg]);
        let n = decl.numel();
        let ptr = args[c.arg];
        let bad = match decl.dtype {
            // SAFETY: the buffer holds `n` elements of its dtype.
            DType::I64 => unsafe { std::slice::from_raw_parts(ptr as *const i64, n) }
                .iter()
                .find(|&&j| j < -c.extent || j >= c.extent)
                .copied(),
            DType::I32 => unsafe { std::slice::from_raw_parts(ptr as *const i32, n) }
                .iter()
                .find(|&&j| (j as i64) < -c.extent || (j as i64) >= c.extent)
                .map(|&j| j as i64),
            other => {
                return Err(CodegenError::Jit {
                    kernel: k.name.clone(),
                    msg: format!("index buffer of dtype {other}"),
                });
            }
        };
        if let Some(j) = bad {
            return Err(CodegenError::Run(ir::Error::node(
                &c.node,
                "Gather",
                OpError::new(format!(
                    "index {j} is out of range for an axis of size {}",
                    c.extent
                )),
            )));
        }
    }
    Ok(())
}

/// Runs an interpreted kernel: copies its inputs into tensors, evaluates, copies back.
fn run_interp(p: &Program, k: &Kernel, args: &[*mut u8], pool: &Pool) -> Result<(), CodegenError> {
    let KernelKind::Interp(ik) = &k.kind else {
        return Ok(());
    };
    // SAFETY: `args` are the kernel's buffers, sized by the plan.
    if unsafe { native::try_run(p, k, ik, args, pool) } {
        return Ok(());
    }
    let mut tensors: Vec<Option<Tensor>> = Vec::with_capacity(ik.inputs.len());
    for a in &ik.inputs {
        tensors.push(match a {
            Some(a) => {
                let decl = p.buffer(k.args[*a]);
                let data = copy_out(decl.dtype, decl.numel(), args[*a]);
                Some(
                    Tensor::new(decl.dtype, decl.shape.clone(), data)
                        .map_err(|e| node_error(k, &ik.op, e))?,
                )
            }
            None => None,
        });
    }
    let refs: Vec<Option<&Tensor>> = tensors.iter().map(|t| t.as_ref()).collect();
    let outs =
        ir::interp::eval(&ik.op, &refs, ik.outputs.len()).map_err(|e| node_error(k, &ik.op, e))?;
    for (o, t) in ik.outputs.iter().zip(outs) {
        let Some(a) = o else { continue };
        let decl = p.buffer(k.args[*a]);
        if t.shape() != decl.shape.as_slice() || t.dtype() != decl.dtype {
            return Err(node_error(
                k,
                &ik.op,
                OpError::new(format!(
                    "produced {}{:?}, the plan expected {}{:?}",
                    t.dtype(),
                    t.shape(),
                    decl.dtype,
                    decl.shape
                )),
            ));
        }
        let bytes = storage_bytes(decl.dtype, decl.numel());
        // SAFETY: the buffer has room for `bytes`; the tensor's storage holds exactly that many.
        unsafe { std::ptr::copy_nonoverlapping(t.data().as_ptr(), args[*a], bytes) };
    }
    Ok(())
}

fn node_error(k: &Kernel, op: &ir::Op, e: OpError) -> CodegenError {
    let node = k.nodes.first().cloned().unwrap_or_default();
    CodegenError::Run(ir::Error::node(&node, op.name(), e))
}

/// Copies `n` elements of `dtype` from `ptr` into fresh storage.
fn copy_out(dtype: DType, n: usize, ptr: *const u8) -> Data {
    let mut data = Data::zeros(dtype.storage(), n);
    let bytes = storage_bytes(dtype, n);
    if bytes > 0 && !ptr.is_null() {
        // SAFETY: `ptr` addresses a buffer of `n` elements of `dtype`.
        unsafe { std::ptr::copy_nonoverlapping(ptr, data.as_mut_ptr(), bytes) };
    }
    data
}
