//! `TensorProto` <-> [`Tensor`]: raw little-endian data, the typed repeated fields, packed
//! 4-bit and 2-bit types, and external data files.

use super::proto::{TensorProto, tensor_proto};
use crate::dtype::DType;
use crate::error::Error;
use crate::tensor::{Data, Tensor, checked_numel};
use half::{bf16, f16};
use std::path::Path;

/// The dtype of an ONNX `TensorProto.DataType` code.
pub fn dtype_from_onnx(code: i32) -> Option<DType> {
    use tensor_proto::DataType as T;
    Some(match T::try_from(code).ok()? {
        T::Float => DType::F32,
        T::Double => DType::F64,
        T::Float16 => DType::F16,
        T::Bfloat16 => DType::BF16,
        T::Float8e4m3fn => DType::F8E4M3FN,
        T::Float8e4m3fnuz => DType::F8E4M3FNUZ,
        T::Float8e5m2 => DType::F8E5M2,
        T::Float8e5m2fnuz => DType::F8E5M2FNUZ,
        T::Float8e8m0 => DType::F8E8M0,
        T::Float4e2m1 => DType::F4E2M1,
        T::Int2 => DType::I2,
        T::Uint2 => DType::U2,
        T::Int4 => DType::I4,
        T::Uint4 => DType::U4,
        T::Int8 => DType::I8,
        T::Uint8 => DType::U8,
        T::Int16 => DType::I16,
        T::Uint16 => DType::U16,
        T::Int32 => DType::I32,
        T::Uint32 => DType::U32,
        T::Int64 => DType::I64,
        T::Uint64 => DType::U64,
        T::Bool => DType::Bool,
        T::Undefined | T::String | T::Complex64 | T::Complex128 | T::Float6e2m3 | T::Float6e3m2 => {
            return None;
        }
    })
}

/// The ONNX `TensorProto.DataType` code of a dtype.
pub fn dtype_to_onnx(d: DType) -> i32 {
    use tensor_proto::DataType as T;
    (match d {
        DType::F32 => T::Float,
        DType::F64 => T::Double,
        DType::F16 => T::Float16,
        DType::BF16 => T::Bfloat16,
        DType::F8E4M3FN => T::Float8e4m3fn,
        DType::F8E4M3FNUZ => T::Float8e4m3fnuz,
        DType::F8E5M2 => T::Float8e5m2,
        DType::F8E5M2FNUZ => T::Float8e5m2fnuz,
        DType::F8E8M0 => T::Float8e8m0,
        DType::F4E2M1 => T::Float4e2m1,
        DType::I2 => T::Int2,
        DType::U2 => T::Uint2,
        DType::I4 => T::Int4,
        DType::U4 => T::Uint4,
        DType::I8 => T::Int8,
        DType::U8 => T::Uint8,
        DType::I16 => T::Int16,
        DType::U16 => T::Uint16,
        DType::I32 => T::Int32,
        DType::U32 => T::Uint32,
        DType::I64 => T::Int64,
        DType::U64 => T::Uint64,
        DType::Bool => T::Bool,
    }) as i32
}

/// A readable name for an ONNX dtype code, for messages about types tenfold does not hold.
pub fn onnx_type_name(code: i32) -> String {
    tensor_proto::DataType::try_from(code)
        .map(|t| t.as_str_name().to_string())
        .unwrap_or_else(|_| format!("type code {code}"))
}

/// Decodes a `TensorProto`. `base_dir` resolves external data locations; `None` rejects them.
pub fn tensor_from_proto(p: &TensorProto, base_dir: Option<&Path>) -> Result<Tensor, Error> {
    let name = if p.name.is_empty() {
        "<unnamed>".to_string()
    } else {
        p.name.clone()
    };
    let err = |msg: String| Error::Tensor {
        name: name.clone(),
        msg,
    };
    let dtype = dtype_from_onnx(p.data_type).ok_or_else(|| {
        err(format!(
            "element type {} is not supported",
            onnx_type_name(p.data_type)
        ))
    })?;
    let mut shape = Vec::with_capacity(p.dims.len());
    for &d in &p.dims {
        if d < 0 {
            return Err(err(format!("negative dim {d} in {:?}", p.dims)));
        }
        shape.push(d as usize);
    }
    let n = checked_numel(&shape).map_err(|e| err(e.0))?;
    let external;
    let raw: Option<&[u8]> = if p.data_location == tensor_proto::DataLocation::External as i32 {
        external = read_external(p, base_dir).map_err(err)?;
        Some(&external)
    } else if !p.raw_data.is_empty() || typed_len(p) == 0 && n > 0 {
        Some(&p.raw_data)
    } else {
        None
    };
    let data = match raw {
        Some(bytes) => from_raw(dtype, bytes, n).map_err(err)?,
        None => from_typed(dtype, p, n).map_err(err)?,
    };
    Tensor::new(dtype, shape, data).map_err(|e| err(e.0))
}

fn typed_len(p: &TensorProto) -> usize {
    p.float_data.len()
        + p.int32_data.len()
        + p.int64_data.len()
        + p.double_data.len()
        + p.uint64_data.len()
        + p.string_data.len()
}

fn read_external(p: &TensorProto, base_dir: Option<&Path>) -> Result<Vec<u8>, String> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &p.external_data {
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => {
                offset = kv
                    .value
                    .parse()
                    .map_err(|_| format!("bad offset '{}'", kv.value))?
            }
            "length" => {
                length = Some(
                    kv.value
                        .parse::<u64>()
                        .map_err(|_| format!("bad length '{}'", kv.value))?,
                )
            }
            _ => {}
        }
    }
    let location = location.ok_or("external data has no location")?;
    let rel = Path::new(&location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "external data location '{location}' must stay inside the model's folder"
        ));
    }
    let base = base_dir.ok_or("external data needs the model's folder, which is unknown here")?;
    let path = base.join(rel);
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("cannot read external data {}: {e}", path.display()))?;
    let start = offset as usize;
    let end = match length {
        Some(l) => start
            .checked_add(l as usize)
            .ok_or("external data length overflows")?,
        None => bytes.len(),
    };
    if start > bytes.len() || end > bytes.len() {
        return Err(format!(
            "external data {} holds {} bytes, offset {start} length {} reaches past it",
            path.display(),
            bytes.len(),
            end - start
        ));
    }
    Ok(bytes[start..end].to_vec())
}

fn need(bytes: &[u8], want: usize, dtype: DType, n: usize) -> Result<(), String> {
    if bytes.len() != want {
        return Err(format!(
            "raw data holds {} bytes, {n} elements of {dtype} need {want}",
            bytes.len()
        ));
    }
    Ok(())
}

fn from_raw(dtype: DType, b: &[u8], n: usize) -> Result<Data, String> {
    need(b, dtype.bytes_for(n), dtype, n)?;
    macro_rules! le {
        ($t:ty, $w:expr) => {
            b.chunks_exact($w)
                .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
    }
    Ok(match dtype {
        DType::F32 => Data::F32(le!(f32, 4)),
        DType::F64 => Data::F64(le!(f64, 8)),
        DType::F16 => Data::F16(
            b.chunks_exact(2)
                .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        DType::BF16 => Data::BF16(
            b.chunks_exact(2)
                .map(|c| bf16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        DType::I8 => Data::I8(b.iter().map(|&x| x as i8).collect()),
        DType::U8
        | DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::F8E8M0 => Data::U8(b.to_vec()),
        DType::I16 => Data::I16(le!(i16, 2)),
        DType::U16 => Data::U16(le!(u16, 2)),
        DType::I32 => Data::I32(le!(i32, 4)),
        DType::U32 => Data::U32(le!(u32, 4)),
        DType::I64 => Data::I64(le!(i64, 8)),
        DType::U64 => Data::U64(le!(u64, 8)),
        DType::Bool => Data::Bool(b.iter().map(|&x| x != 0).collect()),
        DType::I4 | DType::U4 | DType::F4E2M1 | DType::I2 | DType::U2 => unpack(dtype, b, n),
    })
}

/// Unpacks sub-byte elements, low bits first, into one element per byte.
fn unpack(dtype: DType, bytes: &[u8], n: usize) -> Data {
    let bits = dtype.bits();
    let per_byte = 8 / bits;
    let mask = (1u8 << bits) - 1;
    let codes = (0..n).map(|i| (bytes[i / per_byte] >> ((i % per_byte) * bits)) & mask);
    if dtype.is_signed_int() {
        let shift = 8 - bits as u32;
        Data::I8(codes.map(|c| ((c << shift) as i8) >> shift).collect())
    } else {
        Data::U8(codes.collect())
    }
}

/// Packs one-element-per-byte sub-byte data, low bits first.
fn pack(dtype: DType, data: &Data) -> Vec<u8> {
    let bits = dtype.bits();
    let per_byte = 8 / bits;
    let mask = (1u8 << bits) - 1;
    let codes: Vec<u8> = match data {
        Data::I8(v) => v.iter().map(|&x| x as u8 & mask).collect(),
        Data::U8(v) => v.iter().map(|&x| x & mask).collect(),
        _ => unreachable!("sub-byte dtypes are stored as I8 or U8"),
    };
    let mut out = vec![0u8; dtype.bytes_for(codes.len())];
    for (i, c) in codes.into_iter().enumerate() {
        out[i / per_byte] |= c << ((i % per_byte) * bits);
    }
    out
}

fn count(got: usize, n: usize, field: &str) -> Result<(), String> {
    if got != n {
        return Err(format!("{field} holds {got} values, the dims need {n}"));
    }
    Ok(())
}

fn from_typed(dtype: DType, p: &TensorProto, n: usize) -> Result<Data, String> {
    let i32s = |n_expected: usize| -> Result<&[i32], String> {
        count(p.int32_data.len(), n_expected, "int32_data")?;
        Ok(&p.int32_data)
    };
    Ok(match dtype {
        DType::F32 => {
            count(p.float_data.len(), n, "float_data")?;
            Data::F32(p.float_data.clone())
        }
        DType::F64 => {
            count(p.double_data.len(), n, "double_data")?;
            Data::F64(p.double_data.clone())
        }
        DType::I64 => {
            count(p.int64_data.len(), n, "int64_data")?;
            Data::I64(p.int64_data.clone())
        }
        DType::U32 => {
            count(p.uint64_data.len(), n, "uint64_data")?;
            Data::U32(p.uint64_data.iter().map(|&x| x as u32).collect())
        }
        DType::U64 => {
            count(p.uint64_data.len(), n, "uint64_data")?;
            Data::U64(p.uint64_data.clone())
        }
        DType::I32 => Data::I32(i32s(n)?.to_vec()),
        DType::I16 => Data::I16(i32s(n)?.iter().map(|&x| x as i16).collect()),
        DType::U16 => Data::U16(i32s(n)?.iter().map(|&x| x as u16).collect()),
        DType::I8 => Data::I8(i32s(n)?.iter().map(|&x| x as i8).collect()),
        DType::U8
        | DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::F8E8M0 => Data::U8(i32s(n)?.iter().map(|&x| x as u8).collect()),
        DType::Bool => Data::Bool(i32s(n)?.iter().map(|&x| x != 0).collect()),
        DType::F16 => Data::F16(i32s(n)?.iter().map(|&x| f16::from_bits(x as u16)).collect()),
        DType::BF16 => Data::BF16(
            i32s(n)?
                .iter()
                .map(|&x| bf16::from_bits(x as u16))
                .collect(),
        ),
        DType::I4 | DType::U4 | DType::F4E2M1 | DType::I2 | DType::U2 => {
            let bytes: Vec<u8> = i32s(dtype.bytes_for(n))?.iter().map(|&x| x as u8).collect();
            unpack(dtype, &bytes, n)
        }
    })
}

/// Encodes a tensor as a `TensorProto` with raw little-endian data.
pub fn tensor_to_proto(name: &str, t: &Tensor) -> TensorProto {
    let raw = if t.dtype().bits() < 8 {
        pack(t.dtype(), t.data())
    } else {
        t.data().to_le_bytes()
    };
    TensorProto {
        name: name.to_string(),
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        data_type: dtype_to_onnx(t.dtype()),
        raw_data: raw,
        ..TensorProto::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int4_packs_and_unpacks() {
        let t = Tensor::new(DType::I4, vec![3], Data::I8(vec![-8, 7, -1])).unwrap();
        let p = tensor_to_proto("x", &t);
        assert_eq!(p.raw_data.len(), 2);
        assert_eq!(tensor_from_proto(&p, None).unwrap(), t);
    }

    fn external(location: &str, offset: usize, length: usize) -> TensorProto {
        let kv = |k: &str, v: String| super::super::proto::StringStringEntryProto {
            key: k.into(),
            value: v,
        };
        TensorProto {
            name: "w".into(),
            dims: vec![2],
            data_type: dtype_to_onnx(DType::F32),
            data_location: tensor_proto::DataLocation::External as i32,
            external_data: vec![
                kv("location", location.into()),
                kv("offset", offset.to_string()),
                kv("length", length.to_string()),
            ],
            ..TensorProto::default()
        }
    }

    #[test]
    fn external_data_is_read_from_the_model_folder() {
        let dir = std::env::temp_dir().join(format!("tenfold-ext-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = vec![0u8; 4];
        bytes.extend([1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()));
        std::fs::write(dir.join("weights.bin"), &bytes).unwrap();
        let t = tensor_from_proto(&external("weights.bin", 4, 8), Some(&dir)).unwrap();
        assert_eq!(t.as_f32(), Some(&[1.5f32, -2.0][..]));
        let past_end = tensor_from_proto(&external("weights.bin", 8, 8), Some(&dir));
        assert!(
            past_end
                .unwrap_err()
                .to_string()
                .contains("reaches past it")
        );
        let escape = tensor_from_proto(&external("../weights.bin", 0, 8), Some(&dir));
        assert!(
            escape
                .unwrap_err()
                .to_string()
                .contains("inside the model's folder")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_raw_size_is_an_error() {
        let mut p = tensor_to_proto("w", &Tensor::from_f32(vec![2], vec![1.0, 2.0]).unwrap());
        p.dims = vec![3];
        let e = tensor_from_proto(&p, None).unwrap_err().to_string();
        assert!(e.contains("tensor 'w'") && e.contains("need 12"), "{e}");
    }
}
