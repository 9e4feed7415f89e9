//! Interpreted nodes the executor runs directly on their buffers instead of copying them into
//! tensors for `ir::interp`: with the interpreter's results bit for bit, Concat (pure data
//! movement) and f32 MaxPool and AveragePool (over one or two spatial dims by `pool2d`, over
//! more through the interpreter's own f32 path, `ir::interp::conv::pool_f32_into`); within a
//! few f32 roundings of the interpreter's f64, f32 LRN (`lrn`). Anything unexpected (a shape
//! the plan did not promise, a sub-byte dtype, MaxPool's Indices output) leaves the node to
//! the interpreter, which reports errors.

mod lrn;
mod pool2d;

use crate::kernel::{InterpKernel, Kernel, KernelKind, Program, storage_bytes};
use crate::runtime::pool::Pool;
use ir::DType;
use lrn::Lrn;
use pool2d::{Pool2d, Reduce};

/// Whether kernel `k` of `p` is an interpreted node that the executor runs natively (what
/// `tenfold info --plan` reports); [`try_run`] runs exactly these.
pub fn runs_natively(p: &Program, k: &Kernel) -> bool {
    let KernelKind::Interp(ik) = &k.kind else {
        return false;
    };
    // Only these ops have a native path; every other op stays with the interpreter.
    if let ir::Op::Concat { axis } = &ik.op {
        return concat_runs(p, k, ik, *axis).is_some();
    }
    if let ir::Op::MaxPool { pool, .. } | ir::Op::AveragePool { pool, .. } = &ik.op {
        return pool_buffers(p, k, ik, pool).is_some();
    }
    if let ir::Op::Lrn { .. } = &ik.op {
        return lrn_plan(p, k, ik).is_some();
    }
    false
}

/// The (input, output) args and the plan of an LRN over f32 whose output has the input's
/// shape.
fn lrn_plan(p: &Program, k: &Kernel, ik: &InterpKernel) -> Option<(usize, usize, Lrn)> {
    let (
        ir::Op::Lrn {
            alpha,
            beta,
            bias,
            size,
        },
        [Some(x)],
        [Some(y)],
    ) = (&ik.op, &ik.inputs[..], &ik.outputs[..])
    else {
        return None;
    };
    let (xd, yd) = (p.buffer(k.args[*x]), p.buffer(k.args[*y]));
    let f32s = xd.dtype == DType::F32 && yd.dtype == DType::F32;
    if !f32s || xd.shape != yd.shape {
        return None;
    }
    Some((*x, *y, Lrn::new(&xd.shape, *alpha, *beta, *bias, *size)?))
}

/// Runs `ik` (the interpreted node of kernel `k`) natively when [`runs_natively`] says so;
/// `false` leaves it to the interpreter.
///
/// # Safety
/// `args` hold the kernel's buffers, each with room for its declared shape and dtype.
pub(crate) unsafe fn try_run(
    p: &Program,
    k: &Kernel,
    ik: &InterpKernel,
    args: &[*mut u8],
    pool: &Pool,
) -> bool {
    if let ir::Op::Concat { axis } = &ik.op
        && let Some(c) = concat_runs(p, k, ik, *axis)
    {
        // SAFETY: forwarded; `concat_runs` checked the buffers' shapes.
        unsafe { concat(args, &c) };
        return true;
    }
    if let Some((x, y, plan)) = lrn_plan(p, k, ik) {
        let n = p.buffer(k.args[x]).numel();
        // SAFETY: both buffers hold `n` f32s (checked by `lrn_plan`); input and output are
        // live together, so the memory plan keeps them apart.
        let (xs, ys) = unsafe {
            (
                std::slice::from_raw_parts(args[x] as *const f32, n),
                std::slice::from_raw_parts_mut(args[y] as *mut f32, n),
            )
        };
        plan.run(xs, ys, pool);
        return true;
    }
    let (ir::Op::MaxPool { pool: attrs, .. } | ir::Op::AveragePool { pool: attrs, .. }) = &ik.op
    else {
        return false;
    };
    // `None` for MaxPool, as `pool_f32_into` takes it.
    let count_include_pad = if let ir::Op::AveragePool {
        count_include_pad, ..
    } = &ik.op
    {
        Some(*count_include_pad)
    } else {
        None
    };
    let Some((x, y)) = pool_buffers(p, k, ik, attrs) else {
        return false;
    };
    let (xd, yd) = (p.buffer(k.args[x]), p.buffer(k.args[y]));
    // SAFETY: the buffers hold their declared f32 elements; input and output are live
    // together, so the memory plan keeps them apart.
    let (xs, ys) = unsafe {
        (
            std::slice::from_raw_parts(args[x] as *const f32, xd.numel()),
            std::slice::from_raw_parts_mut(args[y] as *mut f32, yd.numel()),
        )
    };
    let reduce = match count_include_pad {
        None => Reduce::Max,
        Some(count_include_pad) => Reduce::Average { count_include_pad },
    };
    let Ok((axes, _)) = ir::interp::conv::pool_geometry(attrs, &xd.shape) else {
        return false;
    };
    match Pool2d::new(&xd.shape, &axes, reduce) {
        Some(plan) => plan.run(xs, ys, pool),
        None => {
            ir::interp::conv::pool_f32_into(attrs, count_include_pad, &xd.shape, xs, ys).is_ok()
        }
    }
}

/// The (input, output) args of a MaxPool (without Indices) or AveragePool over f32 whose
/// output shape is the pool's.
fn pool_buffers(
    p: &Program,
    k: &Kernel,
    ik: &InterpKernel,
    attrs: &ir::op::PoolAttrs,
) -> Option<(usize, usize)> {
    let ([Some(x)], Some(Some(y)), None | Some(None)) =
        (&ik.inputs[..], ik.outputs.first(), ik.outputs.get(1))
    else {
        return None;
    };
    let (xd, yd) = (p.buffer(k.args[*x]), p.buffer(k.args[*y]));
    let shape = ir::interp::conv::pool_output_shape(attrs, &xd.shape).ok()?;
    (xd.dtype == DType::F32 && yd.dtype == DType::F32 && shape == yd.shape).then_some((*x, *y))
}

/// How a Concat copies.
struct ConcatRuns {
    /// The output's arg.
    out: usize,
    /// Per input: its arg and its bytes per outer index.
    runs: Vec<(usize, usize)>,
    /// Outer indices: the product of the dims before the axis.
    outer: usize,
}

/// A Concat's copies, when the buffers' shapes agree.
fn concat_runs(p: &Program, k: &Kernel, ik: &InterpKernel, axis: i64) -> Option<ConcatRuns> {
    let [Some(out)] = ik.outputs[..] else {
        return None;
    };
    let out_decl = p.buffer(k.args[out]);
    let dtype = out_decl.dtype;
    let rank = out_decl.shape.len();
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    if ik.inputs.is_empty() || axis < 0 || axis as usize >= rank {
        return None;
    }
    let axis = axis as usize;
    // Whole bytes per element (sub-byte dtypes pack elements: not moved here).
    let elem = storage_bytes(dtype, 1);
    if elem == 0 || storage_bytes(dtype, 2) != 2 * elem {
        return None;
    }
    let mut runs = Vec::with_capacity(ik.inputs.len());
    let mut extent = 0;
    for a in &ik.inputs {
        let a = (*a)?;
        let decl = p.buffer(k.args[a]);
        let same_elsewhere = decl.shape.len() == rank
            && (0..rank).all(|d| d == axis || decl.shape[d] == out_decl.shape[d]);
        if decl.dtype != dtype || !same_elsewhere {
            return None;
        }
        extent += decl.shape[axis];
        runs.push((a, decl.shape[axis..].iter().product::<usize>() * elem));
    }
    if extent != out_decl.shape[axis] {
        return None;
    }
    Some(ConcatRuns {
        out,
        runs,
        outer: out_decl.shape[..axis].iter().product(),
    })
}

/// Concat: per outer index, each input's contiguous run in turn.
///
/// # Safety
/// As [`try_run`], with `c` from [`concat_runs`] for the same kernel.
unsafe fn concat(args: &[*mut u8], c: &ConcatRuns) {
    let row: usize = c.runs.iter().map(|r| r.1).sum();
    let dst = args[c.out];
    for o in 0..c.outer {
        let mut at = o * row;
        for &(a, run) in &c.runs {
            // SAFETY: input and output hold `outer` runs of these lengths (their shapes were
            // checked); an interpreted node's output is a buffer of its own, which the memory
            // plan never overlaps with the node's inputs (they are live together).
            unsafe { std::ptr::copy_nonoverlapping(args[a].add(o * run), dst.add(at), run) };
            at += run;
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lrn;
