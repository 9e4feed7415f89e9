//! The CPU backend: Cranelift-generated loop nests ([`jit`]) and contractions and
//! convolutions on packed GEMM microkernels ([`gemm`]).

pub mod gemm;
pub mod jit;

/// The entry point of every generated kernel: `args[i]` is the base address of the kernel's
/// `i`-th arg; `[begin, end)` is the range of the loop bound to `Threads` (ignored when no loop
/// is), so the runtime can split that loop across threads.
pub type JitFn = unsafe extern "C" fn(args: *const *mut u8, begin: i64, end: i64);
