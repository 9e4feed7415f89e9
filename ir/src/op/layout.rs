//! Attributes of layout ops.

use serde::{Deserialize, Serialize};

/// How `Pad` fills the border.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PadMode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

/// Channel order of `DepthToSpace` and `SpaceToDepth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DepthToSpaceMode {
    /// depth-column-row.
    Dcr,
    /// column-row-depth.
    Crd,
}
