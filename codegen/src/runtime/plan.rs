//! Memory planning: every temporary buffer gets an offset in one arena, by liveness.
//!
//! Invariants: two temps share bytes only if their live ranges (first kernel that writes,
//! last kernel that reads) do not overlap — except that a pointwise kernel's output may take the
//! place of an input that dies in that kernel when every read of it is at the element being
//! written (in place); offsets are 64-byte aligned; gemm scratch sits after all temps.

use crate::kernel::{BufferKind, Inst, KernelKind, Program};

/// Byte alignment of every buffer in the arena (a cache line, and enough for any vector load).
pub const ALIGN: usize = 64;

/// Where each temp lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Per buffer: its offset in the arena (`None` for inputs, constants and outputs).
    pub offsets: Vec<Option<usize>>,
    /// Bytes of the arena holding temps.
    pub arena_bytes: usize,
    /// Bytes of all temps if none shared memory (to report what planning saved).
    pub unshared_bytes: usize,
    /// How many temps took an input's place in the same kernel.
    pub in_place: usize,
}

/// Plans `program`'s temps.
pub fn plan(program: &Program) -> MemoryPlan {
    let n = program.buffers.len();
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    for (i, k) in program.kernels.iter().enumerate() {
        for &b in &k.args {
            let b = b.index();
            first[b] = first[b].min(i);
            last[b] = last[b].max(i);
        }
    }
    let is_temp = |b: usize| matches!(program.buffers[b].kind, BufferKind::Temp);
    let size = |b: usize| program.buffers[b].bytes().div_ceil(ALIGN) * ALIGN;

    let mut offsets: Vec<Option<usize>> = vec![None; n];
    // Free list of (offset, len), sorted by offset.
    let mut free: Vec<(usize, usize)> = Vec::new();
    let mut arena = 0usize;
    let mut in_place = 0usize;
    for (i, k) in program.kernels.iter().enumerate() {
        let written: Vec<usize> = written_args(&k.kind)
            .into_iter()
            .map(|a| k.args[a].index())
            .filter(|&b| is_temp(b) && first[b] == i && offsets[b].is_none())
            .collect();
        let mut donors: Vec<usize> = in_place_donors(program, i);
        for &b in &written {
            // Same element width and count: element k of the output overwrites exactly the
            // bytes of element k of the donor, after the kernel has read them.
            let fits = |d: usize| {
                let (x, y) = (&program.buffers[d], &program.buffers[b]);
                x.numel() == y.numel() && x.bytes() == y.bytes()
            };
            if let Some(pos) = donors.iter().position(|&d| fits(d)) {
                let d = donors.remove(pos);
                offsets[b] = offsets[d];
                // The donor's bytes now belong to `b`; it must not be freed below.
                last[d] = usize::MAX;
                in_place += 1;
                continue;
            }
            offsets[b] = Some(take(&mut free, &mut arena, size(b)));
        }
        for &b in &k.args {
            let b = b.index();
            if is_temp(b) && last[b] == i {
                if let Some(off) = offsets[b] {
                    give(&mut free, off, size(b));
                }
                last[b] = usize::MAX;
            }
        }
    }
    // A temp no kernel writes (nothing should read it either) still gets a home.
    for b in 0..n {
        if is_temp(b) && offsets[b].is_none() && first[b] != usize::MAX {
            offsets[b] = Some(take(&mut free, &mut arena, size(b)));
        }
    }
    let unshared_bytes = (0..n).filter(|&b| is_temp(b)).map(size).sum();
    MemoryPlan {
        offsets,
        arena_bytes: arena,
        unshared_bytes,
        in_place,
    }
}

/// The args a kernel writes.
fn written_args(kind: &KernelKind) -> Vec<usize> {
    match kind {
        KernelKind::Pointwise(p) => p.body.stores.iter().map(|s| s.arg).collect(),
        KernelKind::Row(r) => r
            .prologue
            .stores
            .iter()
            .chain(&r.epilogue.stores)
            .map(|s| s.arg)
            .collect(),
        KernelKind::Reduce(r) => r.epilogue.stores.iter().map(|s| s.arg).collect(),
        KernelKind::Gemm(g) => g.epilogue.stores.iter().map(|s| s.arg).collect(),
        KernelKind::Conv(c) => c.epilogue.stores.iter().map(|s| s.arg).collect(),
        KernelKind::Interp(k) => k.outputs.iter().flatten().copied().collect(),
    }
}

/// Temps that kernel `i` (pointwise only) reads for the last time, only at the point it writes.
fn in_place_donors(program: &Program, i: usize) -> Vec<usize> {
    let k = &program.kernels[i];
    let KernelKind::Pointwise(p) = &k.kind else {
        return Vec::new();
    };
    let written: Vec<usize> = p.body.stores.iter().map(|s| s.arg).collect();
    let mut donors = Vec::new();
    for (a, &b) in k.args.iter().enumerate() {
        let b = b.index();
        if written.contains(&a) || !matches!(program.buffers[b].kind, BufferKind::Temp) {
            continue;
        }
        let dies_here = program.kernels[i + 1..]
            .iter()
            .all(|later| !later.args.iter().any(|x| x.index() == b));
        let mut loads = p.body.insts.iter().filter_map(|inst| match inst {
            Inst::Load(acc) if acc.arg == a => Some(acc),
            _ => None,
        });
        let all_dense = loads.all(|acc| acc.is_dense_over(&p.shape));
        let numel_matches = program.buffers[b].numel() == p.shape.iter().product::<usize>();
        let checked = k.index_checks.iter().any(|c| c.arg == a);
        if dies_here && all_dense && numel_matches && !checked {
            donors.push(b);
        }
    }
    donors
}

/// First fit from the free list, else grow the arena.
fn take(free: &mut Vec<(usize, usize)>, arena: &mut usize, len: usize) -> usize {
    if let Some(pos) = free.iter().position(|&(_, l)| l >= len) {
        let (off, l) = free[pos];
        if l == len {
            free.remove(pos);
        } else {
            free[pos] = (off + len, l - len);
        }
        return off;
    }
    // Extend a free block that ends at the arena's end.
    if let Some(&(off, l)) = free.last()
        && off + l == *arena
    {
        free.pop();
        *arena = off + len;
        return off;
    }
    let off = *arena;
    *arena += len;
    off
}

/// Returns a block to the free list, merging neighbours.
fn give(free: &mut Vec<(usize, usize)>, off: usize, len: usize) {
    let pos = free.partition_point(|&(o, _)| o < off);
    free.insert(pos, (off, len));
    if pos + 1 < free.len() && free[pos].0 + free[pos].1 == free[pos + 1].0 {
        free[pos].1 += free[pos + 1].1;
        free.remove(pos + 1);
    }
    if pos > 0 && free[pos - 1].0 + free[pos - 1].1 == free[pos].0 {
        free[pos - 1].1 += free[pos].1;
        free.remove(pos);
    }
}
