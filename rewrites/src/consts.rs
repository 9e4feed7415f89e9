//! The constant pool: every tensor the e-graph knows by value, interned by content so that equal
//! constants are one e-node, with the name each had in the source graph.

use ir::Tensor;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Index of a tensor in a [`ConstPool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConstId(pub u32);

/// Interned constant tensors.
#[derive(Debug, Default)]
pub struct ConstPool {
    tensors: Vec<Arc<Tensor>>,
    names: Vec<String>,
    by_content: HashMap<u64, Vec<ConstId>>,
}

/// Elements a content hash reads: large weights are hashed on an even sample (equality is
/// decided by a full comparison), so interning a 64 MB weight does not copy it.
const HASH_SAMPLE: usize = 4096;

fn content_hash(t: &Tensor) -> u64 {
    let mut h = DefaultHasher::new();
    t.dtype().hash(&mut h);
    t.shape().hash(&mut h);
    let n = t.len();
    if n <= HASH_SAMPLE {
        t.data().to_le_bytes().hash(&mut h);
    } else {
        let picks: Vec<usize> = (0..HASH_SAMPLE).map(|k| k * n / HASH_SAMPLE).collect();
        t.data().gather(&picks).to_le_bytes().hash(&mut h);
    }
    h.finish()
}

impl ConstPool {
    /// The id of a tensor equal to `t`, adding it if new. `name` is kept for the first one.
    pub fn intern(&mut self, t: Arc<Tensor>, name: &str) -> ConstId {
        let h = content_hash(&t);
        let bucket = self.by_content.entry(h).or_default();
        for &id in bucket.iter() {
            if *self.tensors[id.0 as usize] == *t {
                return id;
            }
        }
        let id = ConstId(self.tensors.len() as u32);
        self.tensors.push(t);
        self.names.push(name.to_string());
        bucket.push(id);
        id
    }

    pub fn get(&self, id: ConstId) -> &Arc<Tensor> {
        &self.tensors[id.0 as usize]
    }

    /// The source graph's name for the constant, or "" for one a rule made.
    pub fn name(&self, id: ConstId) -> &str {
        &self.names[id.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }
}
