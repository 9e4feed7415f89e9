//! Window geometry of convolutions and pools, shared with shape inference: the spec defaults
//! for strides, dilations and pads, the auto_pad and ceil_mode arithmetic, and the output size
//! of each spatial axis.

use crate::error::OpError;
use crate::op::{AutoPad, ConvAttrs, PoolAttrs};
use crate::op_bail;

/// One spatial axis of a window op, fully resolved: output `o`, tap `t` reads input coordinate
/// `o * stride + t * dilation - pad_begin` (padding when outside `0..input`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_begin: usize,
    pub pad_end: usize,
    pub output: usize,
}

impl Axis {
    /// The input coordinate tap `t` of output `o` reads, or `None` where it falls in padding.
    pub fn input_at(&self, o: usize, t: usize) -> Option<usize> {
        (o * self.stride + t * self.dilation)
            .checked_sub(self.pad_begin)
            .filter(|&i| i < self.input)
    }

    /// Whether tap `t` of output `o` lies inside the explicitly padded input (the region
    /// `count_include_pad` counts), as opposed to the extra room ceil_mode adds past it.
    pub fn in_padded_input(&self, o: usize, t: usize) -> bool {
        o * self.stride + t * self.dilation < self.pad_begin + self.input + self.pad_end
    }
}

/// The window attributes of a conv or pool with the spec defaults filled in for the rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    /// `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`.
    pub pads: Vec<usize>,
    pub auto_pad: AutoPad,
    pub ceil_mode: bool,
}

/// The largest size, stride, dilation or pad accepted: products of two such values and their
/// sums stay far from `usize` overflow, so the window arithmetic needs no checked operations.
const MAX_EXTENT: usize = 1 << 31;

/// An error if any value of `list` exceeds [`MAX_EXTENT`].
pub fn check_bounded(name: &str, list: &[usize]) -> Result<(), OpError> {
    if let Some(v) = list.iter().find(|&&v| v > MAX_EXTENT) {
        op_bail!("{name} value {v} is too large (at most {MAX_EXTENT})");
    }
    Ok(())
}

/// `list`, or `n` copies of `default` when it is empty; an error if its length is not `n`.
fn per_axis(name: &str, list: &[usize], n: usize, default: usize) -> Result<Vec<usize>, OpError> {
    if list.is_empty() {
        return Ok(vec![default; n]);
    }
    if list.len() != n {
        op_bail!(
            "{name} has {} values, expected {n} (one per spatial axis)",
            list.len()
        );
    }
    Ok(list.to_vec())
}

impl WindowSpec {
    pub fn new(
        kernel: &[usize],
        strides: &[usize],
        dilations: &[usize],
        pads: &[usize],
        auto_pad: AutoPad,
        ceil_mode: bool,
    ) -> Result<WindowSpec, OpError> {
        let n = kernel.len();
        let spec = WindowSpec {
            kernel: kernel.to_vec(),
            strides: per_axis("strides", strides, n, 1)?,
            dilations: per_axis("dilations", dilations, n, 1)?,
            pads: per_axis("pads", pads, 2 * n, 0)?,
            auto_pad,
            ceil_mode,
        };
        for (name, list) in [
            ("kernel_shape", &spec.kernel),
            ("strides", &spec.strides),
            ("dilations", &spec.dilations),
        ] {
            if let Some(i) = list.iter().position(|&v| v == 0) {
                op_bail!("{name} must be positive, got {list:?} (axis {i} is 0)");
            }
            check_bounded(name, list)?;
        }
        check_bounded("pads", &spec.pads)?;
        Ok(spec)
    }

    /// A conv's window; `kernel` is the weight's spatial shape.
    pub fn conv(attrs: &ConvAttrs, kernel: &[usize]) -> Result<WindowSpec, OpError> {
        if let Some(k) = &attrs.kernel_shape
            && k.as_slice() != kernel
        {
            op_bail!("kernel_shape {k:?} differs from the weight's spatial shape {kernel:?}");
        }
        WindowSpec::new(
            kernel,
            &attrs.strides,
            &attrs.dilations,
            &attrs.pads,
            attrs.auto_pad,
            false,
        )
    }

    /// A pool's window.
    pub fn pool(attrs: &PoolAttrs) -> Result<WindowSpec, OpError> {
        if attrs.kernel_shape.is_empty() {
            op_bail!("kernel_shape is required");
        }
        WindowSpec::new(
            &attrs.kernel_shape,
            &attrs.strides,
            &attrs.dilations,
            &attrs.pads,
            attrs.auto_pad,
            attrs.ceil_mode,
        )
    }

    pub fn rank(&self) -> usize {
        self.kernel.len()
    }

    /// Resolves spatial axis `i` for an input of size `input`.
    pub fn axis(&self, i: usize, input: usize) -> Result<Axis, OpError> {
        let n = self.rank();
        check_bounded("input dim", &[input])?;
        let (kernel, stride, dilation) = (self.kernel[i], self.strides[i], self.dilations[i]);
        let extent = (kernel - 1) * dilation + 1;
        let axis = |pad_begin, pad_end, output| Axis {
            input,
            kernel,
            stride,
            dilation,
            pad_begin,
            pad_end,
            output,
        };
        match self.auto_pad {
            AutoPad::SameUpper | AutoPad::SameLower => {
                let output = input.div_ceil(stride);
                let total = ((output.max(1) - 1) * stride + extent).saturating_sub(input);
                let small = total / 2;
                let (begin, end) = if self.auto_pad == AutoPad::SameUpper {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                Ok(axis(begin, end, output))
            }
            AutoPad::Valid => {
                if input < extent {
                    op_bail!(
                        "spatial axis {i}: the window spans {extent} but the input has only {input} (auto_pad VALID)"
                    );
                }
                Ok(axis(0, 0, (input - extent) / stride + 1))
            }
            AutoPad::NotSet => {
                let (begin, end) = (self.pads[i], self.pads[n + i]);
                let padded = input + begin + end;
                if padded < extent {
                    op_bail!(
                        "spatial axis {i}: the window spans {extent} but the padded input has only {padded} ({input} + pads {begin} and {end})"
                    );
                }
                let mut output = if self.ceil_mode {
                    (padded - extent).div_ceil(stride) + 1
                } else {
                    (padded - extent) / stride + 1
                };
                // ceil_mode: the last window must start inside the input or its begin padding.
                if self.ceil_mode && (output - 1) * stride >= input + begin {
                    output -= 1;
                }
                Ok(axis(begin, end, output))
            }
        }
    }

    /// Resolves every spatial axis for the input's spatial shape.
    pub fn resolve(&self, input: &[usize]) -> Result<Vec<Axis>, OpError> {
        if input.len() != self.rank() {
            op_bail!(
                "the input has {} spatial dims, the window has {}",
                input.len(),
                self.rank()
            );
        }
        input
            .iter()
            .enumerate()
            .map(|(i, &d)| self.axis(i, d))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        kernel: usize,
        stride: usize,
        pads: [usize; 2],
        auto_pad: AutoPad,
        ceil: bool,
    ) -> WindowSpec {
        WindowSpec::new(&[kernel], &[stride], &[], &pads, auto_pad, ceil).unwrap()
    }

    #[test]
    fn explicit_pads_floor_and_ceil() {
        let a = spec(3, 2, [0, 0], AutoPad::NotSet, false)
            .axis(0, 4)
            .unwrap();
        assert_eq!(a.output, 1);
        let a = spec(3, 2, [0, 0], AutoPad::NotSet, true)
            .axis(0, 4)
            .unwrap();
        assert_eq!(a.output, 2);
        // The last window would start in the end padding: dropped.
        let a = spec(3, 3, [1, 1], AutoPad::NotSet, true)
            .axis(0, 2)
            .unwrap();
        assert_eq!(a.output, 1);
    }

    #[test]
    fn same_padding_splits_the_odd_pixel() {
        let up = spec(4, 1, [0, 0], AutoPad::SameUpper, false)
            .axis(0, 5)
            .unwrap();
        assert_eq!((up.pad_begin, up.pad_end, up.output), (1, 2, 5));
        let low = spec(4, 1, [0, 0], AutoPad::SameLower, false)
            .axis(0, 5)
            .unwrap();
        assert_eq!((low.pad_begin, low.pad_end, low.output), (2, 1, 5));
        let valid = spec(3, 2, [9, 9], AutoPad::Valid, false)
            .axis(0, 7)
            .unwrap();
        assert_eq!((valid.pad_begin, valid.output), (0, 3));
    }

    #[test]
    fn bad_attributes_are_errors() {
        assert!(WindowSpec::new(&[3], &[0], &[], &[], AutoPad::NotSet, false).is_err());
        assert!(WindowSpec::new(&[3, 3], &[1], &[], &[], AutoPad::NotSet, false).is_err());
        assert!(
            spec(5, 1, [0, 0], AutoPad::NotSet, false)
                .axis(0, 3)
                .is_err()
        );
    }
}
