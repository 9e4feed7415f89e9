//! A [`Body`] under construction: typed SSA pushes with common loads and constants shared, so
//! a value used several times in one kernel is computed once.

use crate::kernel::{Access, BinaryFn, Body, Inst, InstId, Scalar, Store, UnaryFn};
use std::collections::HashMap;

#[derive(Default)]
pub struct Builder {
    pub body: Body,
    types: Vec<Scalar>,
    loads: HashMap<Access, InstId>,
    consts: HashMap<(u64, Scalar), InstId>,
    pure: HashMap<PureKey, InstId>,
}

/// Instructions without memory effects, for sharing equal computations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum PureKey {
    Unary(UnaryFn, InstId),
    Binary(BinaryFn, InstId, InstId),
    Select(InstId, InstId, InstId),
    Cast(InstId, Scalar),
    Anchor,
}

impl Builder {
    pub fn ty(&self, id: InstId) -> Scalar {
        self.types[id.index()]
    }

    fn push(&mut self, inst: Inst, ty: Scalar) -> InstId {
        self.types.push(ty);
        self.body.push(inst)
    }

    pub fn load(&mut self, a: Access, ty: Scalar) -> InstId {
        if let Some(&id) = self.loads.get(&a) {
            return id;
        }
        let id = self.push(Inst::Load(a.clone()), ty);
        self.loads.insert(a, id);
        id
    }

    pub fn konst(&mut self, value: f64, ty: Scalar) -> InstId {
        let key = (value.to_bits(), ty);
        if let Some(&id) = self.consts.get(&key) {
            return id;
        }
        let id = self.push(Inst::Const { value, ty }, ty);
        self.consts.insert(key, id);
        id
    }

    fn pure(&mut self, key: PureKey, inst: Inst, ty: Scalar) -> InstId {
        if let Some(&id) = self.pure.get(&key) {
            return id;
        }
        let id = self.push(inst, ty);
        self.pure.insert(key, id);
        id
    }

    pub fn unary(&mut self, f: UnaryFn, x: InstId) -> InstId {
        let ty = self.ty(x);
        self.pure(PureKey::Unary(f, x), Inst::Unary(f, x), ty)
    }

    pub fn binary(&mut self, f: BinaryFn, a: InstId, b: InstId) -> InstId {
        let ty = if f.is_comparison() {
            Scalar::Bool
        } else {
            self.ty(a)
        };
        self.pure(PureKey::Binary(f, a, b), Inst::Binary(f, a, b), ty)
    }

    pub fn select(&mut self, c: InstId, a: InstId, b: InstId) -> InstId {
        let ty = self.ty(a);
        self.pure(PureKey::Select(c, a, b), Inst::Select(c, a, b), ty)
    }

    /// A conversion, omitted when `x` already has type `to`.
    pub fn cast(&mut self, x: InstId, to: Scalar) -> InstId {
        if self.ty(x) == to {
            return x;
        }
        self.pure(PureKey::Cast(x, to), Inst::Cast(x, to), to)
    }

    pub fn anchor(&mut self) -> InstId {
        self.pure(PureKey::Anchor, Inst::Anchor, Scalar::F32)
    }

    pub fn store(&mut self, value: InstId, arg: usize) {
        self.body.stores.push(Store { value, arg });
    }

    /// An f32 constant.
    pub fn f32(&mut self, v: f32) -> InstId {
        self.konst(v as f64, Scalar::F32)
    }

    pub fn finish(self) -> Body {
        self.body
    }
}
