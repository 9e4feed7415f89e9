//! Kernels of spatial sampling ops: `GridSample`, `AffineGrid`, `CenterCropPad`, `RoiAlign`,
//! `MaxUnpool`, `Col2Im`, `DeformConv`.

mod affine_grid;
mod center_crop_pad;
mod col2im;
mod deform_conv;
mod grid_sample;
mod max_unpool;
mod roi_align;

pub use affine_grid::affine_grid;
pub(crate) use affine_grid::spatial_sizes;
pub use center_crop_pad::center_crop_pad;
pub(crate) use center_crop_pad::crop_targets;
pub use col2im::col2im;
pub(crate) use col2im::col2im_shape;
pub use deform_conv::deform_conv;
pub(crate) use deform_conv::plan as deform_conv_plan;
pub use grid_sample::grid_sample;
pub use max_unpool::max_unpool;
pub(crate) use max_unpool::unpooled_shape;
pub use roi_align::roi_align;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{DeformConvAttrs, GridPadding, ResizeMode, RoiAlignAttrs, RoiPoolMode};
    use crate::tensor::Tensor;

    fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
    }

    #[test]
    fn grid_sample_bilinear_centre_is_the_mean() {
        let x = f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let grid = f32s(&[1, 1, 1, 2], &[0.0, 0.0]);
        let y = grid_sample(
            ResizeMode::Linear,
            GridPadding::Zeros,
            false,
            &[Some(&x), Some(&grid)],
        )
        .unwrap();
        assert_eq!(y[0].shape(), &[1, 1, 1, 1]);
        assert_eq!(y[0].as_f32().unwrap(), &[2.5]);
    }

    #[test]
    fn grid_sample_rejects_a_grid_of_the_wrong_rank_or_width() {
        let x = f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let grid = f32s(&[1, 1, 3], &[0.0, 0.0, 0.0]);
        let err = grid_sample(
            ResizeMode::Cubic,
            GridPadding::Border,
            true,
            &[Some(&x), Some(&grid)],
        );
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("grid must have shape")
        );
    }

    #[test]
    fn grid_sample_border_and_reflection_read_far_outside_positions() {
        let x = f32s(&[1, 1, 1, 3], &[1.0, 2.0, 3.0]);
        let grid = f32s(&[1, 1, 2, 2], &[-40.0, 0.0, 1e9, 0.0]);
        for padding in [GridPadding::Border, GridPadding::Reflection] {
            let y = grid_sample(
                ResizeMode::Nearest,
                padding,
                false,
                &[Some(&x), Some(&grid)],
            )
            .unwrap();
            assert!(
                y[0].as_f32()
                    .unwrap()
                    .iter()
                    .all(|v| [1.0, 2.0, 3.0].contains(v))
            );
        }
    }

    #[test]
    fn max_unpool_rejects_out_of_range_indices() {
        let x = f32s(&[1, 1, 1, 1], &[5.0]);
        let indices = Tensor::from_i64(vec![1, 1, 1, 1], vec![4]).unwrap();
        let err = max_unpool(&[2, 2], &[], &[2, 2], &[Some(&x), Some(&indices)]).unwrap_err();
        assert!(err.to_string().contains("indices value 4 is out of range"));
    }

    #[test]
    fn roi_align_rejects_a_bad_batch_index() {
        let x = f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let rois = f32s(&[1, 4], &[0.0, 0.0, 1.0, 1.0]);
        let batch = Tensor::from_i64(vec![1], vec![3]).unwrap();
        let attrs = RoiAlignAttrs {
            mode: RoiPoolMode::Avg,
            output_height: 1,
            output_width: 1,
            sampling_ratio: 0,
            spatial_scale: 1.0,
            half_pixel: true,
        };
        let err = roi_align(&attrs, &[Some(&x), Some(&rois), Some(&batch)]).unwrap_err();
        assert!(err.to_string().contains("batch index 3 is out of range"));
    }

    #[test]
    fn center_crop_pad_crops_one_axis_and_pads_another() {
        let x = f32s(&[3, 1], &[1.0, 2.0, 3.0]);
        let shape = Tensor::from_i64(vec![2], vec![1, 3]).unwrap();
        let y = center_crop_pad(None, &[Some(&x), Some(&shape)]).unwrap();
        assert_eq!(y[0].shape(), &[1, 3]);
        assert_eq!(y[0].as_f32().unwrap(), &[0.0, 2.0, 0.0]);
    }

    #[test]
    fn deform_conv_with_zero_offsets_is_a_plain_convolution() {
        let x = f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let w = f32s(&[1, 1, 2, 2], &[1.0, 1.0, 1.0, 1.0]);
        let offset = f32s(&[1, 8, 1, 1], &[0.0; 8]);
        let attrs = DeformConvAttrs {
            kernel_shape: vec![],
            strides: vec![],
            dilations: vec![],
            pads: vec![],
            group: 1,
            offset_group: 1,
        };
        let y = deform_conv(&attrs, &[Some(&x), Some(&w), Some(&offset)]).unwrap();
        assert_eq!(y[0].as_f32().unwrap(), &[10.0]);
    }
}
