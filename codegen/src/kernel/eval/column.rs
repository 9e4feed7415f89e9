//! Columns of scalar values — one value per iteration point of a chunk — and the scalar
//! semantics of every instruction applied to them: f32 math for `F32`, wrapping arithmetic for
//! the integers, NaN-propagating `Max`/`Min`, saturating float→int casts with NaN → 0.

use crate::kernel::body::{BinaryFn, Scalar, UnaryFn};

/// The values of one instruction at every point of a chunk.
#[derive(Clone, Debug, PartialEq)]
pub enum Col {
    F32(Vec<f32>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Col {
    pub fn scalar(&self) -> Scalar {
        match self {
            Col::F32(_) => Scalar::F32,
            Col::I32(_) => Scalar::I32,
            Col::I64(_) => Scalar::I64,
            Col::Bool(_) => Scalar::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Col::F32(v) => v.len(),
            Col::I32(v) => v.len(),
            Col::I64(v) => v.len(),
            Col::Bool(v) => v.len(),
        }
    }

    /// `n` copies of a constant of type `ty`: truncated for integers, `!= 0` for bool.
    pub fn splat(value: f64, ty: Scalar, n: usize) -> Col {
        match ty {
            Scalar::F32 => Col::F32(vec![value as f32; n]),
            Scalar::I32 => Col::I32(vec![value as i32; n]),
            Scalar::I64 => Col::I64(vec![value as i64; n]),
            Scalar::Bool => Col::Bool(vec![value != 0.0; n]),
        }
    }

    /// Integer values as i64 (for indirect indices); `None` for floats and bools.
    pub fn as_indices(&self) -> Option<Vec<i64>> {
        match self {
            Col::I32(v) => Some(v.iter().map(|&x| x as i64).collect()),
            Col::I64(v) => Some(v.clone()),
            Col::F32(_) | Col::Bool(_) => None,
        }
    }

    /// Every value converted to f32 (as a `Cast` to `F32` would).
    pub fn to_f32(&self) -> Vec<f32> {
        match cast(self, Scalar::F32) {
            Col::F32(v) => v,
            Col::I32(_) | Col::I64(_) | Col::Bool(_) => Vec::new(),
        }
    }
}

/// Numeric conversion: float→int truncates toward zero, saturating, NaN → 0 (Rust `as`);
/// int→int wraps; anything→bool is `!= 0`; bool→number is 0/1.
pub fn cast(x: &Col, to: Scalar) -> Col {
    macro_rules! conv {
        ($v:expr) => {
            match to {
                Scalar::F32 => Col::F32($v.iter().map(|&e| e as f32).collect()),
                Scalar::I32 => Col::I32($v.iter().map(|&e| e as i32).collect()),
                Scalar::I64 => Col::I64($v.iter().map(|&e| e as i64).collect()),
                Scalar::Bool => unreachable!("bool targets are handled first"),
            }
        };
    }
    if to == Scalar::Bool {
        return Col::Bool(match x {
            Col::F32(v) => v.iter().map(|&e| e != 0.0).collect(),
            Col::I32(v) => v.iter().map(|&e| e != 0).collect(),
            Col::I64(v) => v.iter().map(|&e| e != 0).collect(),
            Col::Bool(v) => v.clone(),
        });
    }
    match x {
        Col::F32(v) => conv!(v),
        Col::I32(v) => conv!(v),
        Col::I64(v) => conv!(v),
        Col::Bool(v) => {
            let v: Vec<u8> = v.iter().map(|&b| b as u8).collect();
            conv!(v)
        }
    }
}

/// Applies a one-operand function; `Err` names a type the function does not take.
/// `Erf` is not handled here (see `body`): it is evaluated by `ir::interp` for identical
/// rounding.
pub fn unary(f: UnaryFn, x: &Col) -> Result<Col, String> {
    use UnaryFn as U;
    let float = |g: fn(f32) -> f32| match x {
        Col::F32(v) => Ok(Col::F32(v.iter().map(|&e| g(e)).collect())),
        other => Err(format!("{f:?} takes F32, got {:?}", other.scalar())),
    };
    match f {
        U::Neg => match x {
            Col::F32(v) => Ok(Col::F32(v.iter().map(|&e| -e).collect())),
            Col::I32(v) => Ok(Col::I32(v.iter().map(|&e| e.wrapping_neg()).collect())),
            Col::I64(v) => Ok(Col::I64(v.iter().map(|&e| e.wrapping_neg()).collect())),
            Col::Bool(_) => Err("Neg of a bool".into()),
        },
        U::Abs => match x {
            Col::F32(v) => Ok(Col::F32(v.iter().map(|&e| e.abs()).collect())),
            Col::I32(v) => Ok(Col::I32(v.iter().map(|&e| e.wrapping_abs()).collect())),
            Col::I64(v) => Ok(Col::I64(v.iter().map(|&e| e.wrapping_abs()).collect())),
            Col::Bool(_) => Err("Abs of a bool".into()),
        },
        U::Sign => match x {
            Col::F32(v) => Ok(Col::F32(v.iter().map(|&e| sign(e)).collect())),
            Col::I32(v) => Ok(Col::I32(v.iter().map(|&e| e.signum()).collect())),
            Col::I64(v) => Ok(Col::I64(v.iter().map(|&e| e.signum()).collect())),
            Col::Bool(_) => Err("Sign of a bool".into()),
        },
        U::Not => match x {
            Col::Bool(v) => Ok(Col::Bool(v.iter().map(|&e| !e).collect())),
            other => Err(format!("Not takes Bool, got {:?}", other.scalar())),
        },
        U::Exp => float(f32::exp),
        U::Log => float(f32::ln),
        U::Sqrt => float(f32::sqrt),
        U::Recip => float(|e| 1.0 / e),
        U::Tanh => float(f32::tanh),
        U::Sigmoid => float(sigmoid),
        U::Floor => float(f32::floor),
        U::Ceil => float(f32::ceil),
        U::Round => float(f32::round_ties_even),
        U::Sin => float(f32::sin),
        U::Cos => float(f32::cos),
        U::Erf => Err("Erf is evaluated by the body evaluator".into()),
    }
}

/// Sign keeping NaN and signed zero, as `ir::interp`'s Sign.
fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    }
}

/// 1 / (1 + e^-v), in f32.
fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// The larger of two floats, NaN if either is NaN (numpy `maximum`, as `ir::interp`'s Max).
pub fn nan_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}

/// The smaller of two floats, NaN if either is NaN.
pub fn nan_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.min(b)
    }
}

/// Applies a two-operand function to operands of one type; `Err` names a mismatch or a type
/// the function does not take.
pub fn binary(f: BinaryFn, a: &Col, b: &Col) -> Result<Col, String> {
    use BinaryFn as B;
    if f.is_comparison() {
        return compare(f, a, b);
    }
    match (a, b) {
        (Col::F32(x), Col::F32(y)) => {
            let g: fn(f32, f32) -> f32 = match f {
                B::Add => |p, q| p + q,
                B::Sub => |p, q| p - q,
                B::Mul => |p, q| p * q,
                B::Div => |p, q| p / q,
                B::Max => nan_max,
                B::Min => nan_min,
                B::Pow => f32::powf,
                B::And | B::Or | B::Xor => return Err(format!("{f:?} of F32 values")),
                B::Eq | B::Lt | B::Le | B::Gt | B::Ge => unreachable!("comparisons return above"),
            };
            Ok(Col::F32(x.iter().zip(y).map(|(&p, &q)| g(p, q)).collect()))
        }
        (Col::I32(x), Col::I32(y)) => {
            let g: fn(i32, i32) -> i32 = match f {
                B::Add => i32::wrapping_add,
                B::Sub => i32::wrapping_sub,
                B::Mul => i32::wrapping_mul,
                B::Max => i32::max,
                B::Min => i32::min,
                B::Div | B::Pow | B::And | B::Or | B::Xor => {
                    return Err(format!("{f:?} of I32 values"));
                }
                B::Eq | B::Lt | B::Le | B::Gt | B::Ge => unreachable!("comparisons return above"),
            };
            Ok(Col::I32(x.iter().zip(y).map(|(&p, &q)| g(p, q)).collect()))
        }
        (Col::I64(x), Col::I64(y)) => {
            let g: fn(i64, i64) -> i64 = match f {
                B::Add => i64::wrapping_add,
                B::Sub => i64::wrapping_sub,
                B::Mul => i64::wrapping_mul,
                B::Max => i64::max,
                B::Min => i64::min,
                B::Div | B::Pow | B::And | B::Or | B::Xor => {
                    return Err(format!("{f:?} of I64 values"));
                }
                B::Eq | B::Lt | B::Le | B::Gt | B::Ge => unreachable!("comparisons return above"),
            };
            Ok(Col::I64(x.iter().zip(y).map(|(&p, &q)| g(p, q)).collect()))
        }
        (Col::Bool(x), Col::Bool(y)) => {
            let g: fn(bool, bool) -> bool = match f {
                B::And | B::Min => |p, q| p && q,
                B::Or | B::Max => |p, q| p || q,
                B::Xor => |p, q| p != q,
                B::Add | B::Sub | B::Mul | B::Div | B::Pow => {
                    return Err(format!("{f:?} of Bool values"));
                }
                B::Eq | B::Lt | B::Le | B::Gt | B::Ge => unreachable!("comparisons return above"),
            };
            Ok(Col::Bool(x.iter().zip(y).map(|(&p, &q)| g(p, q)).collect()))
        }
        _ => Err(format!(
            "{f:?} of mismatched types {:?} and {:?}",
            a.scalar(),
            b.scalar()
        )),
    }
}

/// Comparisons of one type (floats: NaN compares unequal; bools: false < true).
fn compare(f: BinaryFn, a: &Col, b: &Col) -> Result<Col, String> {
    fn cmp<T: PartialOrd + Copy>(f: BinaryFn, x: &[T], y: &[T]) -> Vec<bool> {
        let g = |p: T, q: T| match f {
            BinaryFn::Eq => p == q,
            BinaryFn::Lt => p < q,
            BinaryFn::Le => p <= q,
            BinaryFn::Gt => p > q,
            BinaryFn::Ge => p >= q,
            BinaryFn::Add
            | BinaryFn::Sub
            | BinaryFn::Mul
            | BinaryFn::Div
            | BinaryFn::Max
            | BinaryFn::Min
            | BinaryFn::Pow
            | BinaryFn::And
            | BinaryFn::Or
            | BinaryFn::Xor => false,
        };
        x.iter().zip(y).map(|(&p, &q)| g(p, q)).collect()
    }
    Ok(Col::Bool(match (a, b) {
        (Col::F32(x), Col::F32(y)) => cmp(f, x, y),
        (Col::I32(x), Col::I32(y)) => cmp(f, x, y),
        (Col::I64(x), Col::I64(y)) => cmp(f, x, y),
        (Col::Bool(x), Col::Bool(y)) => cmp(f, x, y),
        _ => {
            return Err(format!(
                "{f:?} of mismatched types {:?} and {:?}",
                a.scalar(),
                b.scalar()
            ));
        }
    }))
}

/// `cond ? a : b` per point.
pub fn select(cond: &Col, a: &Col, b: &Col) -> Result<Col, String> {
    let Col::Bool(c) = cond else {
        return Err(format!("Select condition is {:?}", cond.scalar()));
    };
    fn pick<T: Copy>(c: &[bool], x: &[T], y: &[T]) -> Vec<T> {
        c.iter()
            .zip(x.iter().zip(y))
            .map(|(&k, (&p, &q))| if k { p } else { q })
            .collect()
    }
    Ok(match (a, b) {
        (Col::F32(x), Col::F32(y)) => Col::F32(pick(c, x, y)),
        (Col::I32(x), Col::I32(y)) => Col::I32(pick(c, x, y)),
        (Col::I64(x), Col::I64(y)) => Col::I64(pick(c, x, y)),
        (Col::Bool(x), Col::Bool(y)) => Col::Bool(pick(c, x, y)),
        _ => {
            return Err(format!(
                "Select of mismatched types {:?} and {:?}",
                a.scalar(),
                b.scalar()
            ));
        }
    })
}
