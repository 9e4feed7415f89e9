//! Shapes with static and symbolic dims, and the value types shape inference assigns.

use crate::dtype::DType;
use crate::error::OpError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One dimension: a known size, or a name standing for a size fixed only when inputs arrive
/// (`batch`, `seq`). Two symbolic dims with the same name are equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dim {
    Static(usize),
    Symbolic(String),
}

impl Dim {
    pub fn as_static(&self) -> Option<usize> {
        match self {
            Dim::Static(n) => Some(*n),
            Dim::Symbolic(_) => None,
        }
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Dim {
        Dim::Static(n)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Static(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => f.write_str(s),
        }
    }
}

/// A shape as a list of dims.
pub type Shape = Vec<Dim>;

/// A static shape as dims.
pub fn static_shape(dims: &[usize]) -> Shape {
    dims.iter().map(|&d| Dim::Static(d)).collect()
}

/// The concrete sizes of a shape, if every dim is static.
pub fn concrete(shape: &[Dim]) -> Option<Vec<usize>> {
    shape.iter().map(Dim::as_static).collect()
}

/// Formats a shape as `[2,seq,64]`.
pub fn display_shape(shape: &[Dim]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(","))
}

/// The type of a value: its dtype and, when known, its shape. `shape: None` means even the rank
/// is unknown (a data-dependent reshape of unknown length, say).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Option<Shape>,
}

impl TensorType {
    pub fn new(dtype: DType, shape: Shape) -> TensorType {
        TensorType {
            dtype,
            shape: Some(shape),
        }
    }

    pub fn unknown_shape(dtype: DType) -> TensorType {
        TensorType { dtype, shape: None }
    }

    pub fn rank(&self) -> Option<usize> {
        self.shape.as_ref().map(Vec::len)
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shape {
            Some(s) => write!(f, "{}{}", self.dtype, display_shape(s)),
            None => write!(f, "{}[?]", self.dtype),
        }
    }
}

/// Numpy broadcasting of two static shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, OpError> {
    let n = a.len().max(b.len());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out.push(match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(OpError::new(format!(
                    "shapes {a:?} and {b:?} do not broadcast"
                )));
            }
        });
    }
    Ok(out)
}

/// Numpy broadcasting of several static shapes.
pub fn broadcast_all(shapes: &[&[usize]]) -> Result<Vec<usize>, OpError> {
    shapes
        .iter()
        .try_fold(Vec::new(), |acc, s| broadcast(&acc, s))
}

/// Numpy broadcasting of two shapes that may hold symbolic dims. A symbolic dim against 1 keeps
/// the symbol; against a static size other than 1 it takes that size (the only legal value).
pub fn broadcast_dims(a: &[Dim], b: &[Dim]) -> Result<Shape, OpError> {
    let n = a.len().max(b.len());
    let one = Dim::Static(1);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            &a[i + a.len() - n]
        } else {
            &one
        };
        let db = if i + b.len() >= n {
            &b[i + b.len() - n]
        } else {
            &one
        };
        out.push(match (da, db) {
            (x, y) if x == y => x.clone(),
            (Dim::Static(1), y) => y.clone(),
            (x, Dim::Static(1)) => x.clone(),
            (Dim::Symbolic(_), y @ Dim::Static(_)) => y.clone(),
            (x @ Dim::Static(_), Dim::Symbolic(_)) => x.clone(),
            (x @ Dim::Symbolic(_), Dim::Symbolic(_)) => x.clone(),
            _ => {
                return Err(OpError::new(format!(
                    "shapes {} and {} do not broadcast",
                    display_shape(a),
                    display_shape(b)
                )));
            }
        });
    }
    Ok(out)
}

/// Resolves a possibly negative axis against `rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, OpError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(OpError::new(format!(
            "axis {axis} is out of range for rank {rank}"
        )));
    }
    Ok(a as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast(&[2, 1, 4], &[3, 1]).unwrap(), vec![2, 3, 4]);
        assert!(broadcast(&[2, 3], &[4]).is_err());
        let s = broadcast_dims(
            &[Dim::Symbolic("b".into()), Dim::Static(1)],
            &[Dim::Static(5)],
        )
        .unwrap();
        assert_eq!(s, vec![Dim::Symbolic("b".into()), Dim::Static(5)]);
    }

    #[test]
    fn negative_axes_resolve() {
        assert_eq!(normalize_axis(-1, 3).unwrap(), 2);
        assert!(normalize_axis(3, 3).is_err());
        assert!(normalize_axis(-4, 3).is_err());
    }
}
