//! Sharing: matmuls that read the same input merge into one over concatenated weights.

use super::Rule;

pub fn rules() -> Vec<Rule> {
    vec![]
}
