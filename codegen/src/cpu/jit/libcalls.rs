//! Rust helpers that generated code calls for what has no inline lowering: sin, cos, pow (the
//! f32 functions of `std`, as the reference evaluator computes them), the f16 conversions, and
//! the wide row statistics of [`crate::cpu::jit::wide`].

use crate::cpu::jit::wide;
use cranelift_codegen::ir::{
    AbiParam, ExtFuncData, ExternalName, FuncRef, InstBuilder, Signature, UserExternalName, Value,
    types,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};

/// An imported helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LibFn {
    Sin,
    Cos,
    Pow,
    /// f16 bits (low 16 bits of an i32) to f32.
    F16ToF32,
    /// f32 to f16 bits (round to nearest even), in an i32.
    F32ToF16,
    /// `vzeroupper` (AVX hosts only): Cranelift mixes legacy-SSE and VEX encodings, which on
    /// Intel cores run with false dependencies while the upper vector halves are dirty (as
    /// AVX-512 library code leaves them); kernels clear them on entry.
    ZeroUpper,
    /// `(row: ptr, n: i64) -> f32`: the row's max.
    RowMax,
    /// `(src: ptr, dst: ptr or null, n: i64, shift: f32) -> f32`: Σ e^(src - shift), storing
    /// each term to `dst`.
    RowExpSum,
    /// `(f: i64, p: ptr, n: i64)`: `p[i] = f(p[i])` for a [`wide::WideFn`] code `f`.
    WideUnary,
}

const ALL: [LibFn; 9] = [
    LibFn::Sin,
    LibFn::Cos,
    LibFn::Pow,
    LibFn::F16ToF32,
    LibFn::F32ToF16,
    LibFn::ZeroUpper,
    LibFn::RowMax,
    LibFn::RowExpSum,
    LibFn::WideUnary,
];

extern "C" fn tf_sin(x: f32) -> f32 {
    x.sin()
}

extern "C" fn tf_cos(x: f32) -> f32 {
    x.cos()
}

extern "C" fn tf_pow(x: f32, y: f32) -> f32 {
    x.powf(y)
}

extern "C" fn tf_f16_to_f32(bits: u32) -> f32 {
    half::f16::from_bits(bits as u16).to_f32()
}

extern "C" fn tf_f32_to_f16(x: f32) -> u32 {
    half::f16::from_f32(x).to_bits() as u32
}

extern "C" fn tf_zero_upper() {
    // SAFETY: only called from code compiled for a host with AVX (see `Libs::zero_upper`);
    // `vzeroupper` touches only the upper halves of vector registers, which the C ABI does not
    // preserve across calls.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("vzeroupper", options(nomem, nostack, preserves_flags));
    }
}

impl LibFn {
    fn symbol(self) -> &'static str {
        match self {
            LibFn::Sin => "tenfold_sin",
            LibFn::Cos => "tenfold_cos",
            LibFn::Pow => "tenfold_pow",
            LibFn::F16ToF32 => "tenfold_f16_to_f32",
            LibFn::F32ToF16 => "tenfold_f32_to_f16",
            LibFn::ZeroUpper => "tenfold_zero_upper",
            LibFn::RowMax => "tenfold_row_max",
            LibFn::RowExpSum => "tenfold_row_exp_sum",
            LibFn::WideUnary => "tenfold_wide_unary",
        }
    }

    fn address(self) -> *const u8 {
        match self {
            LibFn::Sin => tf_sin as *const u8,
            LibFn::Cos => tf_cos as *const u8,
            LibFn::Pow => tf_pow as *const u8,
            LibFn::F16ToF32 => tf_f16_to_f32 as *const u8,
            LibFn::F32ToF16 => tf_f32_to_f16 as *const u8,
            LibFn::ZeroUpper => tf_zero_upper as *const u8,
            LibFn::RowMax => wide::tf_row_max as *const u8,
            LibFn::RowExpSum => wide::tf_row_exp_sum as *const u8,
            LibFn::WideUnary => wide::tf_wide_unary as *const u8,
        }
    }

    /// (params, returns) types.
    fn types(self) -> (&'static [types::Type], &'static [types::Type]) {
        match self {
            LibFn::Sin | LibFn::Cos => (&[types::F32], &[types::F32]),
            LibFn::Pow => (&[types::F32, types::F32], &[types::F32]),
            LibFn::F16ToF32 => (&[types::I32], &[types::F32]),
            LibFn::F32ToF16 => (&[types::F32], &[types::I32]),
            LibFn::ZeroUpper => (&[], &[]),
            LibFn::RowMax => (&[types::I64, types::I64], &[types::F32]),
            LibFn::RowExpSum => (
                &[types::I64, types::I64, types::I64, types::F32],
                &[types::F32],
            ),
            LibFn::WideUnary => (&[types::I64, types::I64, types::I64], &[]),
        }
    }

    fn slot(self) -> usize {
        ALL.iter().position(|&f| f == self).unwrap_or(0)
    }
}

/// Makes the helpers resolvable by name in the module being built.
pub(crate) fn register(builder: &mut JITBuilder) {
    for f in ALL {
        builder.symbol(f.symbol(), f.address());
    }
}

/// The helpers' ids in one module.
pub(crate) struct LibIds {
    ids: Vec<(FuncId, Signature)>,
}

impl LibIds {
    pub(crate) fn declare(module: &mut JITModule) -> Result<LibIds, String> {
        let mut ids = Vec::with_capacity(ALL.len());
        for f in ALL {
            let mut sig: Signature = module.make_signature();
            let (params, rets) = f.types();
            sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
            sig.returns.extend(rets.iter().map(|&t| AbiParam::new(t)));
            let id = module
                .declare_function(f.symbol(), Linkage::Import, &sig)
                .map_err(|e| e.to_string())?;
            ids.push((id, sig));
        }
        Ok(LibIds { ids })
    }
}

/// The helpers as seen from the function being built: references are declared in it on first
/// use (as `Module::declare_func_in_func` does, which needs the module mutably while the
/// function is being built).
pub struct Libs<'a> {
    ids: &'a LibIds,
    /// Whether the host has AVX (and so `vzeroupper`).
    avx: bool,
    refs: [Option<FuncRef>; ALL.len()],
}

impl<'a> Libs<'a> {
    pub(crate) fn new(ids: &'a LibIds, avx: bool) -> Libs<'a> {
        Libs {
            ids,
            avx,
            refs: [None; ALL.len()],
        }
    }

    /// Calls helper `f` on scalar `args`, giving its one result.
    pub(crate) fn call(&mut self, b: &mut FunctionBuilder, f: LibFn, args: &[Value]) -> Value {
        let r = self.func_ref(b, f);
        let call = b.ins().call(r, args);
        b.inst_results(call)[0]
    }

    /// Calls helper `f`, which returns nothing, on `args`.
    pub(crate) fn call_void(&mut self, b: &mut FunctionBuilder, f: LibFn, args: &[Value]) {
        let r = self.func_ref(b, f);
        b.ins().call(r, args);
    }

    /// Clears the upper halves of the vector registers, on hosts with AVX (a kernel's first
    /// instruction).
    pub(crate) fn zero_upper(&mut self, b: &mut FunctionBuilder) {
        if self.avx {
            let r = self.func_ref(b, LibFn::ZeroUpper);
            b.ins().call(r, &[]);
        }
    }

    fn func_ref(&mut self, b: &mut FunctionBuilder, f: LibFn) -> FuncRef {
        let slot = f.slot();
        match self.refs[slot] {
            Some(r) => r,
            None => {
                let (id, sig) = &self.ids.ids[slot];
                let signature = b.import_signature(sig.clone());
                let name = b.func.declare_imported_user_function(UserExternalName {
                    namespace: 0,
                    index: id.as_u32(),
                });
                let r = b.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature,
                    colocated: false,
                    patchable: false,
                });
                self.refs[slot] = Some(r);
                r
            }
        }
    }
}
