//! `define_raw`: a hand-built function is compiled, finalized and called.

use crate::cpu::jit::JitCompiler;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, types};

/// Writes `out[i] = 2 * x[i]` for i in [begin, end): args[0] = x, args[1] = out.
#[test]
fn raw_function_doubles_a_range() {
    let mut jit = JitCompiler::new().unwrap();
    let f = jit
        .define_raw("double", &mut |b, [args, begin, end], ptr| {
            let flags = MemFlagsData::trusted();
            let x = b.ins().load(ptr, flags, args, 0);
            let out = b.ins().load(ptr, flags, args, 8);
            let head = b.create_block();
            let body = b.create_block();
            let exit = b.create_block();
            b.append_block_param(head, types::I64);
            b.ins().jump(head, &[begin.into()]);
            b.switch_to_block(head);
            let i = b.block_params(head)[0];
            let more = b.ins().icmp(
                cranelift_codegen::ir::condcodes::IntCC::SignedLessThan,
                i,
                end,
            );
            b.ins().brif(more, body, &[], exit, &[]);
            b.switch_to_block(body);
            let off = b.ins().imul_imm_s(i, 4);
            let src = b.ins().iadd(x, off);
            let dst = b.ins().iadd(out, off);
            let v = b.ins().load(types::F32, flags, src, 0);
            let v2 = b.ins().fadd(v, v);
            b.ins().store(flags, v2, dst, 0);
            let next = b.ins().iadd_imm_s(i, 1);
            b.ins().jump(head, &[next.into()]);
            b.switch_to_block(exit);
            b.ins().return_(&[]);
            Ok(())
        })
        .unwrap();
    let code = jit.finish().unwrap();
    let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
    let mut out = vec![0f32; 10];
    let args = [x.as_ptr() as *mut u8, out.as_mut_ptr() as *mut u8];
    unsafe { code.get(f)(args.as_ptr(), 2, 7) };
    let want: Vec<f32> = (0..10)
        .map(|i| {
            if (2..7).contains(&i) {
                2.0 * i as f32
            } else {
                0.0
            }
        })
        .collect();
    assert_eq!(out, want);
}

/// Two functions with the same name in one module, both callable; the code is `Send + Sync`.
#[test]
fn repeated_names_and_shared_code() {
    let mut jit = JitCompiler::new().unwrap();
    let mut fs = Vec::new();
    for k in 0..2i64 {
        fs.push(
            jit.define_raw("same", &mut |b, [args, _, _], ptr| {
                let out = b.ins().load(ptr, MemFlagsData::trusted(), args, 0);
                let v = b.ins().iconst(types::I64, 40 + k);
                b.ins().store(MemFlagsData::trusted(), v, out, 0);
                b.ins().return_(&[]);
                Ok(())
            })
            .unwrap(),
        );
    }
    let code = std::sync::Arc::new(jit.finish().unwrap());
    let c2 = code.clone();
    let f1 = fs[1];
    let h = std::thread::spawn(move || {
        let mut v = 0i64;
        let args = [&mut v as *mut i64 as *mut u8];
        unsafe { c2.get(f1)(args.as_ptr(), 0, 0) };
        v
    });
    assert_eq!(h.join().unwrap(), 41);
    let mut v = 0i64;
    let args = [&mut v as *mut i64 as *mut u8];
    unsafe { code.get(fs[0])(args.as_ptr(), 0, 0) };
    assert_eq!(v, 40);
}
