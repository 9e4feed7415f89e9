//! Attributes of the linear-algebra ops.

use serde::{Deserialize, Serialize};

/// Y = alpha * op(A) * op(B) + beta * C.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GemmAttrs {
    pub alpha: f32,
    pub beta: f32,
    pub trans_a: bool,
    pub trans_b: bool,
}
