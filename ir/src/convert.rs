//! Element conversion between dtypes: decoding storage to f64 / i128 and encoding back, with the
//! rounding and saturation rules of ONNX `Cast`.
//!
//! Floats go through f64 (exact for every float dtype we hold), integers through i128 (exact for
//! every integer dtype, including u64). Float to integer truncates toward zero and wraps to the
//! target width, as a C cast on the value's two's-complement image does; NaN becomes 0.

use crate::dtype::DType;
use crate::minifloat;
use crate::tensor::Data;
use half::{bf16, f16};

/// Every element as f64.
pub fn decode_f64(dtype: DType, data: &Data) -> Vec<f64> {
    match data {
        Data::F32(v) => v.iter().map(|&x| x as f64).collect(),
        Data::F64(v) => v.clone(),
        Data::F16(v) => v.iter().map(|x| x.to_f64()).collect(),
        Data::BF16(v) => v.iter().map(|x| x.to_f64()).collect(),
        Data::U8(v) => match minifloat::Format::of(dtype) {
            Some(f) => v.iter().map(|&c| f.decode(c)).collect(),
            None => v.iter().map(|&x| x as f64).collect(),
        },
        Data::I8(v) => v.iter().map(|&x| x as f64).collect(),
        Data::I16(v) => v.iter().map(|&x| x as f64).collect(),
        Data::U16(v) => v.iter().map(|&x| x as f64).collect(),
        Data::I32(v) => v.iter().map(|&x| x as f64).collect(),
        Data::U32(v) => v.iter().map(|&x| x as f64).collect(),
        Data::I64(v) => v.iter().map(|&x| x as f64).collect(),
        Data::U64(v) => v.iter().map(|&x| x as f64).collect(),
        Data::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
    }
}

/// Every element as i128; float elements truncate toward zero (NaN to 0, infinities saturate).
pub fn decode_i128(dtype: DType, data: &Data) -> Vec<i128> {
    if dtype.is_float() {
        return decode_f64(dtype, data)
            .into_iter()
            .map(|x| x.trunc() as i128)
            .collect();
    }
    match data {
        Data::I8(v) => v.iter().map(|&x| x as i128).collect(),
        Data::U8(v) => v.iter().map(|&x| x as i128).collect(),
        Data::I16(v) => v.iter().map(|&x| x as i128).collect(),
        Data::U16(v) => v.iter().map(|&x| x as i128).collect(),
        Data::I32(v) => v.iter().map(|&x| x as i128).collect(),
        Data::U32(v) => v.iter().map(|&x| x as i128).collect(),
        Data::I64(v) => v.iter().map(|&x| x as i128).collect(),
        Data::U64(v) => v.iter().map(|&x| x as i128).collect(),
        Data::Bool(v) => v.iter().map(|&x| x as i128).collect(),
        Data::F32(_) | Data::F64(_) | Data::F16(_) | Data::BF16(_) => {
            unreachable!("float storage is handled above")
        }
    }
}

/// Encodes f64 values as `dtype`. Floats round to nearest even; 8-bit and 4-bit floats saturate
/// out-of-range values to their largest finite value when `saturate` is set. Integers truncate
/// and wrap (see the module doc); bool is `x != 0`.
pub fn encode_f64(dtype: DType, v: &[f64], saturate: bool) -> Data {
    match dtype {
        DType::F32 => Data::F32(v.iter().map(|&x| x as f32).collect()),
        DType::F64 => Data::F64(v.to_vec()),
        DType::F16 => Data::F16(v.iter().map(|&x| f16::from_f64(x)).collect()),
        DType::BF16 => Data::BF16(v.iter().map(|&x| bf16::from_f64(x)).collect()),
        DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::F8E8M0
        | DType::F4E2M1 => {
            let f = minifloat::Format::of(dtype).expect("minifloat dtype has a format");
            Data::U8(v.iter().map(|&x| f.encode(x, saturate)).collect())
        }
        DType::Bool => Data::Bool(v.iter().map(|&x| x != 0.0).collect()),
        _ => {
            let ints: Vec<i128> = v.iter().map(|&x| float_to_int(x)).collect();
            encode_i128(dtype, &ints)
        }
    }
}

/// A float truncated toward zero as a C cast would, with NaN as 0 and infinities saturated.
fn float_to_int(x: f64) -> i128 {
    if x.is_nan() { 0 } else { x.trunc() as i128 }
}

/// Encodes i128 values as `dtype`, wrapping integers to the dtype's width.
pub fn encode_i128(dtype: DType, v: &[i128]) -> Data {
    match dtype {
        DType::I2 => Data::I8(v.iter().map(|&x| sign_extend(x, 2) as i8).collect()),
        DType::I4 => Data::I8(v.iter().map(|&x| sign_extend(x, 4) as i8).collect()),
        DType::U2 => Data::U8(v.iter().map(|&x| (x & 0x3) as u8).collect()),
        DType::U4 => Data::U8(v.iter().map(|&x| (x & 0xF) as u8).collect()),
        DType::I8 => Data::I8(v.iter().map(|&x| x as i8).collect()),
        DType::U8 => Data::U8(v.iter().map(|&x| x as u8).collect()),
        DType::I16 => Data::I16(v.iter().map(|&x| x as i16).collect()),
        DType::U16 => Data::U16(v.iter().map(|&x| x as u16).collect()),
        DType::I32 => Data::I32(v.iter().map(|&x| x as i32).collect()),
        DType::U32 => Data::U32(v.iter().map(|&x| x as u32).collect()),
        DType::I64 => Data::I64(v.iter().map(|&x| x as i64).collect()),
        DType::U64 => Data::U64(v.iter().map(|&x| x as u64).collect()),
        DType::Bool => Data::Bool(v.iter().map(|&x| x != 0).collect()),
        DType::F32
        | DType::F64
        | DType::F16
        | DType::BF16
        | DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::F8E8M0
        | DType::F4E2M1 => {
            let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
            encode_f64(dtype, &f, true)
        }
    }
}

/// Keeps the low `bits` bits of `x` as a two's-complement value.
fn sign_extend(x: i128, bits: u32) -> i128 {
    let shift = 128 - bits;
    (x << shift) >> shift
}

/// ONNX `Cast` from `from` to `to`.
pub fn cast(from: DType, data: &Data, to: DType, saturate: bool) -> Data {
    if from == to {
        return data.clone();
    }
    if !from.is_float() && !to.is_float() {
        return encode_i128(to, &decode_i128(from, data));
    }
    if !from.is_float() {
        // Integers above 2^53 lose bits through f64; f32 targets round once from the i128.
        if to == DType::F32 {
            return Data::F32(decode_i128(from, data).iter().map(|&x| x as f32).collect());
        }
        let f: Vec<f64> = decode_i128(from, data).iter().map(|&x| x as f64).collect();
        return encode_f64(to, &f, saturate);
    }
    // Every float dtype decodes to f64 exactly, so each target rounds once from the source
    // value, as numpy and ml_dtypes do (E8M0 alone goes through f32, see `minifloat`).
    encode_f64(to, &decode_f64(from, data), saturate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_int_truncates_and_wraps() {
        let d = encode_f64(DType::I8, &[1.9, -1.9, 300.0, f64::NAN], true);
        assert_eq!(d, Data::I8(vec![1, -1, 44, 0]));
    }

    #[test]
    fn int4_wraps_with_sign() {
        assert_eq!(
            encode_i128(DType::I4, &[7, 8, -9]),
            Data::I8(vec![7, -8, 7])
        );
    }
}
