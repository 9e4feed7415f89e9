//! Convolution, transposed convolution, pooling and LRN. The window arithmetic lives in
//! `geometry` (and `transpose` for ConvTranspose), which shape inference shares.

mod convolution;
pub mod geometry;
mod lrn;
pub(crate) mod pool;
pub(crate) mod transpose;

pub use convolution::{conv, conv_integer};
pub use lrn::lrn;
pub use pool::{
    average_pool, global_average_pool, global_lp_pool, global_max_pool, lp_pool, max_pool,
    pool_f32_into, pool_geometry, pool_output_shape,
};
pub use transpose::conv_transpose;
