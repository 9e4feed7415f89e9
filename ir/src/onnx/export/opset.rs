//! The default-domain opset a node needs for the dtypes it reads and writes: ONNX added types
//! to many ops after opset 21 (bfloat16 to most float ops in 22, float4e2m1 in 23, float8e8m0
//! in 24, int2/uint2 in 25, and a few op-specific additions up to 28).

use super::cx::BASE_OPSET;
use crate::dtype::DType;

/// The first opset in which `op_type` accepts `d` (at least [`BASE_OPSET`]).
pub(super) fn for_dtype(op_type: &str, d: DType) -> i64 {
    generic(d).max(specific(op_type, d))
}

fn generic(d: DType) -> i64 {
    match d {
        DType::BF16 => 22,
        DType::F4E2M1 => 23,
        DType::F8E8M0 => 24,
        DType::I2 | DType::U2 => 25,
        DType::F32
        | DType::F64
        | DType::F16
        | DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::I4
        | DType::U4
        | DType::I8
        | DType::U8
        | DType::I16
        | DType::U16
        | DType::I32
        | DType::U32
        | DType::I64
        | DType::U64
        | DType::Bool => BASE_OPSET,
    }
}

/// Type additions of single ops (from the onnx 1.23 schemas).
fn specific(op_type: &str, d: DType) -> i64 {
    use DType::*;
    match (op_type, d) {
        ("BitShift", I8 | I16 | I32 | I64) => 28,
        ("Celu", BF16 | F16 | F64) => 28,
        ("Compress" | "Einsum" | "OneHot" | "ReverseSequence" | "Unique", BF16) => 28,
        ("Dropout", F8E4M3FN | F8E4M3FNUZ | F8E5M2 | F8E5M2FNUZ) => 22,
        ("Range", BF16 | F16) => 27,
        ("TopK", BF16) => 24,
        _ => BASE_OPSET,
    }
}
