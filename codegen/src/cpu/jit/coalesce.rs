//! Merging of adjacent dims that every access walks as one (a contiguous `[.., S, H]` becomes
//! `[.., S·H]`): fewer, longer innermost loops, so vector loops rarely end in scalar tails.
//! Pointwise kernels merge loop dims; reductions merge adjacent reduced dims. Values are
//! unchanged: every address and the dense store order are the same functions of the merged
//! index.

use crate::kernel::{Body, Inst, LoopBinding, LoopSchedule};

/// The merged form of a pointwise kernel, when any dims merge.
pub(crate) struct Coalesced {
    pub shape: Vec<usize>,
    pub body: Body,
    pub schedule: LoopSchedule,
}

/// The stride of the merged dim `(d, d + 1)`, if the access walks the two as one.
fn merged_stride(shape: &[usize], strides: &[i64], d: usize) -> Option<i64> {
    let (n1, s0, s1) = (shape[d + 1] as i64, strides[d], strides[d + 1]);
    if n1 == 1 {
        Some(s0)
    } else if shape[d] == 1 || s0 == s1.wrapping_mul(n1) {
        Some(s1)
    } else {
        None
    }
}

/// Whether every load of `body` walks dims `d` and `d + 1` as one and no `Index` reads them.
pub(crate) fn body_mergeable(shape: &[usize], body: &Body, d: usize) -> bool {
    body.insts.iter().all(|inst| match inst {
        Inst::Index(k) => *k != d && *k != d + 1,
        Inst::Load(a) => merged_stride(shape, &a.strides, d).is_some(),
        Inst::Const { .. }
        | Inst::Unary(..)
        | Inst::Binary(..)
        | Inst::Select(..)
        | Inst::Cast(..)
        | Inst::Anchor => true,
    })
}

/// `shape` and `body` with dims `d` and `d + 1` merged (checked by [`body_mergeable`]).
pub(crate) fn merge_body(shape: &[usize], body: &Body, d: usize) -> (Vec<usize>, Body) {
    let mut new_shape = shape.to_vec();
    new_shape[d] = shape[d] * shape[d + 1];
    new_shape.remove(d + 1);
    let mut new_body = body.clone();
    for inst in &mut new_body.insts {
        match inst {
            Inst::Load(a) => {
                let m = merged_stride(shape, &a.strides, d).unwrap_or(a.strides[d + 1]);
                a.strides[d] = m;
                a.strides.remove(d + 1);
            }
            Inst::Index(k) if *k > d + 1 => *k -= 1,
            Inst::Index(_)
            | Inst::Const { .. }
            | Inst::Unary(..)
            | Inst::Binary(..)
            | Inst::Select(..)
            | Inst::Cast(..)
            | Inst::Anchor => {}
        }
    }
    (new_shape, new_body)
}

/// Whether loop dims `d` and `d + 1` may merge under `s`: adjacent in the loop order, both
/// serial and untiled, and mergeable in the body.
fn loops_mergeable(shape: &[usize], body: &Body, s: &LoopSchedule, d: usize) -> bool {
    let pos = |x: usize| s.order.iter().position(|&o| o == x);
    let (Some(p), Some(q)) = (pos(d), pos(d + 1)) else {
        return false;
    };
    let plain = |x: usize| {
        s.bindings.get(x).copied().unwrap_or(LoopBinding::Serial) == LoopBinding::Serial
            && s.tiles.get(x).is_none_or(|&t| t == 0 || t >= shape[x])
    };
    q == p + 1 && plain(d) && plain(d + 1) && body_mergeable(shape, body, d)
}

/// `v` without entry `k`.
fn without<T: Copy>(v: &[T], k: usize) -> Vec<T> {
    v.iter()
        .enumerate()
        .filter(|(i, _)| *i != k)
        .map(|(_, &x)| x)
        .collect()
}

/// The schedule of the kernel with loop dims `d` and `d + 1` merged.
fn merge_schedule(s: &LoopSchedule, d: usize) -> LoopSchedule {
    let mut out = s.clone();
    out.order = s
        .order
        .iter()
        .filter(|&&o| o != d + 1)
        .map(|&o| if o > d + 1 { o - 1 } else { o })
        .collect();
    if s.tiles.len() > d + 1 {
        out.tiles = without(&s.tiles, d + 1);
        out.tiles[d] = 0;
    }
    if s.bindings.len() > d + 1 {
        out.bindings = without(&s.bindings, d + 1);
    }
    out
}

/// Merges the loop dims of a pointwise kernel while any pair may; `None` when none does.
pub(crate) fn coalesce(shape: &[usize], body: &Body, s: &LoopSchedule) -> Option<Coalesced> {
    let mut cur: Option<Coalesced> = None;
    loop {
        let (sh, b, sc) = match &cur {
            Some(c) => (&c.shape[..], &c.body, &c.schedule),
            None => (shape, body, s),
        };
        let Some(d) = (0..sh.len().saturating_sub(1)).find(|&d| loops_mergeable(sh, b, sc, d))
        else {
            return cur;
        };
        let (shape2, body2) = merge_body(sh, b, d);
        let schedule = merge_schedule(sc, d);
        cur = Some(Coalesced {
            shape: shape2,
            body: body2,
            schedule,
        });
    }
}

/// Merges adjacent reduced dims of a reduction's prologue while any pair may: returns the new
/// shape, reduced mask and prologue, or `None` when none merge.
pub(crate) fn coalesce_reduced(
    shape: &[usize],
    reduced: &[bool],
    body: &Body,
) -> Option<(Vec<usize>, Vec<bool>, Body)> {
    let mut cur: Option<(Vec<usize>, Vec<bool>, Body)> = None;
    loop {
        let (sh, red, b) = match &cur {
            Some((s, r, b)) => (&s[..], &r[..], b),
            None => (shape, reduced, body),
        };
        let Some(d) = (0..sh.len().saturating_sub(1))
            .find(|&d| red[d] && red[d + 1] && body_mergeable(sh, b, d))
        else {
            return cur;
        };
        let (s2, b2) = merge_body(sh, b, d);
        cur = Some((s2, without(red, d + 1), b2));
    }
}
