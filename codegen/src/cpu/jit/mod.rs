//! Cranelift code generation for pointwise, row and reduction kernels: the compiler that owns
//! the JIT module, defines functions with the [`JitFn`] signature and finalizes them.
//!
//! Every generated function has the signature `(args: ptr, begin: i64, end: i64)`; the kernel
//! kinds (`pointwise`, `row`, `reduce`) build their bodies from the kernel IR, and
//! [`JitCompiler::define_raw`] lets other generators (the GEMM microkernel) emit theirs.

mod analysis;
mod coalesce;
mod convert;
mod emit;
mod folds;
mod inst;
mod libcalls;
mod loops;
mod math;
mod pointwise;
mod reduce;
mod row;
mod staged;
#[cfg(test)]
mod tests;
mod wide;

use crate::cpu::JitFn;
use crate::error::CodegenError;
use crate::kernel::{Body, LoopSchedule, ReduceKernel, RowKernel};
use cranelift_codegen::Context;
use cranelift_codegen::ir::{AbiParam, Type, UserFuncName, Value, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};
use ir::DType;
use std::sync::Mutex;

pub(crate) use libcalls::Libs;
pub(crate) use wide::Width;

/// A handle to a function compiled by a [`JitCompiler`], resolved by [`JitCode::get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelFn(pub u32);

/// Compiles kernels into one JIT module.
pub struct JitCompiler {
    module: JITModule,
    ctx: Context,
    fctx: FunctionBuilderContext,
    /// The defined functions, indexed by [`KernelFn`].
    funcs: Vec<FuncId>,
    /// Imported Rust helpers (sin, pow, f16 conversions), declared once per module.
    libs: libcalls::LibIds,
    /// Whether the host has FMA (Mul+Add pairs and polynomials fuse).
    fma: bool,
    /// Whether the host has AVX (kernels clear the upper vector halves on entry).
    avx: bool,
    /// Whether generated code calls the wide helpers: softmax rows for their max and exp
    /// sum, pointwise kernels for exp, tanh, erf and sigmoid (hosts with AVX2 or AVX-512; see
    /// `wide.rs`).
    wide: bool,
}

/// The finalized code of a [`JitCompiler`]: owns the executable memory.
///
/// Invariant: the pointers [`JitCode::get`] returns stay valid while this value lives; it frees
/// the code when dropped. The module sits behind a mutex only so that `JitCode` is `Sync`:
/// nothing touches it after finalization except the drop.
pub struct JitCode {
    module: Mutex<Option<JITModule>>,
    ptrs: Vec<usize>,
}

/// The builder callback of the kernel kinds: [`RawBuild`] with the imported helpers.
type KindBuild<'a> =
    dyn FnMut(&mut FunctionBuilder, [Value; 3], Type, &mut Libs) -> Result<(), CodegenError> + 'a;

/// The builder callback of [`JitCompiler::define_raw`].
pub type RawBuild<'a> =
    dyn FnMut(&mut FunctionBuilder, [Value; 3], Type) -> Result<(), CodegenError> + 'a;

fn jit_err(kernel: &str, msg: impl std::fmt::Display) -> CodegenError {
    CodegenError::Jit {
        kernel: kernel.to_string(),
        msg: msg.to_string(),
    }
}

impl JitCompiler {
    /// A compiler for the host CPU (all its vector extensions, `opt_level=speed`).
    pub fn new() -> Result<JitCompiler, CodegenError> {
        let err = |m: String| jit_err("<module>", m);
        let mut flags = settings::builder();
        for (k, v) in [
            ("opt_level", "speed"),
            ("use_colocated_libcalls", "false"),
            ("is_pic", "false"),
            // Row buffers live on the stack: probe large frames page by page.
            ("enable_probestack", "true"),
            ("probestack_strategy", "inline"),
            // A code generation bug becomes a `CodegenError` (the runtime falls back to the
            // interpreter) rather than wrong code; it costs a few percent of compile time.
            ("enable_verifier", "true"),
        ] {
            flags.set(k, v).map_err(|e| err(format!("flag {k}: {e}")))?;
        }
        let isa = cranelift_native::builder()
            .map_err(|e| err(format!("host not supported: {e}")))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| err(e.to_string()))?;
        let flag = |name: &str| {
            isa.isa_flags()
                .iter()
                .any(|f| f.name == name && f.as_bool().unwrap_or(false))
        };
        let (fma, avx) = (flag("has_fma"), flag("has_avx"));
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        libcalls::register(&mut builder);
        let mut module = JITModule::new(builder);
        let libs = libcalls::LibIds::declare(&mut module).map_err(err)?;
        Ok(JitCompiler {
            ctx: module.make_context(),
            module,
            fctx: FunctionBuilderContext::new(),
            funcs: Vec::new(),
            libs,
            fma,
            avx,
            wide: wide::Width::host().is_wide(),
        })
    }

    /// Makes kernels use only generated 4-lane code (tests cover both paths on wide hosts).
    #[cfg(test)]
    pub(crate) fn set_wide(&mut self, on: bool) {
        self.wide = on && wide::Width::host().is_wide();
    }

    /// Defines a function with the [`JitFn`] signature (args: ptr, begin: i64, end: i64) whose
    /// body `build` emits; `build` gets the builder, the three params and the pointer type, and
    /// must end every block with a return or jump (it creates its own blocks after the entry
    /// block it is handed, which is already switched to). Blocks are sealed afterwards.
    pub fn define_raw(
        &mut self,
        name: &str,
        build: &mut RawBuild<'_>,
    ) -> Result<KernelFn, CodegenError> {
        self.define(name, &mut |b, params, ptr, _libs| build(b, params, ptr))
    }

    /// [`Self::define_raw`] with access to the imported helpers, for the kernel kinds.
    pub(crate) fn define(
        &mut self,
        name: &str,
        build: &mut KindBuild<'_>,
    ) -> Result<KernelFn, CodegenError> {
        let ptr = self.module.target_config().pointer_type();
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(types::I64));
        let index = self.funcs.len() as u32;
        // Kernel names repeat (two Add nodes fused alike); the index keeps symbols unique.
        let symbol = format!("{name}#{index}");
        let id = self
            .module
            .declare_function(&symbol, Linkage::Local, &sig)
            .map_err(|e| jit_err(name, e))?;
        self.module.clear_context(&mut self.ctx);
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        let built = {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let p = b.block_params(entry);
            let params = [p[0], p[1], p[2]];
            let mut libs = Libs::new(&self.libs, self.avx);
            let r = build(&mut b, params, ptr, &mut libs);
            if r.is_ok() {
                b.seal_all_blocks();
                b.finalize(self.module.target_config());
            }
            r
        };
        if let Err(e) = built {
            // An unfinished builder leaves its context dirty; start the next function afresh.
            self.fctx = FunctionBuilderContext::new();
            self.module.clear_context(&mut self.ctx);
            return Err(e);
        }
        // TENFOLD_JIT_DUMP=1 prints each function's CLIF and machine code, for inspection.
        let dump = std::env::var_os("TENFOLD_JIT_DUMP").is_some();
        if dump {
            eprintln!("; {symbol}\n{}", self.ctx.func.display());
            self.ctx.set_disasm(true);
        }
        if let Err(e) = self.module.define_function(id, &mut self.ctx) {
            let msg = match &e {
                cranelift_module::ModuleError::Compilation(c) => format!("{c:?}"),
                other => other.to_string(),
            };
            self.module.clear_context(&mut self.ctx);
            return Err(jit_err(name, msg));
        }
        if dump
            && let Some(code) = self.ctx.compiled_code()
            && let Some(vcode) = &code.vcode
        {
            eprintln!("{vcode}");
        }
        self.module.clear_context(&mut self.ctx);
        self.funcs.push(id);
        Ok(KernelFn(index))
    }

    /// A pointwise kernel over `shape`. `arg_dtypes[i]` is the storage dtype of arg `i`.
    /// `anchor`, if set, names the arg whose dense load is the body's `Anchor` (a contraction's
    /// epilogue reads the accumulator from its output buffer, in place).
    pub fn pointwise(
        &mut self,
        name: &str,
        shape: &[usize],
        body: &Body,
        arg_dtypes: &[DType],
        anchor: Option<usize>,
        schedule: &LoopSchedule,
    ) -> Result<KernelFn, CodegenError> {
        let plan = pointwise::plan(
            shape, body, arg_dtypes, anchor, schedule, self.fma, self.wide,
        )?;
        self.define(name, &mut |b, params, ptr, libs| {
            plan.emit(b, params, ptr, libs)
        })
    }

    /// A row kernel (softmax, log-softmax, layer and RMS normalization with fused pro- and
    /// epilogues); `schedule` covers the outer dims, its vector width and unroll the row.
    pub fn row(
        &mut self,
        name: &str,
        kernel: &RowKernel,
        arg_dtypes: &[DType],
        schedule: &LoopSchedule,
    ) -> Result<KernelFn, CodegenError> {
        let plan = row::plan(kernel, arg_dtypes, schedule, self.fma, self.wide)?;
        self.define(name, &mut |b, params, ptr, libs| {
            plan.emit(b, params, ptr, libs)
        })
    }

    /// A reduction; `schedule` covers the kept dims, its vector width and unroll the
    /// innermost reduced dim.
    pub fn reduce(
        &mut self,
        name: &str,
        kernel: &ReduceKernel,
        arg_dtypes: &[DType],
        schedule: &LoopSchedule,
    ) -> Result<KernelFn, CodegenError> {
        let plan = reduce::plan(kernel, arg_dtypes, schedule, self.fma)?;
        self.define(name, &mut |b, params, ptr, libs| {
            plan.emit(b, params, ptr, libs)
        })
    }

    /// Finalizes every function compiled so far.
    pub fn finish(self) -> Result<JitCode, CodegenError> {
        let JitCompiler {
            mut module, funcs, ..
        } = self;
        module
            .finalize_definitions()
            .map_err(|e| jit_err("<module>", e))?;
        let ptrs = funcs
            .iter()
            .map(|&id| module.get_finalized_function(id) as usize)
            .collect();
        Ok(JitCode {
            module: Mutex::new(Some(module)),
            ptrs,
        })
    }
}

impl JitCode {
    /// The entry point of a compiled function. Valid while `self` lives.
    ///
    /// Panics if `f` does not come from the compiler this code was finished from (a bug of
    /// the caller, not user input).
    pub fn get(&self, f: KernelFn) -> JitFn {
        let addr = self.ptrs[f.0 as usize];
        // SAFETY: `addr` is the finalized address of a function defined with the `JitFn`
        // signature (see `JitCompiler::define`), and the memory lives as long as `self`.
        unsafe { std::mem::transmute::<usize, JitFn>(addr) }
    }

    /// How many functions the code holds.
    pub fn len(&self) -> usize {
        self.ptrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ptrs.is_empty()
    }
}

impl Drop for JitCode {
    fn drop(&mut self) {
        let module = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(m) = module {
            // SAFETY: the function pointers handed out by `get` are documented to be valid
            // only while `self` lives.
            unsafe { m.free_memory() };
        }
    }
}
