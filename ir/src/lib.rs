//! tenfold's tensor IR: dtypes, shapes, the op set, graphs with typed ids, shape and dtype
//! inference, ONNX import, a text form for tests, and the reference interpreter that defines
//! what every op means.
//!
//! Architecture invariant: this crate knows nothing of egg, Cranelift or CUDA.

pub mod convert;
pub mod cost;
pub mod dtype;
pub mod error;
pub mod graph;
pub mod infer;
pub mod interp;
pub mod minifloat;
pub mod onnx;
pub mod op;
pub mod shape;
pub mod tensor;
pub mod text;

pub use dtype::DType;
pub use error::{Error, OpError};
pub use graph::{Graph, Node, NodeId, Source, Value, ValueId};
pub use op::Op;
pub use shape::{Dim, Shape, TensorType};
pub use tensor::{Data, Tensor};
