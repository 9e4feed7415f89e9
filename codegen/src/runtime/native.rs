//! Interpreted nodes the executor runs directly on their buffers instead of copying them into
//! tensors for `ir::interp`, with the interpreter's results bit for bit: Concat (pure data
//! movement) and f32 MaxPool and AveragePool (through the interpreter's own f32 path,
//! `ir::interp::conv::pool_f32_into`). Anything unexpected (a shape the plan did not promise,
//! a sub-byte dtype, MaxPool's Indices output) leaves the node to the interpreter, which
//! reports errors.

use crate::kernel::{InterpKernel, Kernel, Program, storage_bytes};
use ir::DType;

/// Runs `ik` (the interpreted node of kernel `k`) natively when it can; `false` leaves it to
/// the interpreter.
///
/// # Safety
/// `args` hold the kernel's buffers, each with room for its declared shape and dtype.
pub(crate) unsafe fn try_run(p: &Program, k: &Kernel, ik: &InterpKernel, args: &[*mut u8]) -> bool {
    // Only these ops have a native path; every other op stays with the interpreter.
    if let ir::Op::Concat { axis } = &ik.op {
        // SAFETY: forwarded.
        return unsafe { concat(p, k, ik, args, *axis) };
    }
    if let ir::Op::MaxPool { pool, .. } = &ik.op {
        // SAFETY: forwarded.
        return unsafe { pool_f32(p, k, ik, args, pool, None) };
    }
    if let ir::Op::AveragePool {
        pool,
        count_include_pad,
    } = &ik.op
    {
        // SAFETY: forwarded.
        return unsafe { pool_f32(p, k, ik, args, pool, Some(*count_include_pad)) };
    }
    false
}

/// MaxPool (without Indices) or AveragePool over an f32 input.
///
/// # Safety
/// As [`try_run`].
unsafe fn pool_f32(
    p: &Program,
    k: &Kernel,
    ik: &InterpKernel,
    args: &[*mut u8],
    attrs: &ir::op::PoolAttrs,
    count_include_pad: Option<bool>,
) -> bool {
    let ([Some(x)], Some(Some(y)), None | Some(None)) =
        (&ik.inputs[..], ik.outputs.first(), ik.outputs.get(1))
    else {
        return false;
    };
    let (xd, yd) = (p.buffer(k.args[*x]), p.buffer(k.args[*y]));
    if xd.dtype != DType::F32 || yd.dtype != DType::F32 {
        return false;
    }
    // SAFETY: the buffers hold their declared f32 elements; input and output are live
    // together, so the memory plan keeps them apart.
    let (xs, ys) = unsafe {
        (
            std::slice::from_raw_parts(args[*x] as *const f32, xd.numel()),
            std::slice::from_raw_parts_mut(args[*y] as *mut f32, yd.numel()),
        )
    };
    ir::interp::conv::pool_f32_into(attrs, count_include_pad, &xd.shape, xs, ys).is_ok()
}

/// Concat: per index of the dims before the axis, each input's contiguous run in turn.
///
/// # Safety
/// As [`try_run`].
unsafe fn concat(p: &Program, k: &Kernel, ik: &InterpKernel, args: &[*mut u8], axis: i64) -> bool {
    let [Some(out)] = ik.outputs[..] else {
        return false;
    };
    let out_decl = p.buffer(k.args[out]);
    let dtype = out_decl.dtype;
    let rank = out_decl.shape.len();
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    if ik.inputs.is_empty() || axis < 0 || axis as usize >= rank {
        return false;
    }
    let axis = axis as usize;
    // Whole bytes per element (sub-byte dtypes pack elements: not moved here).
    let elem = storage_bytes(dtype, 1);
    if elem == 0 || storage_bytes(dtype, 2) != 2 * elem {
        return false;
    }
    let mut runs = Vec::with_capacity(ik.inputs.len());
    let mut extent = 0;
    for a in &ik.inputs {
        let Some(a) = *a else { return false };
        let decl = p.buffer(k.args[a]);
        let same_elsewhere = decl.shape.len() == rank
            && (0..rank).all(|d| d == axis || decl.shape[d] == out_decl.shape[d]);
        if decl.dtype != dtype || !same_elsewhere {
            return false;
        }
        extent += decl.shape[axis];
        runs.push((
            args[a] as *const u8,
            decl.shape[axis..].iter().product::<usize>() * elem,
        ));
    }
    if extent != out_decl.shape[axis] {
        return false;
    }
    let outer: usize = out_decl.shape[..axis].iter().product();
    let row: usize = runs.iter().map(|r| r.1).sum();
    let dst = args[out];
    for o in 0..outer {
        let mut at = o * row;
        for &(src, run) in &runs {
            // SAFETY: input and output hold `outer` runs of these lengths (their shapes were
            // checked above); an interpreted node's output is a buffer of its own, which the
            // memory plan never overlaps with the node's inputs (they are live together).
            unsafe { std::ptr::copy_nonoverlapping(src.add(o * run), dst.add(at), run) };
            at += run;
        }
    }
    true
}

#[cfg(test)]
mod tests;
