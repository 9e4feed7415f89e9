//! Dense tensors with concrete shapes: the values the interpreter computes on.
//!
//! Invariant: `data` holds exactly `shape.iter().product()` elements in the storage variant of
//! `dtype` (see [`DType::storage`]), row-major. Constructors check this; the fields are private.

use crate::convert;
use crate::dtype::{DType, Storage};
use crate::error::OpError;
use half::{bf16, f16};
use serde::{Deserialize, Serialize};

/// Element storage, one variant per [`Storage`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    Bool(Vec<bool>),
}

/// Applies `$body` to the vector inside a [`Data`], binding it as `$v`.
#[macro_export]
macro_rules! with_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::tensor::Data::F32($v) => $body,
            $crate::tensor::Data::F64($v) => $body,
            $crate::tensor::Data::F16($v) => $body,
            $crate::tensor::Data::BF16($v) => $body,
            $crate::tensor::Data::I8($v) => $body,
            $crate::tensor::Data::U8($v) => $body,
            $crate::tensor::Data::I16($v) => $body,
            $crate::tensor::Data::U16($v) => $body,
            $crate::tensor::Data::I32($v) => $body,
            $crate::tensor::Data::U32($v) => $body,
            $crate::tensor::Data::I64($v) => $body,
            $crate::tensor::Data::U64($v) => $body,
            $crate::tensor::Data::Bool($v) => $body,
        }
    };
}

/// Rebuilds a [`Data`] of the same variant from `$data` by mapping its vector: `$body` gets the
/// vector as `$v` and must return a vector of the same element type.
#[macro_export]
macro_rules! map_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::tensor::Data::F32($v) => $crate::tensor::Data::F32($body),
            $crate::tensor::Data::F64($v) => $crate::tensor::Data::F64($body),
            $crate::tensor::Data::F16($v) => $crate::tensor::Data::F16($body),
            $crate::tensor::Data::BF16($v) => $crate::tensor::Data::BF16($body),
            $crate::tensor::Data::I8($v) => $crate::tensor::Data::I8($body),
            $crate::tensor::Data::U8($v) => $crate::tensor::Data::U8($body),
            $crate::tensor::Data::I16($v) => $crate::tensor::Data::I16($body),
            $crate::tensor::Data::U16($v) => $crate::tensor::Data::U16($body),
            $crate::tensor::Data::I32($v) => $crate::tensor::Data::I32($body),
            $crate::tensor::Data::U32($v) => $crate::tensor::Data::U32($body),
            $crate::tensor::Data::I64($v) => $crate::tensor::Data::I64($body),
            $crate::tensor::Data::U64($v) => $crate::tensor::Data::U64($body),
            $crate::tensor::Data::Bool($v) => $crate::tensor::Data::Bool($body),
        }
    };
}

impl Data {
    pub fn len(&self) -> usize {
        with_data!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn storage(&self) -> Storage {
        match self {
            Data::F32(_) => Storage::F32,
            Data::F64(_) => Storage::F64,
            Data::F16(_) => Storage::F16,
            Data::BF16(_) => Storage::BF16,
            Data::I8(_) => Storage::I8,
            Data::U8(_) => Storage::U8,
            Data::I16(_) => Storage::I16,
            Data::U16(_) => Storage::U16,
            Data::I32(_) => Storage::I32,
            Data::U32(_) => Storage::U32,
            Data::I64(_) => Storage::I64,
            Data::U64(_) => Storage::U64,
            Data::Bool(_) => Storage::Bool,
        }
    }

    /// `n` zero elements of the given storage.
    pub fn zeros(storage: Storage, n: usize) -> Data {
        match storage {
            Storage::F32 => Data::F32(vec![0.0; n]),
            Storage::F64 => Data::F64(vec![0.0; n]),
            Storage::F16 => Data::F16(vec![f16::ZERO; n]),
            Storage::BF16 => Data::BF16(vec![bf16::ZERO; n]),
            Storage::I8 => Data::I8(vec![0; n]),
            Storage::U8 => Data::U8(vec![0; n]),
            Storage::I16 => Data::I16(vec![0; n]),
            Storage::U16 => Data::U16(vec![0; n]),
            Storage::I32 => Data::I32(vec![0; n]),
            Storage::U32 => Data::U32(vec![0; n]),
            Storage::I64 => Data::I64(vec![0; n]),
            Storage::U64 => Data::U64(vec![0; n]),
            Storage::Bool => Data::Bool(vec![false; n]),
        }
    }

    /// The elements as little-endian bytes, one storage element after another (bool as one
    /// byte 0/1; sub-byte dtypes stay one element per byte: packing is the caller's business).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::F16(v) => v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
            Data::BF16(v) => v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
            Data::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Data::U8(v) => v.clone(),
            Data::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::Bool(v) => v.iter().map(|&x| x as u8).collect(),
        }
    }

    /// The address of the first element, for compiled code. Every storage is a plain array of
    /// its element type; bool is one byte holding 0 or 1.
    pub fn as_ptr(&self) -> *const u8 {
        with_data!(self, v => v.as_ptr().cast::<u8>())
    }

    /// [`Data::as_ptr`] for writing. Compiled code that writes bool storage must write only 0
    /// or 1.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        with_data!(self, v => v.as_mut_ptr().cast::<u8>())
    }

    /// The elements at `indices`, in that order (a gather over the flat buffer).
    pub fn gather(&self, indices: &[usize]) -> Data {
        map_data!(self, v => indices.iter().map(|&i| v[i]).collect())
    }
}

/// A dense, row-major tensor with a concrete shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    data: Data,
}

impl Tensor {
    /// Checks that `data` fits `dtype` and `shape`.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Data) -> Result<Tensor, OpError> {
        if dtype.storage() != data.storage() {
            return Err(OpError::new(format!(
                "{dtype} tensor given {:?} storage",
                data.storage()
            )));
        }
        let n = checked_numel(&shape)?;
        if n != data.len() {
            return Err(OpError::new(format!(
                "shape {shape:?} needs {n} elements, data has {}",
                data.len()
            )));
        }
        Ok(Tensor { dtype, shape, data })
    }

    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product();
        Tensor {
            dtype,
            data: Data::zeros(dtype.storage(), n),
            shape,
        }
    }

    pub fn from_f32(shape: Vec<usize>, v: Vec<f32>) -> Result<Tensor, OpError> {
        Tensor::new(DType::F32, shape, Data::F32(v))
    }

    pub fn from_i64(shape: Vec<usize>, v: Vec<i64>) -> Result<Tensor, OpError> {
        Tensor::new(DType::I64, shape, Data::I64(v))
    }

    pub fn from_bool(shape: Vec<usize>, v: Vec<bool>) -> Result<Tensor, OpError> {
        Tensor::new(DType::Bool, shape, Data::Bool(v))
    }

    pub fn scalar_f32(v: f32) -> Tensor {
        Tensor {
            dtype: DType::F32,
            shape: vec![],
            data: Data::F32(vec![v]),
        }
    }

    pub fn scalar_i64(v: i64) -> Tensor {
        Tensor {
            dtype: DType::I64,
            shape: vec![],
            data: Data::I64(vec![v]),
        }
    }

    /// A tensor of `dtype` from values given as f64, rounded (and for 8-bit floats saturated or
    /// not) the way `Cast` does.
    pub fn from_f64(dtype: DType, shape: Vec<usize>, v: &[f64]) -> Result<Tensor, OpError> {
        Tensor::new(dtype, shape, convert::encode_f64(dtype, v, true))
    }

    /// A tensor of integer or bool `dtype` from values given as i128, wrapped to the dtype's width.
    pub fn from_i128(dtype: DType, shape: Vec<usize>, v: &[i128]) -> Result<Tensor, OpError> {
        Tensor::new(dtype, shape, convert::encode_i128(dtype, v))
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn data(&self) -> &Data {
        &self.data
    }

    pub fn into_parts(self) -> (DType, Vec<usize>, Data) {
        (self.dtype, self.shape, self.data)
    }

    /// The same elements under another shape with the same element count.
    pub fn reshaped(self, shape: Vec<usize>) -> Result<Tensor, OpError> {
        Tensor::new(self.dtype, shape, self.data)
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            Data::F32(v) if self.dtype == DType::F32 => Some(v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            Data::I64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<&[bool]> {
        match &self.data {
            Data::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// Every element as f64 (bool as 0/1, 8-bit floats decoded).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        convert::decode_f64(self.dtype, &self.data)
    }

    /// Every element as f32 (bool as 0/1, 8-bit floats decoded).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            _ => self.to_f64_vec().into_iter().map(|x| x as f32).collect(),
        }
    }

    /// Every element of an integer or bool tensor as i128; floats truncate toward zero.
    pub fn to_i128_vec(&self) -> Vec<i128> {
        convert::decode_i128(self.dtype, &self.data)
    }

    /// Every element as i64, for index-like inputs (shapes, axes, indices). Errors on floats.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, OpError> {
        if self.dtype.is_float() {
            return Err(OpError::new(format!(
                "expected an integer tensor, got {}",
                self.dtype
            )));
        }
        Ok(match &self.data {
            Data::I64(v) => v.clone(),
            _ => self.to_i128_vec().into_iter().map(|x| x as i64).collect(),
        })
    }

    /// Every element as bool (non-zero is true).
    pub fn to_bool_vec(&self) -> Vec<bool> {
        match &self.data {
            Data::Bool(v) => v.clone(),
            _ if self.dtype.is_float() => self.to_f64_vec().iter().map(|&x| x != 0.0).collect(),
            _ => self.to_i128_vec().iter().map(|&x| x != 0).collect(),
        }
    }

    /// Element-wise conversion with ONNX `Cast` semantics.
    pub fn cast(&self, to: DType, saturate: bool) -> Tensor {
        Tensor {
            dtype: to,
            shape: self.shape.clone(),
            data: convert::cast(self.dtype, &self.data, to, saturate),
        }
    }
}

/// The element count of `shape`, or an error if it overflows.
pub fn checked_numel(shape: &[usize]) -> Result<usize, OpError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| OpError::new(format!("shape {shape:?} has too many elements")))
}

/// Row-major strides of `shape`, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}
