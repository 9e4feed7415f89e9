//! Attributes of the control-flow ops.

use crate::graph::Graph;
use serde::{Deserialize, Serialize};

/// Scan's body and how it walks its inputs and stacks its outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanAttrs {
    pub body: Box<Graph>,
    /// How many of the node's first inputs (and the body's first outputs) are states.
    pub states: usize,
    /// How many inputs after the states are scanned.
    pub scan_inputs: usize,
    /// Per scanned input: the axis it is sliced along (negative from the end), and whether
    /// it is walked from its last slice.
    pub input_axes: Vec<i64>,
    pub input_reverse: Vec<bool>,
    /// Per scan output: the axis its elements are stacked along (negative from the end of
    /// the stacked rank), and whether the last iteration's element comes first.
    pub output_axes: Vec<i64>,
    pub output_reverse: Vec<bool>,
}
