//! What code generation needs to know about a body before emitting it: value types, which
//! instructions are used, which vary along the vectorized (innermost) dim and so stay in the
//! loop, which Mul+Add pairs fuse into an FMA, and whether the loop may run as f32x4.

use crate::error::CodegenError;
use crate::error::unsupported as bad;
use crate::kernel::{BinaryFn, Body, Inst, InstId, Scalar, UnaryFn};
use ir::DType;

/// Where a body's `Anchor` comes from, as far as the analysis cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnchorKind {
    /// The body has no anchor (a prologue, a plain pointwise kernel).
    None,
    /// A dense f32 load of this arg at the point (pointwise with an anchor).
    Dense(usize),
    /// A value that varies along the inner dim (the normalized element of a row).
    Varying,
    /// A value fixed for the whole inner loop (the reduced value at a kept point).
    Fixed,
}

/// Facts about one body for one choice of inner dim.
pub(crate) struct BodyInfo {
    pub types: Vec<Scalar>,
    /// Reachable from a store or a root (`x`).
    pub used: Vec<bool>,
    /// Depends on the inner dim: computed in the innermost loop; the rest is hoisted.
    pub variant: Vec<bool>,
    /// `Add`s computed as `fma(a, b, c)`: the Mul's operands and the addend.
    pub fma: Vec<Option<(InstId, InstId, InstId)>>,
    /// Muls folded into an FMA (not emitted on their own).
    pub folded: Vec<bool>,
    pub anchor: AnchorKind,
}

/// The operands of an instruction (including a load's indirect index).
pub(crate) fn operands(inst: &Inst) -> Vec<InstId> {
    match inst {
        Inst::Load(a) => a.indirect.iter().map(|i| i.index).collect(),
        Inst::Const { .. } | Inst::Anchor | Inst::Index(_) => Vec::new(),
        Inst::Unary(_, x) | Inst::Cast(x, _) => vec![*x],
        Inst::Binary(_, a, b) => vec![*a, *b],
        Inst::Select(c, a, b) => vec![*c, *a, *b],
    }
}

/// Checks the body's structural invariants against the kernel (operands refer backwards, args
/// and dims in range, operand types agree) so that emission can index freely.
pub(crate) fn validate(
    body: &Body,
    roots: &[InstId],
    arg_dtypes: &[DType],
    rank: usize,
    anchor: AnchorKind,
) -> Result<Vec<Scalar>, CodegenError> {
    let mut arg_types = Vec::with_capacity(arg_dtypes.len());
    for &d in arg_dtypes {
        arg_types.push(Scalar::of(d).unwrap_or(Scalar::F32));
    }
    for (k, inst) in body.insts.iter().enumerate() {
        for op in operands(inst) {
            if op.index() >= k {
                return Err(bad(format!("instruction {k} uses a later value {}", op.0)));
            }
        }
        match inst {
            Inst::Load(a) => {
                let Some(&dt) = arg_dtypes.get(a.arg) else {
                    return Err(bad(format!("load of arg {} out of range", a.arg)));
                };
                if Scalar::of(dt).is_none() {
                    return Err(bad(format!("load of unsupported dtype {dt}")));
                }
                if a.strides.len() != rank {
                    return Err(bad(format!(
                        "access of rank {} in a space of rank {rank}",
                        a.strides.len()
                    )));
                }
            }
            Inst::Index(d) if *d >= rank => {
                return Err(bad(format!("Index({d}) in a space of rank {rank}")));
            }
            Inst::Anchor if anchor == AnchorKind::None => {
                return Err(bad("Anchor in a body without one"));
            }
            _ => {}
        }
    }
    let n = body.insts.len();
    for s in &body.stores {
        let Some(&dt) = arg_dtypes.get(s.arg) else {
            return Err(bad(format!("store to arg {} out of range", s.arg)));
        };
        if Scalar::of(dt).is_none() {
            return Err(bad(format!("store of unsupported dtype {dt}")));
        }
        if s.value.index() >= n {
            return Err(bad(format!("store of undefined value {}", s.value.0)));
        }
    }
    if let Some(r) = roots.iter().find(|r| r.index() >= n) {
        return Err(bad(format!("undefined value {}", r.0)));
    }
    if let AnchorKind::Dense(a) = anchor
        && a >= arg_dtypes.len()
    {
        return Err(bad(format!("anchor arg {a} out of range")));
    }
    let types = body.types(&arg_types);
    for (k, inst) in body.insts.iter().enumerate() {
        let ok = match inst {
            Inst::Binary(_, a, b) => types[a.index()] == types[b.index()],
            Inst::Select(c, a, b) => {
                types[c.index()] == Scalar::Bool && types[a.index()] == types[b.index()]
            }
            Inst::Load(a) => a
                .indirect
                .as_ref()
                .is_none_or(|i| matches!(types[i.index.index()], Scalar::I32 | Scalar::I64)),
            _ => true,
        };
        if !ok {
            return Err(bad(format!("instruction {k}: operand types disagree")));
        }
    }
    for s in &body.stores {
        if Scalar::of(arg_dtypes[s.arg]) != Some(types[s.value.index()]) {
            return Err(bad(format!(
                "store of a {:?} value to a {} buffer",
                types[s.value.index()],
                arg_dtypes[s.arg]
            )));
        }
    }
    Ok(types)
}

impl BodyInfo {
    /// Analyzes `body` (already validated) for inner dim `inner` (`None`: no loop to hoist
    /// out of, everything is evaluated once per point).
    pub(crate) fn new(
        body: &Body,
        types: Vec<Scalar>,
        roots: &[InstId],
        inner: Option<usize>,
        anchor: AnchorKind,
        fma: bool,
    ) -> BodyInfo {
        let n = body.insts.len();
        let mut used = vec![false; n];
        for r in roots.iter().chain(body.stores.iter().map(|s| &s.value)) {
            used[r.index()] = true;
        }
        let mut uses = vec![0usize; n];
        for k in (0..n).rev() {
            if used[k] {
                for op in operands(&body.insts[k]) {
                    used[op.index()] = true;
                    uses[op.index()] += 1;
                }
            }
        }
        for r in roots.iter().chain(body.stores.iter().map(|s| &s.value)) {
            uses[r.index()] += 1;
        }
        let mut variant = vec![false; n];
        if let Some(d) = inner {
            for k in 0..n {
                variant[k] = match &body.insts[k] {
                    Inst::Load(a) => {
                        a.strides[d] != 0
                            || a.indirect
                                .as_ref()
                                .is_some_and(|i| variant[i.index.index()])
                    }
                    Inst::Anchor => match anchor {
                        AnchorKind::Dense(_) | AnchorKind::Varying => true,
                        AnchorKind::Fixed | AnchorKind::None => false,
                    },
                    Inst::Index(e) => *e == d,
                    Inst::Const { .. } => false,
                    inst => operands(inst).iter().any(|o| variant[o.index()]),
                };
            }
        }
        let mut fused = vec![None; n];
        let mut folded = vec![false; n];
        if fma {
            for k in 0..n {
                if let Inst::Binary(BinaryFn::Add, a, b) = body.insts[k]
                    && used[k]
                    && types[k] == Scalar::F32
                {
                    let single_mul = |m: InstId| {
                        matches!(body.insts[m.index()], Inst::Binary(BinaryFn::Mul, _, _))
                            && uses[m.index()] == 1
                            && !folded[m.index()]
                            // The Mul and the Add are computed in the same place.
                            && variant[m.index()] == variant[k]
                    };
                    let (m, c) = if single_mul(a) {
                        (a, b)
                    } else if single_mul(b) {
                        (b, a)
                    } else {
                        continue;
                    };
                    if let Inst::Binary(BinaryFn::Mul, x, y) = body.insts[m.index()] {
                        fused[k] = Some((x, y, c));
                        folded[m.index()] = true;
                    }
                }
            }
        }
        BodyInfo {
            types,
            used,
            variant,
            fma: fused,
            folded,
            anchor,
        }
    }

    /// Whether the body computes a polynomial function or calls a helper: its code is long, and
    /// unrolled copies cost more compile time than they save run time.
    pub(crate) fn heavy(&self, body: &Body) -> bool {
        body.insts.iter().enumerate().any(|(k, inst)| {
            self.used[k]
                && matches!(
                    inst,
                    Inst::Unary(
                        UnaryFn::Exp
                            | UnaryFn::Log
                            | UnaryFn::Tanh
                            | UnaryFn::Erf
                            | UnaryFn::Sigmoid
                            | UnaryFn::Sin
                            | UnaryFn::Cos,
                        _
                    ) | Inst::Binary(BinaryFn::Pow, _, _)
                )
        })
    }

    /// Whether the innermost loop may run as f32x4 along inner dim `d`: every varying value is
    /// f32 or a comparison mask, varying loads are unit-stride f32/bf16 without a varying
    /// gather, and varying stores are f32/bf16.
    pub(crate) fn vectorizable(&self, body: &Body, arg_dtypes: &[DType], d: usize) -> bool {
        let vec_float = |dt: DType| matches!(dt, DType::F32 | DType::BF16);
        for (k, inst) in body.insts.iter().enumerate() {
            if !self.used[k] || !self.variant[k] {
                continue;
            }
            let ty = self.types[k];
            let ok = match inst {
                Inst::Load(a) => {
                    ty == Scalar::F32
                        && vec_float(arg_dtypes[a.arg])
                        && a.strides[d] == 1
                        && a.indirect
                            .as_ref()
                            .is_none_or(|i| !self.variant[i.index.index()])
                }
                Inst::Anchor => match self.anchor {
                    AnchorKind::Dense(a) => vec_float(arg_dtypes[a]),
                    AnchorKind::Varying | AnchorKind::Fixed | AnchorKind::None => true,
                },
                Inst::Const { .. } | Inst::Index(_) => false,
                Inst::Unary(f, x) => match ty {
                    Scalar::F32 => *f != UnaryFn::Not,
                    Scalar::Bool => *f == UnaryFn::Not && self.types[x.index()] == Scalar::Bool,
                    Scalar::I32 | Scalar::I64 => false,
                },
                Inst::Binary(f, a, _) => {
                    let t = self.types[a.index()];
                    match f {
                        BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => t == Scalar::Bool,
                        BinaryFn::Eq
                        | BinaryFn::Lt
                        | BinaryFn::Le
                        | BinaryFn::Gt
                        | BinaryFn::Ge
                        | BinaryFn::Add
                        | BinaryFn::Sub
                        | BinaryFn::Mul
                        | BinaryFn::Div
                        | BinaryFn::Max
                        | BinaryFn::Min
                        | BinaryFn::Pow => t == Scalar::F32,
                    }
                }
                Inst::Select(..) => matches!(ty, Scalar::F32 | Scalar::Bool),
                Inst::Cast(x, to) => {
                    let from = self.types[x.index()];
                    matches!(
                        (from, to),
                        (Scalar::F32, Scalar::F32)
                            | (Scalar::F32, Scalar::Bool)
                            | (Scalar::Bool, Scalar::F32)
                            | (Scalar::Bool, Scalar::Bool)
                    )
                }
            };
            if !ok {
                return false;
            }
        }
        // Stores write at every point, so each is in the loop; its value must be an f32 vector
        // (or a hoisted f32, splat) into an f32 or bf16 buffer.
        body.stores
            .iter()
            .all(|s| self.types[s.value.index()] == Scalar::F32 && vec_float(arg_dtypes[s.arg]))
    }
}
