//! The anchored kinds: row normalizations, reductions, contractions and convolutions, each
//! computed in f32 in a fixed, sequential order, with their prologues and epilogues.

use super::body::run_body;
use super::column::{nan_max, nan_min};
use super::memory::Buf;
use crate::kernel::kinds::{
    ConvKernel, GemmKernel, GemmOperand, ReduceFn, ReduceKernel, RowKernel, RowOp,
};

/// A row kernel: prologue over `shape`, the normalization along the last dim, epilogue.
pub fn row(k: &RowKernel, bufs: &mut [Buf]) -> Result<(), String> {
    let x = run_body(&k.prologue, bufs, &k.shape, None, Some(k.x))?;
    let len = k.shape.last().copied().unwrap_or(1);
    let mut y = x;
    if len > 0 {
        for r in y.chunks_mut(len) {
            normalize_row(k.op, r);
        }
    }
    run_body(&k.epilogue, bufs, &k.shape, Some(&y), None)?;
    Ok(())
}

/// One row, in place, in f32 with two passes (statistics, then the normalized values); sums
/// run left to right.
fn normalize_row(op: RowOp, r: &mut [f32]) {
    let n = r.len() as f32;
    match op {
        RowOp::Softmax | RowOp::LogSoftmax => {
            let max = r.iter().copied().fold(f32::NEG_INFINITY, nan_max);
            let mut sum = 0f32;
            for &v in r.iter() {
                sum += (v - max).exp();
            }
            if op == RowOp::Softmax {
                for v in r.iter_mut() {
                    *v = (*v - max).exp() / sum;
                }
            } else {
                let ln = sum.ln();
                for v in r.iter_mut() {
                    *v = *v - max - ln;
                }
            }
        }
        RowOp::LayerNorm { epsilon } => {
            let mut sum = 0f32;
            for &v in r.iter() {
                sum += v;
            }
            let mean = sum / n;
            let mut sq = 0f32;
            for &v in r.iter() {
                let d = v - mean;
                sq += d * d;
            }
            let denom = (sq / n + epsilon).sqrt();
            for v in r.iter_mut() {
                *v = (*v - mean) / denom;
            }
        }
        RowOp::RmsNorm { epsilon } => {
            let mut sq = 0f32;
            for &v in r.iter() {
                sq += v * v;
            }
            let denom = (sq / n + epsilon).sqrt();
            for v in r.iter_mut() {
                *v /= denom;
            }
        }
    }
}

/// A reduction: prologue over `shape`, fold over the reduced dims (in row-major order of the
/// reduced points), epilogue over the kept dims.
pub fn reduce(k: &ReduceKernel, bufs: &mut [Buf]) -> Result<(), String> {
    if k.reduced.len() != k.shape.len() {
        return Err(format!(
            "reduced mask of {} dims for a shape of rank {}",
            k.reduced.len(),
            k.shape.len()
        ));
    }
    let x = run_body(&k.prologue, bufs, &k.shape, None, Some(k.x))?;
    let kept = k.kept_shape();
    let n_kept: usize = kept.iter().product();
    let init = match k.op {
        ReduceFn::Sum => 0.0,
        ReduceFn::Prod => 1.0,
        ReduceFn::Max => f32::NEG_INFINITY,
        ReduceFn::Min => f32::INFINITY,
    };
    let mut acc = vec![init; n_kept];
    // Walk the full space in row-major order, tracking the kept linear index.
    let rank = k.shape.len();
    let kept_strides = {
        let mut s = vec![0usize; rank];
        let mut a = 1usize;
        for d in (0..rank).rev() {
            if !k.reduced[d] {
                s[d] = a;
                a *= k.shape[d];
            }
        }
        s
    };
    let mut cur = vec![0usize; rank];
    let mut out_at = 0usize;
    for &v in &x {
        let a = &mut acc[out_at];
        *a = match k.op {
            ReduceFn::Sum => *a + v,
            ReduceFn::Prod => *a * v,
            ReduceFn::Max => nan_max(*a, v),
            ReduceFn::Min => nan_min(*a, v),
        };
        for d in (0..rank).rev() {
            cur[d] += 1;
            out_at += kept_strides[d];
            if cur[d] < k.shape[d] {
                break;
            }
            out_at -= kept_strides[d] * cur[d];
            cur[d] = 0;
        }
    }
    run_body(&k.epilogue, bufs, &kept, Some(&acc), None)?;
    Ok(())
}

/// Element `(batch.., row, col)` of a strided operand.
struct Operand<'a> {
    data: &'a [f32],
    op: &'a GemmOperand,
}

impl Operand<'_> {
    fn base(&self, batch: &[usize]) -> i64 {
        self.op.offset
            + self
                .op
                .batch_strides
                .iter()
                .zip(batch)
                .map(|(&s, &b)| s * b as i64)
                .sum::<i64>()
    }

    fn at(&self, base: i64, row: usize, col: usize) -> Result<f32, String> {
        let a = base + self.op.row_stride * row as i64 + self.op.col_stride * col as i64;
        usize::try_from(a)
            .ok()
            .and_then(|a| self.data.get(a).copied())
            .ok_or_else(|| format!("operand read of element {a} of {}", self.data.len()))
    }
}

/// A contraction: `alpha · Σ_p a·b` per output element (p ascending), then the epilogue.
pub fn gemm(k: &GemmKernel, bufs: &mut [Buf]) -> Result<(), String> {
    let nb = k.batch.len();
    if k.a.batch_strides.len() != nb || k.b.batch_strides.len() != nb {
        return Err("operand batch strides do not match the batch rank".into());
    }
    let get = |arg: usize| -> Result<Vec<f32>, String> {
        bufs.get(arg)
            .ok_or_else(|| format!("operand arg {arg} of a kernel with fewer"))?
            .all_f32()
    };
    let (a_data, b_data) = (get(k.a.arg)?, get(k.b.arg)?);
    let a = Operand {
        data: &a_data,
        op: &k.a,
    };
    let b = Operand {
        data: &b_data,
        op: &k.b,
    };
    let n_batch: usize = k.batch.iter().product();
    let mut acc = Vec::with_capacity(n_batch * k.m * k.n);
    let mut bidx = vec![0usize; nb];
    for _ in 0..n_batch {
        let (ab, bb) = (a.base(&bidx), b.base(&bidx));
        for i in 0..k.m {
            for j in 0..k.n {
                let mut s = 0f32;
                for p in 0..k.k {
                    s += a.at(ab, i, p)? * b.at(bb, p, j)?;
                }
                acc.push(k.alpha * s);
            }
        }
        for d in (0..nb).rev() {
            bidx[d] += 1;
            if bidx[d] < k.batch[d] {
                break;
            }
            bidx[d] = 0;
        }
    }
    let out: Vec<usize> = k.batch.iter().copied().chain([k.m, k.n]).collect();
    run_body(&k.epilogue, bufs, &out, Some(&acc), None)?;
    Ok(())
}

/// A convolution: per output element, the sum over the group's input channels and the kernel
/// window (row-major), skipping padding, then the epilogue.
pub fn conv(k: &ConvKernel, bufs: &mut [Buf]) -> Result<(), String> {
    let sr = k.kernel.len();
    if k.in_spatial.len() != sr
        || k.out_spatial.len() != sr
        || k.strides.len() != sr
        || k.dilations.len() != sr
        || k.pads_begin.len() != sr
    {
        return Err("convolution attributes of different spatial ranks".into());
    }
    if k.group == 0 || !k.c_in.is_multiple_of(k.group) || !k.c_out.is_multiple_of(k.group) {
        return Err(format!(
            "group {} does not divide channels {} -> {}",
            k.group, k.c_in, k.c_out
        ));
    }
    let get = |arg: usize| -> Result<Vec<f32>, String> {
        bufs.get(arg)
            .ok_or_else(|| format!("operand arg {arg} of a kernel with fewer"))?
            .all_f32()
    };
    let (x, w) = (get(k.input)?, get(k.weight)?);
    let in_sp: usize = k.in_spatial.iter().product();
    let k_sp: usize = k.kernel.iter().product();
    let out_sp: usize = k.out_spatial.iter().product();
    let (cin_g, cout_g) = (k.c_in / k.group, k.c_out / k.group);
    if x.len() != k.batch * k.c_in * in_sp || w.len() != k.c_out * cin_g * k_sp {
        return Err("convolution operands do not match their declared shapes".into());
    }
    let kpos: Vec<Vec<usize>> = (0..k_sp).map(|i| unravel(i, &k.kernel)).collect();
    let mut acc = Vec::with_capacity(k.batch * k.c_out * out_sp);
    for nb in 0..k.batch {
        for co in 0..k.c_out {
            let g = co / cout_g;
            for o in 0..out_sp {
                let opos = unravel(o, &k.out_spatial);
                let mut s = 0f32;
                for ci in 0..cin_g {
                    let c = g * cin_g + ci;
                    let xbase = (nb * k.c_in + c) * in_sp;
                    let wbase = (co * cin_g + ci) * k_sp;
                    for (kw, kp) in kpos.iter().enumerate() {
                        let mut at = 0usize;
                        let mut inside = true;
                        for d in 0..sr {
                            let p = (opos[d] * k.strides[d] + kp[d] * k.dilations[d]) as i64
                                - k.pads_begin[d] as i64;
                            if p < 0 || p >= k.in_spatial[d] as i64 {
                                inside = false;
                                break;
                            }
                            at = at * k.in_spatial[d] + p as usize;
                        }
                        if inside {
                            s += x[xbase + at] * w[wbase + kw];
                        }
                    }
                }
                acc.push(s);
            }
        }
    }
    let out: Vec<usize> = [k.batch, k.c_out]
        .into_iter()
        .chain(k.out_spatial.iter().copied())
        .collect();
    run_body(&k.epilogue, bufs, &out, Some(&acc), None)?;
    Ok(())
}

/// The row-major coordinates of linear index `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut c = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        let e = shape[d].max(1);
        c[d] = i % e;
        i /= e;
    }
    c
}
