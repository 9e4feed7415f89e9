//! MatMul (numpy semantics: 1-D promotion, batch broadcasting) and Gemm, on every numeric
//! dtype: f32 and f64 natively, f16/bf16 through f32, integers through wrapping i64.

use super::gemm::{GemmElem, MatMut, MatRef, gemm, gemm_nt, transpose};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::util::broadcast_indices;
use crate::interp::{opt, req};
use crate::op::GemmAttrs;
use crate::shape::{broadcast, display_shape, static_shape};
use crate::tensor::{Data, Tensor, checked_numel};
use crate::{op_bail, op_err};
use half::{bf16, f16};
use std::borrow::Cow;

/// A static shape as `[2,3]`, the way shapes appear in messages.
pub(crate) fn fmt(shape: &[usize]) -> String {
    display_shape(&static_shape(shape))
}

/// How a (possibly batched, possibly 1-D) matmul maps onto 2-D products.
#[derive(Debug)]
pub(crate) struct MatmulPlan {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub out_shape: Vec<usize>,
    /// For each batch element of the output, the batch element of `a` (and of `b`) it reads.
    pub a_batches: Vec<usize>,
    pub b_batches: Vec<usize>,
}

impl MatmulPlan {
    pub fn new(a: &[usize], b: &[usize]) -> Result<MatmulPlan, OpError> {
        if a.is_empty() || b.is_empty() {
            op_bail!(
                "inputs must have rank 1 or more, got shapes {} and {}",
                fmt(a),
                fmt(b)
            );
        }
        // 1-D operands are promoted to a row (a) or column (b) matrix, and the added dim is
        // dropped from the output.
        let a2: Vec<usize> = if a.len() == 1 {
            vec![1, a[0]]
        } else {
            a.to_vec()
        };
        let b2: Vec<usize> = if b.len() == 1 {
            vec![b[0], 1]
        } else {
            b.to_vec()
        };
        let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
        let (kb, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
        if k != kb {
            op_bail!("inner dims differ: a is {}, b is {}", fmt(a), fmt(b));
        }
        let a_batch = &a2[..a2.len() - 2];
        let b_batch = &b2[..b2.len() - 2];
        let batch = broadcast(a_batch, b_batch).map_err(|_| {
            op_err!(
                "batch dims do not broadcast: a is {}, b is {}",
                fmt(a),
                fmt(b)
            )
        })?;
        let mut out_shape = batch.clone();
        if a.len() > 1 {
            out_shape.push(m);
        }
        if b.len() > 1 {
            out_shape.push(n);
        }
        checked_numel(&out_shape)?;
        Ok(MatmulPlan {
            m,
            k,
            n,
            out_shape,
            a_batches: broadcast_indices(a_batch, &batch),
            b_batches: broadcast_indices(b_batch, &batch),
        })
    }

    /// Runs the plan on row-major element buffers.
    pub fn run<T: GemmElem>(&self, a: &[T], b: &[T]) -> Vec<T> {
        let (m, k, n) = (self.m, self.k, self.n);
        let mut out = vec![T::default(); self.a_batches.len() * m * n];
        if m * n == 0 {
            return out;
        }
        // One shared `b` under distinct, in-order `a` batches: the batches stack into one tall
        // product, which fills the GEMM's tiles better than many short ones.
        let a_in_order = self.a_batches.iter().enumerate().all(|(i, &ia)| i == ia);
        if a_in_order && self.b_batches.iter().all(|&ib| ib == 0) {
            let rows = self.a_batches.len() * m;
            gemm(
                rows,
                n,
                k,
                MatRef {
                    data: &a[..rows * k],
                    row_stride: k,
                },
                MatRef {
                    data: &b[..k * n],
                    row_stride: n,
                },
                MatMut {
                    data: &mut out,
                    row_stride: n,
                },
            );
            return out;
        }
        for (out_mat, (&ia, &ib)) in out
            .chunks_exact_mut(m * n)
            .zip(self.a_batches.iter().zip(&self.b_batches))
        {
            gemm(
                m,
                n,
                k,
                MatRef {
                    data: &a[ia * m * k..(ia + 1) * m * k],
                    row_stride: k,
                },
                MatRef {
                    data: &b[ib * k * n..(ib + 1) * k * n],
                    row_stride: n,
                },
                MatMut {
                    data: out_mat,
                    row_stride: n,
                },
            );
        }
        out
    }
}

/// The element buffers of two same-dtype operands in the type their product is computed in.
pub(crate) enum Operands<'a> {
    F32(Cow<'a, [f32]>, Cow<'a, [f32]>),
    F64(Cow<'a, [f64]>, Cow<'a, [f64]>),
    I64(Vec<i64>, Vec<i64>),
}

/// A computed product, to be stored back as the operands' dtype.
pub(crate) enum Product {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl<'a> Operands<'a> {
    pub fn of(a: &'a Tensor, b: &'a Tensor) -> Result<Operands<'a>, OpError> {
        if a.dtype() != b.dtype() {
            op_bail!(
                "operands have different dtypes: {} and {}",
                a.dtype(),
                b.dtype()
            );
        }
        Ok(match (a.data(), b.data()) {
            (Data::F32(x), Data::F32(y)) => Operands::F32(Cow::Borrowed(x), Cow::Borrowed(y)),
            (Data::F64(x), Data::F64(y)) => Operands::F64(Cow::Borrowed(x), Cow::Borrowed(y)),
            (Data::F16(_), Data::F16(_)) | (Data::BF16(_), Data::BF16(_)) => {
                Operands::F32(Cow::Owned(a.to_f32_vec()), Cow::Owned(b.to_f32_vec()))
            }
            _ if a.dtype().is_int() => Operands::I64(to_i64_wrapping(a), to_i64_wrapping(b)),
            _ => op_bail!("dtype {} is not supported", a.dtype()),
        })
    }
}

impl Product {
    pub fn into_tensor(self, dtype: DType, shape: Vec<usize>) -> Result<Tensor, OpError> {
        match self {
            Product::F32(v) => {
                let data = match dtype {
                    DType::F16 => Data::F16(v.iter().map(|&x| f16::from_f32(x)).collect()),
                    DType::BF16 => Data::BF16(v.iter().map(|&x| bf16::from_f32(x)).collect()),
                    _ => Data::F32(v),
                };
                Tensor::new(dtype, shape, data)
            }
            Product::F64(v) => Tensor::new(dtype, shape, Data::F64(v)),
            Product::I64(v) => {
                let wide: Vec<i128> = v.iter().map(|&x| x as i128).collect();
                Tensor::from_i128(dtype, shape, &wide)
            }
        }
    }
}

/// Integer elements as i64; u64 values above `i64::MAX` wrap, which wrapping arithmetic and
/// the final wrap back to the dtype undo.
fn to_i64_wrapping(t: &Tensor) -> Vec<i64> {
    match t.data() {
        Data::I64(v) => v.clone(),
        _ => t.to_i128_vec().iter().map(|&x| x as i64).collect(),
    }
}

pub fn matmul(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let a = req(inputs, 0)?;
    let b = req(inputs, 1)?;
    let plan = MatmulPlan::new(a.shape(), b.shape())?;
    let product = match Operands::of(a, b)? {
        Operands::F32(x, y) => Product::F32(plan.run(&x, &y)),
        Operands::F64(x, y) => Product::F64(plan.run(&x, &y)),
        Operands::I64(x, y) => Product::I64(plan.run(&x, &y)),
    };
    Ok(vec![product.into_tensor(a.dtype(), plan.out_shape)?])
}

/// `(rows, cols)` of a Gemm operand after its optional transpose.
fn gemm_operand_dims(name: &str, t: &Tensor, transposed: bool) -> Result<(usize, usize), OpError> {
    match *t.shape() {
        [r, c] if transposed => Ok((c, r)),
        [r, c] => Ok((r, c)),
        _ => Err(op_err!("{name} must be 2-D, got shape {:?}", t.shape())),
    }
}

pub fn gemm_op(attrs: &GemmAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let a = req(inputs, 0)?;
    let b = req(inputs, 1)?;
    let (m, k) = gemm_operand_dims("A", a, attrs.trans_a)?;
    let (kb, n) = gemm_operand_dims("B", b, attrs.trans_b)?;
    if k != kb {
        op_bail!(
            "inner dims differ: op(A) is [{m},{k}], op(B) is [{kb},{n}] (A {:?}, B {:?}, transA {}, transB {})",
            a.shape(),
            b.shape(),
            attrs.trans_a,
            attrs.trans_b
        );
    }
    let c = match opt(inputs, 2) {
        Some(c) if attrs.beta != 0.0 => Some(broadcast_c(c, m, n)?),
        Some(_) | None => None,
    };
    let shape = vec![m, n];
    checked_numel(&shape)?;
    let dims = GemmDims {
        m,
        k,
        n,
        a_shape: (a.shape()[0], a.shape()[1]),
        b_shape: (b.shape()[0], b.shape()[1]),
    };
    let (alpha, beta) = (attrs.alpha, attrs.beta);
    let out = match Operands::of(a, b)? {
        Operands::F32(x, y) => {
            let mut prod = gemm_product(&x, &y, &dims, attrs);
            let c = c.map(|c| c.to_f32_vec());
            for (i, p) in prod.iter_mut().enumerate() {
                *p *= alpha;
                if let Some(c) = &c {
                    *p += beta * c[i];
                }
            }
            Product::F32(prod).into_tensor(a.dtype(), shape)?
        }
        Operands::F64(x, y) => {
            let mut prod = gemm_product(&x, &y, &dims, attrs);
            let c = c.map(|c| c.to_f64_vec());
            for (i, p) in prod.iter_mut().enumerate() {
                *p *= alpha as f64;
                if let Some(c) = &c {
                    *p += beta as f64 * c[i];
                }
            }
            Product::F64(prod).into_tensor(a.dtype(), shape)?
        }
        Operands::I64(x, y) => {
            let prod = gemm_product(&x, &y, &dims, attrs);
            let c = c.map(|c| c.to_f64_vec());
            let vals: Vec<f64> = prod
                .iter()
                .enumerate()
                .map(|(i, &p)| {
                    let scaled = alpha as f64 * p as f64;
                    c.as_ref().map_or(scaled, |c| scaled + beta as f64 * c[i])
                })
                .collect();
            Tensor::from_f64(a.dtype(), shape, &vals)?
        }
    };
    Ok(vec![out])
}

/// The sizes of a Gemm: `op(A)` is `m x k`, `op(B)` is `k x n`; the stored shapes before the
/// transposes.
struct GemmDims {
    m: usize,
    k: usize,
    n: usize,
    a_shape: (usize, usize),
    b_shape: (usize, usize),
}

/// Below this many rows of `op(A)`, a transposed B is read row by row (dot products) rather
/// than transposed first: a fully connected layer on one image would otherwise spend its time
/// transposing the weight.
const DOT_ROWS: usize = 16;

/// `op(A) * op(B)` as an `m x n` row-major buffer.
fn gemm_product<T: GemmElem>(x: &[T], y: &[T], d: &GemmDims, attrs: &GemmAttrs) -> Vec<T> {
    let a = orient(x, d.a_shape.0, d.a_shape.1, attrs.trans_a);
    let mut out = vec![T::default(); d.m * d.n];
    if attrs.trans_b && d.m < DOT_ROWS {
        gemm_nt(
            d.m,
            d.n,
            d.k,
            MatRef {
                data: &a,
                row_stride: d.k,
            },
            MatRef {
                data: y,
                row_stride: d.k,
            },
            MatMut {
                data: &mut out,
                row_stride: d.n,
            },
        );
        return out;
    }
    let b = orient(y, d.b_shape.0, d.b_shape.1, attrs.trans_b);
    gemm(
        d.m,
        d.n,
        d.k,
        MatRef {
            data: &a,
            row_stride: d.k,
        },
        MatRef {
            data: &b,
            row_stride: d.n,
        },
        MatMut {
            data: &mut out,
            row_stride: d.n,
        },
    );
    out
}

/// A Gemm operand in row-major order, transposing it when the attribute asks.
fn orient<T: Copy>(v: &[T], rows: usize, cols: usize, transposed: bool) -> Cow<'_, [T]> {
    if transposed {
        Cow::Owned(transpose(v, rows, cols))
    } else {
        Cow::Borrowed(v)
    }
}

/// C broadcast (unidirectionally) to `[m, n]`.
fn broadcast_c(c: &Tensor, m: usize, n: usize) -> Result<Tensor, OpError> {
    let target = [m, n];
    let ok = c.rank() <= 2
        && c.shape()
            .iter()
            .rev()
            .zip(target.iter().rev())
            .all(|(&d, &t)| d == t || d == 1);
    if !ok {
        op_bail!("C of shape {:?} does not broadcast to [{m},{n}]", c.shape());
    }
    let idx = broadcast_indices(c.shape(), &target);
    let (dtype, _, data) = c.clone().into_parts();
    Tensor::new(dtype, target.to_vec(), data.gather(&idx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_promotes_vectors_and_broadcasts_batches() {
        let p = MatmulPlan::new(&[3], &[2, 3, 4]).unwrap();
        assert_eq!(p.out_shape, vec![2, 4]);
        let p = MatmulPlan::new(&[2, 1, 3, 4], &[5, 4, 6]).unwrap();
        assert_eq!(p.out_shape, vec![2, 5, 3, 6]);
        let p = MatmulPlan::new(&[4], &[4]).unwrap();
        assert_eq!(p.out_shape, Vec::<usize>::new());
        let e = MatmulPlan::new(&[2, 3], &[4, 5]).unwrap_err();
        assert_eq!(e.0, "inner dims differ: a is [2,3], b is [4,5]");
    }

    #[test]
    fn integer_matmul_wraps_to_dtype() {
        let a = Tensor::from_i128(DType::I8, vec![1, 2], &[100, 100]).unwrap();
        let b = Tensor::from_i128(DType::I8, vec![2, 1], &[1, 1]).unwrap();
        let y = matmul(&[Some(&a), Some(&b)]).unwrap();
        assert_eq!(y[0].to_i128_vec(), vec![-56]);
    }

    #[test]
    fn gemm_transposes_scales_and_broadcasts_c() {
        let a = Tensor::from_f32(vec![2, 1], vec![1.0, 2.0]).unwrap();
        let b = Tensor::from_f32(vec![1, 2], vec![3.0, 4.0]).unwrap();
        let c = Tensor::from_f32(vec![1], vec![10.0]).unwrap();
        let attrs = GemmAttrs {
            alpha: 2.0,
            beta: 0.5,
            trans_a: true,
            trans_b: true,
        };
        let y = gemm_op(&attrs, &[Some(&a), Some(&b), Some(&c)]).unwrap();
        assert_eq!(y[0].shape(), &[1, 1]);
        assert_eq!(y[0].as_f32().unwrap(), &[2.0 * 11.0 + 5.0]);
    }
}
