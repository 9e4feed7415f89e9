//! Interpreted nodes the executor runs directly on their buffers instead of copying them into
//! tensors for `ir::interp`: pure data movement, whose result is the interpreter's bit for bit
//! (Concat). Anything unexpected (a shape the plan did not promise, a sub-byte dtype) leaves
//! the node to the interpreter, which reports errors.

use crate::kernel::{InterpKernel, Kernel, Program, storage_bytes};

/// Runs `ik` (the interpreted node of kernel `k`) natively when it can; `false` leaves it to
/// the interpreter.
///
/// # Safety
/// `args` hold the kernel's buffers, each with room for its declared shape and dtype.
pub(crate) unsafe fn try_run(p: &Program, k: &Kernel, ik: &InterpKernel, args: &[*mut u8]) -> bool {
    match &ik.op {
        // SAFETY: forwarded.
        ir::Op::Concat { axis } => unsafe { concat(p, k, ik, args, *axis) },
        _ => false,
    }
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
mod tests {
    use super::try_run;
    use crate::kernel::{BufferKind, KernelKind};
    use crate::lowering::{LowerOptions, lower};
    use ir::{DType, Tensor};

    /// A lowered Concat of three inputs (one of them i64 on another axis too) runs natively,
    /// bit for bit as the interpreter; an output of the wrong size is left to the interpreter.
    #[test]
    fn concat_runs_natively_and_equals_the_interpreter() {
        for (axis, shapes) in [
            (0i64, [[2usize, 3], [1, 3], [4, 3]]),
            (1, [[2, 3], [2, 1], [2, 4]]),
            (-1, [[2, 1], [2, 2], [2, 5]]),
        ] {
            for dtype in [DType::F32, DType::I64] {
                let ty = |s: &[usize; 2]| format!("{}[{},{}]", dtype, s[0], s[1]);
                let text = format!(
                    "graph c(a: {}, b: {}, d: {}) -> (y) {{\n  y = Concat{{axis={axis}}}(a, b, d)\n}}\n",
                    ty(&shapes[0]),
                    ty(&shapes[1]),
                    ty(&shapes[2]),
                );
                let mut g = ir::text::parse(&text).expect("test graph parses");
                let known = ir::infer::infer_graph_values(&mut g).expect("infers");
                let p = lower(&g, &known, &LowerOptions { fuse: true }).expect("lowers");
                let [k] = &p.kernels[..] else {
                    panic!("one kernel: {}", p.describe())
                };
                let KernelKind::Interp(ik) = &k.kind else {
                    panic!("concat is an interpreted node")
                };
                let inputs: Vec<Tensor> = shapes
                    .iter()
                    .enumerate()
                    .map(|(j, s)| {
                        let n = s[0] * s[1];
                        let v: Vec<f64> = (0..n).map(|i| (100 * j + i) as f64).collect();
                        Tensor::from_f64(dtype, s.to_vec(), &v).expect("sizes match")
                    })
                    .collect();
                let want = ir::interp::run(
                    &g,
                    &["a", "b", "d"]
                        .iter()
                        .map(|s| s.to_string())
                        .zip(inputs.iter().cloned())
                        .collect(),
                )
                .expect("interprets");
                let mut datas: Vec<ir::Data> =
                    inputs.iter().map(|t| t.clone().into_parts().2).collect();
                let out_decl = p.buffer(p.outputs[0]);
                assert!(matches!(out_decl.kind, BufferKind::Output(0)));
                let mut out = ir::Data::zeros(dtype.storage(), out_decl.numel());
                let ptr_of =
                    |b: crate::kernel::BufferId, datas: &mut Vec<ir::Data>, out: &mut ir::Data| {
                        match p.buffer(b).kind {
                            BufferKind::Input(i) => datas[i].as_mut_ptr(),
                            _ => out.as_mut_ptr(),
                        }
                    };
                let args: Vec<*mut u8> = k
                    .args
                    .iter()
                    .map(|&b| ptr_of(b, &mut datas, &mut out))
                    .collect();
                // SAFETY: each arg points at storage of its buffer's declared size.
                assert!(
                    unsafe { try_run(&p, k, ik, &args) },
                    "axis {axis} {dtype}: not native"
                );
                let got = Tensor::new(dtype, out_decl.shape.clone(), out).expect("sizes match");
                assert_eq!(got, want[0].1, "axis {axis} {dtype}");
                // A plan whose output shape disagrees with the inputs' is not run natively
                // (along the axis for axis 0, elsewhere for the others).
                let mut bad = p.clone();
                let b = bad.outputs[0].index();
                bad.buffers[b].shape[0] += 1;
                // SAFETY: `try_run` checks the shapes before touching any buffer.
                let ran = unsafe { try_run(&bad, &bad.kernels[0], ik, &args) };
                assert!(!ran, "axis {axis}: a wrong output shape was accepted");
            }
        }
    }
}
