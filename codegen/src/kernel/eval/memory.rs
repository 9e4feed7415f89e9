//! Kernel arguments as flat element arrays: reads of columns at element addresses and dense
//! writes of columns, converting between storage dtypes and compute [`Scalar`]s.

use super::column::{Col, cast};
use crate::kernel::body::Scalar;
use half::{bf16, f16};
use ir::{DType, Data, Tensor};

/// One kernel argument, unpacked for in-place writes.
pub struct Buf {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Buf {
    pub fn from_tensor(t: Tensor) -> Buf {
        let (dtype, shape, data) = t.into_parts();
        Buf { dtype, shape, data }
    }

    pub fn into_tensor(self) -> Result<Tensor, String> {
        Tensor::new(self.dtype, self.shape, self.data).map_err(|e| e.0)
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// The compute type of this buffer's elements, if kernels handle its dtype.
    pub fn scalar(&self) -> Result<Scalar, String> {
        Scalar::of(self.dtype).ok_or_else(|| format!("kernels do not handle {}", self.dtype))
    }

    /// The elements at `addrs`, in compute type. Every address must be in bounds.
    pub fn read(&self, addrs: &[usize]) -> Result<Col, String> {
        let n = self.len();
        if let Some(&bad) = addrs.iter().find(|&&a| a >= n) {
            return Err(format!("read of element {bad} of a buffer of {n}"));
        }
        Ok(match &self.data {
            Data::F32(v) => Col::F32(addrs.iter().map(|&a| v[a]).collect()),
            Data::F16(v) => Col::F32(addrs.iter().map(|&a| v[a].to_f32()).collect()),
            Data::BF16(v) => Col::F32(addrs.iter().map(|&a| v[a].to_f32()).collect()),
            Data::I32(v) => Col::I32(addrs.iter().map(|&a| v[a]).collect()),
            Data::I64(v) => Col::I64(addrs.iter().map(|&a| v[a]).collect()),
            Data::Bool(v) => Col::Bool(addrs.iter().map(|&a| v[a]).collect()),
            Data::F64(_)
            | Data::I8(_)
            | Data::U8(_)
            | Data::I16(_)
            | Data::U16(_)
            | Data::U32(_)
            | Data::U64(_) => return Err(format!("kernels do not handle {}", self.dtype)),
        })
    }

    /// Every element as f32 (for contraction operands).
    pub fn all_f32(&self) -> Result<Vec<f32>, String> {
        let addrs: Vec<usize> = (0..self.len()).collect();
        match self.read(&addrs)? {
            Col::F32(v) => Ok(v),
            other => Err(format!("expected an f32 operand, got {:?}", other.scalar())),
        }
    }

    /// Writes `values` to elements `start..start + values.len()`, converting to the dtype
    /// (f16/bf16 round to nearest even).
    pub fn write(&mut self, start: usize, values: &Col) -> Result<(), String> {
        let n = values.len();
        let len = self.len();
        if start + n > len {
            return Err(format!(
                "write of elements {start}..{} of a buffer of {len}",
                start + n
            ));
        }
        let to = self.scalar()?;
        let values = if values.scalar() == to {
            values.clone()
        } else {
            cast(values, to)
        };
        let range = start..start + n;
        match (&mut self.data, &values) {
            (Data::F32(d), Col::F32(v)) => d[range].copy_from_slice(v),
            (Data::F16(d), Col::F32(v)) => {
                for (o, &x) in d[range].iter_mut().zip(v) {
                    *o = f16::from_f32(x);
                }
            }
            (Data::BF16(d), Col::F32(v)) => {
                for (o, &x) in d[range].iter_mut().zip(v) {
                    *o = bf16::from_f32(x);
                }
            }
            (Data::I32(d), Col::I32(v)) => d[range].copy_from_slice(v),
            (Data::I64(d), Col::I64(v)) => d[range].copy_from_slice(v),
            (Data::Bool(d), Col::Bool(v)) => d[range].copy_from_slice(v),
            _ => {
                return Err(format!(
                    "cannot store {:?} into {}",
                    values.scalar(),
                    self.dtype
                ));
            }
        }
        Ok(())
    }
}
