//! Kernels of spatial sampling ops: `GridSample`, `AffineGrid`, `CenterCropPad`, `RoiAlign`,
//! `MaxUnpool`.

mod affine_grid;
mod center_crop_pad;
mod grid_sample;
mod max_unpool;
mod roi_align;

pub use affine_grid::affine_grid;
pub(crate) use affine_grid::spatial_sizes;
pub use center_crop_pad::center_crop_pad;
pub(crate) use center_crop_pad::crop_targets;
pub use grid_sample::grid_sample;
pub use max_unpool::max_unpool;
pub(crate) use max_unpool::unpooled_shape;
pub use roi_align::roi_align;
