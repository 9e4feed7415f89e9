//! Kernel bodies: SSA lists of scalar instructions evaluated at one iteration point.
//!
//! Invariants: an instruction refers only to earlier instructions; every value has one
//! [`Scalar`] type, given by [`Body::types`]; binary operands have the same type (the lowering
//! inserts casts); `Select`'s condition is `Bool`.

use crate::kernel::access::Access;
use serde::{Deserialize, Serialize};

/// Index of an instruction in [`Body::insts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstId(pub u32);

impl InstId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The types kernels compute in. Storage types map onto them on load and back on store:
/// f32, f16 and bf16 compute as `F32`; i32 as `I32`; i64 as `I64`; bool as `Bool` (one byte,
/// 0 or 1, in memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scalar {
    F32,
    I32,
    I64,
    Bool,
}

impl Scalar {
    /// The compute type of a storage dtype, if kernels handle it.
    pub fn of(dtype: ir::DType) -> Option<Scalar> {
        use ir::DType as D;
        match dtype {
            D::F32 | D::F16 | D::BF16 => Some(Scalar::F32),
            D::I32 => Some(Scalar::I32),
            D::I64 => Some(Scalar::I64),
            D::Bool => Some(Scalar::Bool),
            D::F64
            | D::I8
            | D::U8
            | D::I16
            | D::U16
            | D::U32
            | D::U64
            | D::F8E4M3FN
            | D::F8E4M3FNUZ
            | D::F8E5M2
            | D::F8E5M2FNUZ
            | D::F8E8M0
            | D::F4E2M1
            | D::I4
            | D::U4
            | D::I2
            | D::U2 => None,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Scalar::F32)
    }
}

/// One-operand scalar functions. Float functions take and give `F32`; `Not` is on `Bool`;
/// `Neg`, `Abs` and `Sign` also work on integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnaryFn {
    Neg,
    Abs,
    Sign,
    Exp,
    Log,
    Sqrt,
    /// 1 / x.
    Recip,
    Tanh,
    Erf,
    /// 1 / (1 + e^-x).
    Sigmoid,
    Floor,
    Ceil,
    /// Half to even.
    Round,
    Sin,
    Cos,
    Not,
}

/// Two-operand scalar functions. Comparisons give `Bool`; `And`, `Or`, `Xor` take `Bool`;
/// `Div` and `Pow` are on `F32` only (lowering leaves integer division to the interpreter,
/// which reports division by zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Pow,
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
}

impl BinaryFn {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryFn::Eq | BinaryFn::Lt | BinaryFn::Le | BinaryFn::Gt | BinaryFn::Ge
        )
    }
}

/// One scalar instruction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Inst {
    /// Reads an element, converting its storage dtype to its [`Scalar`] type.
    Load(Access),
    /// A constant of type `ty` (`value` is converted: truncated for integers, `!= 0` for bool).
    Const {
        value: f64,
        ty: Scalar,
    },
    Unary(UnaryFn, InstId),
    Binary(BinaryFn, InstId, InstId),
    /// `cond ? a : b`.
    Select(InstId, InstId, InstId),
    /// Numeric conversion (float to int truncates toward zero; to bool is `!= 0`).
    Cast(InstId, Scalar),
    /// The value the kernel's anchor computed at this point: the normalized element of a row
    /// kernel, the reduced value of a reduction, the accumulator of a contraction or
    /// convolution. `F32`. Appears only in epilogues.
    Anchor,
    /// The iteration index along dim `d`, as `I64` (for Trilu, EyeLike, Range-like masks).
    Index(usize),
}

/// Writes `value` to buffer `arg` at the iteration point, densely (see the module invariants of
/// [`crate::kernel`]), converting to the buffer's dtype.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Store {
    pub value: InstId,
    pub arg: usize,
}

/// A list of instructions and the stores made from them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    pub insts: Vec<Inst>,
    pub stores: Vec<Store>,
}

impl Body {
    /// Appends an instruction and returns its id.
    pub fn push(&mut self, inst: Inst) -> InstId {
        self.insts.push(inst);
        InstId(self.insts.len() as u32 - 1)
    }

    /// The type of every instruction, given the compute type of each kernel arg.
    pub fn types(&self, arg_types: &[Scalar]) -> Vec<Scalar> {
        let mut tys: Vec<Scalar> = Vec::with_capacity(self.insts.len());
        for inst in &self.insts {
            let t = match inst {
                Inst::Load(a) => arg_types[a.arg],
                Inst::Const { ty, .. } => *ty,
                Inst::Unary(_, x) => tys[x.index()],
                Inst::Binary(f, a, _) => {
                    if f.is_comparison() {
                        Scalar::Bool
                    } else {
                        tys[a.index()]
                    }
                }
                Inst::Select(_, a, _) => tys[a.index()],
                Inst::Cast(_, to) => *to,
                Inst::Anchor => Scalar::F32,
                Inst::Index(_) => Scalar::I64,
            };
            tys.push(t);
        }
        tys
    }
}
