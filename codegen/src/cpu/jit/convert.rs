//! Storage ↔ compute conversions of loads and stores: f32, bf16 (bit shifts, round to nearest
//! even like `half::bf16::from_f32`), f16 (through the Rust helpers, scalar only), i32, i64 and
//! bool (one byte, 0 or 1).

use crate::cpu::jit::inst::{Cx, Lanes};
use crate::cpu::jit::libcalls::{LibFn, Libs};
use crate::error::CodegenError;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{Endianness, InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::FunctionBuilder;
use ir::DType;

/// Flags of every kernel access: in bounds by construction, possibly unaligned.
pub(crate) fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

fn unsupported(dtype: DType, lanes: Lanes) -> CodegenError {
    CodegenError::Unsupported(format!("{dtype} access with {} lanes", lanes.count()))
}

/// Loads `lanes` consecutive elements of `dtype` at `addr + off` as their compute type.
pub(crate) fn load(
    b: &mut FunctionBuilder,
    cx: Cx,
    libs: &mut Libs,
    dtype: DType,
    addr: Value,
    off: i32,
) -> Result<Value, CodegenError> {
    let fl = flags();
    Ok(match (dtype, cx.lanes) {
        (DType::F32, Lanes::One) => b.ins().load(types::F32, fl, addr, off),
        (DType::F32, Lanes::Four) => b.ins().load(types::F32X4, fl, addr, off),
        (DType::BF16, Lanes::One) => {
            let h = b.ins().uload16(types::I32, fl, addr, off);
            let w = b.ins().ishl_imm_u(h, 16);
            cx.bits_to_f(b, w)
        }
        (DType::BF16, Lanes::Four) => {
            let h = b.ins().uload16x4(fl, addr, off);
            let w = b.ins().ishl_imm_u(h, 16);
            cx.bits_to_f(b, w)
        }
        (DType::F16, Lanes::One) => {
            let h = b.ins().uload16(types::I32, fl, addr, off);
            libs.call(b, LibFn::F16ToF32, &[h])
        }
        (DType::I32, Lanes::One) => b.ins().load(types::I32, fl, addr, off),
        (DType::I64, Lanes::One) => b.ins().load(types::I64, fl, addr, off),
        (DType::Bool, Lanes::One) => {
            // Any nonzero byte is true; the value is normalized to 0/1.
            let v = b.ins().load(types::I8, fl, addr, off);
            b.ins().icmp_imm_s(IntCC::NotEqual, v, 0)
        }
        (other, lanes) => return Err(unsupported(other, lanes)),
    })
}

/// f32 bits to bf16 bits (in the low half of an i32 lane), rounding to nearest even; NaN stays
/// a quiet NaN.
fn f32_to_bf16_bits(b: &mut FunctionBuilder, cx: Cx, x: Value) -> Value {
    let bits = cx.f_to_bits(b, x);
    let lsb = b.ins().ushr_imm_u(bits, 16);
    let one = cx.iconst(b, 1);
    let lsb = b.ins().band(lsb, one);
    let bias = cx.iconst(b, 0x7FFF);
    let r = b.ins().iadd(bits, bias);
    let r = b.ins().iadd(r, lsb);
    let r = b.ins().ushr_imm_u(r, 16);
    let hi = b.ins().ushr_imm_u(bits, 16);
    let quiet = cx.iconst(b, 0x40);
    let nan = b.ins().bor(hi, quiet);
    let is_nan = b.ins().fcmp(FloatCC::Unordered, x, x);
    match cx.lanes {
        Lanes::One => b.ins().select(is_nan, nan, r),
        Lanes::Four => b.ins().bitselect(is_nan, nan, r),
    }
}

/// Stores `value` (compute type) as `lanes` consecutive elements of `dtype` at `addr + off`.
pub(crate) fn store(
    b: &mut FunctionBuilder,
    cx: Cx,
    libs: &mut Libs,
    dtype: DType,
    value: Value,
    addr: Value,
    off: i32,
) -> Result<(), CodegenError> {
    let fl = flags();
    match (dtype, cx.lanes) {
        (DType::F32, _) | (DType::I32 | DType::I64 | DType::Bool, Lanes::One) => {
            b.ins().store(fl, value, addr, off);
        }
        (DType::BF16, Lanes::One) => {
            let h = f32_to_bf16_bits(b, cx, value);
            b.ins().istore16(fl, h, addr, off);
        }
        (DType::BF16, Lanes::Four) => {
            let h = f32_to_bf16_bits(b, cx, value);
            // Every lane is in [0, 0xFFFF], so the saturating narrow is exact.
            let n = b.ins().unarrow(h, h);
            let little = MemFlagsData::new().with_endianness(Endianness::Little);
            let q = b.ins().bitcast(types::I64X2, little, n);
            let lo = b.ins().extractlane(q, 0);
            b.ins().store(fl, lo, addr, off);
        }
        (DType::F16, Lanes::One) => {
            let h = libs.call(b, LibFn::F32ToF16, &[value]);
            b.ins().istore16(fl, h, addr, off);
        }
        (other, lanes) => return Err(unsupported(other, lanes)),
    }
    Ok(())
}
