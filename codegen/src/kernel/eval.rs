//! The reference evaluator of the kernel IR: slow, scalar, obviously right. It defines what a
//! kernel means for the tests of lowering (lowered program ≡ `ir::interp`) and of the backends
//! (generated code ≡ this).
//!
//! Semantics: `F32` values compute in f32 (`exp`, `ln`, `tanh`... of f32; `Erf` exactly as
//! `ir::interp`'s, rounded to f32); integers wrap; float→int casts truncate and saturate, NaN
//! giving 0; `Max`/`Min` propagate NaN. Row normalizations run in f32 with two passes and
//! left-to-right sums; reductions, contractions and convolutions accumulate in f32 in
//! row-major order of the summed index. A malformed kernel is an error, never a panic.

mod anchors;
mod body;
mod column;
mod memory;

use crate::error::CodegenError;
use crate::kernel::buffer::BufferKind;
use crate::kernel::kinds::{InterpKernel, Kernel, KernelKind};
use crate::kernel::program::Program;
use ir::Tensor;
use memory::Buf;

/// Runs one kernel on its arguments: `args[i]` is the tensor of `kernel.args[i]`, written in
/// place. Index checks are made first, as the runtime makes them.
pub fn eval_kernel(kernel: &Kernel, args: &mut [Tensor]) -> Result<(), CodegenError> {
    let bad = |msg: String| CodegenError::Jit {
        kernel: kernel.name.clone(),
        msg,
    };
    if args.len() != kernel.args.len() {
        return Err(bad(format!(
            "{} arguments given, the kernel has {}",
            args.len(),
            kernel.args.len()
        )));
    }
    check_indices(kernel, args)?;
    if let KernelKind::Interp(k) = &kernel.kind {
        return interp(kernel, k, args);
    }
    let mut bufs: Vec<Buf> = args
        .iter_mut()
        .map(|t| Buf::from_tensor(std::mem::replace(t, Tensor::scalar_f32(0.0))))
        .collect();
    let result = match &kernel.kind {
        KernelKind::Pointwise(k) => {
            body::run_body(&k.body, &mut bufs, &k.shape, None, None).map(|_| ())
        }
        KernelKind::Row(k) => anchors::row(k, &mut bufs),
        KernelKind::Reduce(k) => anchors::reduce(k, &mut bufs),
        KernelKind::Gemm(k) => anchors::gemm(k, &mut bufs),
        KernelKind::Conv(k) => anchors::conv(k, &mut bufs),
        KernelKind::Interp(_) => Ok(()),
    };
    // Put the tensors back even on failure, so the caller's buffers stay well-formed.
    for (slot, buf) in args.iter_mut().zip(bufs) {
        *slot = buf.into_tensor().map_err(&bad)?;
    }
    result.map_err(bad)
}

/// Allocates every buffer of `p` (inputs from `inputs`, constants, zeroed temps and outputs),
/// runs the kernels in order and returns the outputs in order.
pub fn eval_program(p: &Program, inputs: &[Tensor]) -> Result<Vec<Tensor>, CodegenError> {
    if inputs.len() != p.inputs.len() {
        return Err(CodegenError::Input {
            name: String::new(),
            msg: format!(
                "{} inputs given, the program takes {}",
                inputs.len(),
                p.inputs.len()
            ),
        });
    }
    let mut mem: Vec<Tensor> = Vec::with_capacity(p.buffers.len());
    for decl in &p.buffers {
        let t = match &decl.kind {
            BufferKind::Input(i) => {
                let t = inputs.get(*i).ok_or_else(|| CodegenError::Input {
                    name: decl.name.clone(),
                    msg: format!("no tensor for input {i}"),
                })?;
                if t.dtype() != decl.dtype || t.shape() != decl.shape.as_slice() {
                    return Err(CodegenError::Input {
                        name: decl.name.clone(),
                        msg: format!(
                            "expected {}{:?}, got {}{:?}",
                            decl.dtype,
                            decl.shape,
                            t.dtype(),
                            t.shape()
                        ),
                    });
                }
                t.clone()
            }
            BufferKind::Constant(t) => (**t).clone(),
            BufferKind::Temp | BufferKind::Output(_) => {
                Tensor::zeros(decl.dtype, decl.shape.clone())
            }
        };
        mem.push(t);
    }
    for kernel in &p.kernels {
        let mut args = Vec::with_capacity(kernel.args.len());
        for (k, b) in kernel.args.iter().enumerate() {
            let slot = mem.get_mut(b.index()).ok_or_else(|| CodegenError::Jit {
                kernel: kernel.name.clone(),
                msg: format!("arg {k} is buffer {}, which does not exist", b.0),
            })?;
            // A buffer listed twice is read through a copy (writes go to the first listing).
            if kernel.args[..k].contains(b) {
                args.push(slot.clone());
            } else {
                args.push(std::mem::replace(slot, Tensor::scalar_f32(0.0)));
            }
        }
        let result = eval_kernel(kernel, &mut args);
        for (k, (b, t)) in kernel.args.iter().zip(args).enumerate() {
            if !kernel.args[..k].contains(b) {
                mem[b.index()] = t;
            }
        }
        result?;
    }
    p.outputs
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let t = mem.get(b.index()).ok_or_else(|| CodegenError::Jit {
                kernel: String::new(),
                msg: format!("output buffer {} does not exist", b.0),
            })?;
            t.clone()
                .reshaped(p.output_shape(i).to_vec())
                .map_err(|e| CodegenError::Jit {
                    kernel: String::new(),
                    msg: format!("output {i}: {e}"),
                })
        })
        .collect()
}

/// The runtime's bounds checks of index buffers.
fn check_indices(kernel: &Kernel, args: &[Tensor]) -> Result<(), CodegenError> {
    for c in &kernel.index_checks {
        let t = args.get(c.arg).ok_or_else(|| CodegenError::Jit {
            kernel: kernel.name.clone(),
            msg: format!("index check of arg {} of a kernel with fewer", c.arg),
        })?;
        let idx = t.to_i64_vec().map_err(|e| CodegenError::Jit {
            kernel: kernel.name.clone(),
            msg: format!("index check of a non-integer buffer: {e}"),
        })?;
        if let Some(j) = idx.iter().find(|&&j| j < -c.extent || j >= c.extent) {
            return Err(CodegenError::Run(ir::Error::Node {
                node: c.node.clone(),
                op: kernel.name.clone(),
                msg: format!("index {j} is out of range [-{e}, {e})", e = c.extent),
            }));
        }
    }
    Ok(())
}

/// Runs an interpreted node on copies of its inputs and writes its outputs into their args.
fn interp(kernel: &Kernel, k: &InterpKernel, args: &mut [Tensor]) -> Result<(), CodegenError> {
    let bad = |msg: String| CodegenError::Jit {
        kernel: kernel.name.clone(),
        msg,
    };
    let node = kernel
        .nodes
        .first()
        .cloned()
        .unwrap_or_else(|| kernel.name.clone());
    let outs = {
        let mut ins: Vec<Option<&Tensor>> = Vec::with_capacity(k.inputs.len());
        for i in &k.inputs {
            match i {
                Some(a) => ins
                    .push(Some(args.get(*a).ok_or_else(|| {
                        bad(format!("input arg {a} of a kernel with fewer"))
                    })?)),
                None => ins.push(None),
            }
        }
        ir::interp::eval(&k.op, &ins, k.outputs.len())
            .map_err(|e| CodegenError::Run(ir::Error::node(&node, k.op.name(), e)))?
    };
    for (t, slot) in outs.into_iter().zip(&k.outputs) {
        let Some(a) = slot else { continue };
        let dst = args
            .get_mut(*a)
            .ok_or_else(|| bad(format!("output arg {a} of a kernel with fewer")))?;
        if t.dtype() != dst.dtype() || t.len() != dst.len() {
            return Err(bad(format!(
                "the node gave {}{:?}, its buffer is {}{:?}",
                t.dtype(),
                t.shape(),
                dst.dtype(),
                dst.shape()
            )));
        }
        let shape = dst.shape().to_vec();
        *dst = t.reshaped(shape).map_err(|e| bad(e.0))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
