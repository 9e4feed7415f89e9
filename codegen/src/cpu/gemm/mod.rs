//! Contractions and convolutions on the CPU: packed microkernels of the `gemm` crate or a
//! generated register-tiled loop nest, with the fused epilogue run on each block of output
//! while it is in cache.

use crate::cpu::jit::{JitCode, JitCompiler};
use crate::error::CodegenError;
use crate::kernel::{ConvKernel, GemmKernel, GemmSchedule};
use crate::runtime::pool::Pool;
use ir::DType;

/// A contraction or convolution ready to run.
pub struct GemmPlan {}

impl GemmPlan {
    /// Prepares a contraction; compiles its epilogue (and its `Jit`-path loop nest) into `jit`.
    pub fn gemm(
        _name: &str,
        _kernel: &GemmKernel,
        _schedule: &GemmSchedule,
        _arg_dtypes: &[DType],
        _jit: &mut JitCompiler,
    ) -> Result<GemmPlan, CodegenError> {
        Err(CodegenError::Unsupported("gemm".into()))
    }

    /// Prepares a convolution (im2col into scratch, then a contraction per group).
    pub fn conv(
        _name: &str,
        _kernel: &ConvKernel,
        _schedule: &GemmSchedule,
        _arg_dtypes: &[DType],
        _jit: &mut JitCompiler,
    ) -> Result<GemmPlan, CodegenError> {
        Err(CodegenError::Unsupported("conv".into()))
    }

    /// Resolves the generated functions once the module is finalized.
    pub fn link(&mut self, _code: &JitCode) {}

    /// Bytes of scratch memory a run needs (im2col columns, packing).
    pub fn scratch_bytes(&self) -> usize {
        0
    }

    /// Runs it.
    ///
    /// # Safety
    /// `args[i]` must point to the kernel's arg `i` with its declared size; `scratch` to
    /// `scratch_bytes()` writable bytes aligned to 64.
    pub unsafe fn run(&self, _args: &[*mut u8], _scratch: *mut u8, _pool: &Pool) {}
}
