//! Bit-level reinterpretation: BitCast.

use super::req;
use crate::dtype::{DType, Storage};
use crate::error::OpError;
use crate::op_bail;
use crate::tensor::{Data, Tensor};
use half::{bf16, f16};

/// Each element's bit pattern, zero-extended (so a sub-byte or signed value keeps only its own
/// `bits()` low bits).
fn bit_codes(t: &Tensor) -> Vec<u64> {
    let mask = match t.dtype().bits() {
        64 => u64::MAX,
        b => (1u64 << b) - 1,
    };
    let raw: Vec<u64> = match t.data() {
        Data::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
        Data::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        Data::F16(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
        Data::BF16(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
        Data::I8(v) => v.iter().map(|&x| u64::from(x as u8)).collect(),
        Data::U8(v) => v.iter().map(|&x| u64::from(x)).collect(),
        Data::I16(v) => v.iter().map(|&x| u64::from(x as u16)).collect(),
        Data::U16(v) => v.iter().map(|&x| u64::from(x)).collect(),
        Data::I32(v) => v.iter().map(|&x| u64::from(x as u32)).collect(),
        Data::U32(v) => v.iter().map(|&x| u64::from(x)).collect(),
        Data::I64(v) => v.iter().map(|&x| x as u64).collect(),
        Data::U64(v) => v.clone(),
        Data::Bool(v) => v.iter().map(|&x| u64::from(x)).collect(),
    };
    raw.into_iter().map(|c| c & mask).collect()
}

/// Elements of `dtype` whose bit patterns are `codes`; signed types narrower than their storage
/// (I2, I4) are sign-extended so the stored value is the one the bits mean.
fn from_bit_codes(dtype: DType, codes: &[u64]) -> Data {
    let shift = 64 - dtype.bits() as u32;
    let signed = |c: u64| ((c << shift) as i64) >> shift;
    match dtype.storage() {
        Storage::F32 => Data::F32(codes.iter().map(|&c| f32::from_bits(c as u32)).collect()),
        Storage::F64 => Data::F64(codes.iter().map(|&c| f64::from_bits(c)).collect()),
        Storage::F16 => Data::F16(codes.iter().map(|&c| f16::from_bits(c as u16)).collect()),
        Storage::BF16 => Data::BF16(codes.iter().map(|&c| bf16::from_bits(c as u16)).collect()),
        Storage::I8 => Data::I8(codes.iter().map(|&c| signed(c) as i8).collect()),
        Storage::U8 => Data::U8(codes.iter().map(|&c| c as u8).collect()),
        Storage::I16 => Data::I16(codes.iter().map(|&c| c as u16 as i16).collect()),
        Storage::U16 => Data::U16(codes.iter().map(|&c| c as u16).collect()),
        Storage::I32 => Data::I32(codes.iter().map(|&c| c as u32 as i32).collect()),
        Storage::U32 => Data::U32(codes.iter().map(|&c| c as u32).collect()),
        Storage::I64 => Data::I64(codes.iter().map(|&c| c as i64).collect()),
        Storage::U64 => Data::U64(codes.to_vec()),
        Storage::Bool => Data::Bool(codes.iter().map(|&c| c != 0).collect()),
    }
}

/// inputs: x. Same shape, the bits of each element read as `to`.
pub fn bit_cast(to: DType, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    if x.dtype().bits() != to.bits() {
        op_bail!(
            "BitCast needs equal bit widths: {} has {} bits, {} has {}",
            x.dtype(),
            x.dtype().bits(),
            to,
            to.bits()
        );
    }
    let data = from_bit_codes(to, &bit_codes(x));
    Ok(vec![Tensor::new(to, x.shape().to_vec(), data)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_bits_round_trip_through_int() {
        let x = Tensor::from_f32(vec![2], vec![1.0, -2.5]).unwrap();
        let ints = bit_cast(DType::I32, &[Some(&x)]).unwrap();
        assert_eq!(
            ints[0].data(),
            &Data::I32(vec![1.0f32.to_bits() as i32, (-2.5f32).to_bits() as i32])
        );
        let back = bit_cast(DType::F32, &[Some(&ints[0])]).unwrap();
        assert_eq!(back[0], x);
    }

    #[test]
    fn width_mismatch_is_an_error() {
        let x = Tensor::from_f32(vec![1], vec![1.0]).unwrap();
        assert!(bit_cast(DType::I64, &[Some(&x)]).is_err());
    }

    #[test]
    fn sub_byte_signed_values_are_sign_extended() {
        let x = Tensor::new(DType::U4, vec![2], Data::U8(vec![0xF, 0x7])).unwrap();
        let y = bit_cast(DType::I4, &[Some(&x)]).unwrap();
        assert_eq!(y[0].data(), &Data::I8(vec![-1, 7]));
    }
}
