//! Cranelift code generation for pointwise, row and reduction kernels.

use crate::cpu::JitFn;
use crate::error::CodegenError;
use crate::kernel::{Body, LoopSchedule, ReduceKernel, RowKernel};
use ir::DType;

/// A handle to a function compiled by a [`JitCompiler`], resolved by [`JitCode::get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelFn(pub u32);

/// Compiles kernels into one JIT module.
pub struct JitCompiler {}

/// The finalized code of a [`JitCompiler`]: owns the executable memory.
pub struct JitCode {}

impl JitCompiler {
    pub fn new() -> Result<JitCompiler, CodegenError> {
        Err(CodegenError::Unsupported("the JIT is not built yet".into()))
    }

    /// A pointwise kernel over `shape`. `arg_dtypes[i]` is the storage dtype of arg `i`.
    /// `anchor`, if set, names the arg whose dense load is the body's `Anchor` (a contraction's
    /// epilogue reads the accumulator from its output buffer, in place).
    pub fn pointwise(
        &mut self,
        _name: &str,
        _shape: &[usize],
        _body: &Body,
        _arg_dtypes: &[DType],
        _anchor: Option<usize>,
        _schedule: &LoopSchedule,
    ) -> Result<KernelFn, CodegenError> {
        Err(CodegenError::Unsupported("pointwise".into()))
    }

    pub fn row(
        &mut self,
        _name: &str,
        _kernel: &RowKernel,
        _arg_dtypes: &[DType],
        _schedule: &LoopSchedule,
    ) -> Result<KernelFn, CodegenError> {
        Err(CodegenError::Unsupported("row".into()))
    }

    pub fn reduce(
        &mut self,
        _name: &str,
        _kernel: &ReduceKernel,
        _arg_dtypes: &[DType],
        _schedule: &LoopSchedule,
    ) -> Result<KernelFn, CodegenError> {
        Err(CodegenError::Unsupported("reduce".into()))
    }

    /// Finalizes every function compiled so far.
    pub fn finish(self) -> Result<JitCode, CodegenError> {
        Ok(JitCode {})
    }
}

impl JitCode {
    pub fn get(&self, _f: KernelFn) -> JitFn {
        unimplemented!()
    }
}
