//! The table of supported ONNX ops: one `reg.insert("OpType", importer)` line per op, in one
//! file per family. This table answers "which ONNX ops does tenfold import?".

mod bits;
mod cache;
mod conv;
mod detection;
mod determinant;
mod elementwise;
mod gated;
mod index;
mod layout;
mod linalg;
mod norm;
mod quant;
mod recurrent;
mod reduce;
mod resize;
mod sampling;
mod set;
mod signal;
mod stateful;

use super::{Emitter, OnnxNode};
use crate::error::Error;
use std::collections::HashMap;

/// Turns one ONNX node into graph nodes.
pub type Importer = fn(&OnnxNode, &mut Emitter) -> Result<(), Error>;

/// ONNX op type to importer.
#[derive(Default)]
pub struct Registry {
    map: HashMap<&'static str, Importer>,
}

impl Registry {
    pub fn insert(&mut self, op_type: &'static str, f: Importer) {
        let previous = self.map.insert(op_type, f);
        debug_assert!(previous.is_none(), "{op_type} registered twice");
    }

    pub fn get(&self, op_type: &str) -> Option<&Importer> {
        self.map.get(op_type)
    }

    /// The registered op types, sorted.
    pub fn op_types(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.map.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

/// Every supported op.
pub fn registry() -> Registry {
    let mut reg = Registry::default();
    elementwise::register(&mut reg);
    linalg::register(&mut reg);
    conv::register(&mut reg);
    norm::register(&mut reg);
    reduce::register(&mut reg);
    layout::register(&mut reg);
    index::register(&mut reg);
    quant::register(&mut reg);
    resize::register(&mut reg);
    sampling::register(&mut reg);
    recurrent::register(&mut reg);
    signal::register(&mut reg);
    detection::register(&mut reg);
    bits::register(&mut reg);
    set::register(&mut reg);
    gated::register(&mut reg);
    cache::register(&mut reg);
    determinant::register(&mut reg);
    stateful::register(&mut reg);
    reg
}
