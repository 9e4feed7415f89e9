//! `GridSample`: samples `x` (N, C, D1..Dk) at the normalized positions of `grid`
//! (N, O1..Om, k), whose last axis lists coordinates innermost spatial axis first.

use crate::error::OpError;
use crate::interp::req;
use crate::op::{GridPadding, ResizeMode};
use crate::op_err;
use crate::tensor::Tensor;

/// The cubic convolution weights (Keys, a = -0.75) of the taps at offsets -1, 0, 1, 2 from
/// `floor(x)`, for `t = x - floor(x)`.
fn cubic_weights(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// Reflects `x` at the borders `lo` and `hi` until it lies within them.
pub(crate) fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let range = hi - lo;
    if range <= 0.0 || !x.is_finite() {
        return lo;
    }
    let (dx, from_low) = if x < lo {
        (lo - x, true)
    } else if x > hi {
        (x - hi, false)
    } else {
        return x;
    };
    let flips = (dx / range).floor();
    let rest = dx - flips * range;
    let even = flips % 2.0 == 0.0;
    match (from_low, even) {
        (true, true) | (false, false) => lo + rest,
        (true, false) | (false, true) => hi - rest,
    }
}

/// Geometry of one spatial axis: its size and the borders used by padding.
#[derive(Clone, Copy)]
struct Axis {
    size: usize,
    lo: f64,
    hi: f64,
}

impl Axis {
    fn new(size: usize, align_corners: bool) -> Axis {
        let (lo, hi) = if align_corners {
            (0.0, size as f64 - 1.0)
        } else {
            (-0.5, size as f64 - 0.5)
        };
        Axis { size, lo, hi }
    }

    /// The input coordinate of normalized position `n` in [-1, 1].
    fn denormalize(&self, n: f64, align_corners: bool) -> f64 {
        let d = self.size as f64;
        if align_corners {
            (n + 1.0) / 2.0 * (d - 1.0)
        } else {
            ((n + 1.0) * d - 1.0) / 2.0
        }
    }

    /// Brings a coordinate outside the borders back in, as `border` and `reflection` do.
    fn pad_coordinate(&self, x: f64, padding: GridPadding) -> f64 {
        if x >= self.lo && x <= self.hi {
            return x;
        }
        match padding {
            GridPadding::Zeros => x,
            GridPadding::Border => x.clamp(0.0, self.size as f64 - 1.0),
            GridPadding::Reflection => reflect(x, self.lo, self.hi),
        }
    }

    /// The element index that integer position `i` reads, or `None` for a zero.
    fn resolve(&self, i: i64, padding: GridPadding) -> Option<usize> {
        let last = self.size as i64 - 1;
        match padding {
            GridPadding::Zeros => (0..=last).contains(&i).then_some(i as usize),
            GridPadding::Border => Some(i.clamp(0, last) as usize),
            GridPadding::Reflection => {
                Some((reflect(i as f64, self.lo, self.hi) as i64).clamp(0, last) as usize)
            }
        }
    }

    /// The (index, weight) taps sampling coordinate `x` along this axis.
    fn taps(&self, x: f64, mode: ResizeMode, padding: GridPadding) -> Vec<(Option<usize>, f64)> {
        match mode {
            ResizeMode::Nearest => {
                let x = self.pad_coordinate(x.round_ties_even(), padding);
                vec![(self.resolve(x as i64, padding), 1.0)]
            }
            ResizeMode::Linear => {
                let x = self.pad_coordinate(x, padding);
                let x0 = x.floor();
                let t = x - x0;
                let i0 = x0 as i64;
                vec![
                    (self.resolve(i0, padding), 1.0 - t),
                    (self.resolve(i0.saturating_add(1), padding), t),
                ]
            }
            ResizeMode::Cubic => {
                let x = self.pad_coordinate(x, padding);
                let x0 = x.floor();
                let i0 = x0 as i64;
                cubic_weights(x - x0)
                    .into_iter()
                    .zip(-1i64..)
                    .map(|(w, off)| (self.resolve(i0.saturating_add(off), padding), w))
                    .collect()
            }
        }
    }
}

/// inputs: x, grid.
pub fn grid_sample(
    mode: ResizeMode,
    padding: GridPadding,
    align_corners: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let grid = req(inputs, 1)?;
    if !x.dtype().is_float() || !grid.dtype().is_float() {
        return Err(op_err!(
            "x and grid must be floating point, got {} and {}",
            x.dtype(),
            grid.dtype()
        ));
    }
    let (xs, gs) = (x.shape(), grid.shape());
    if xs.len() < 3 {
        return Err(op_err!("x must have rank 3 or more, got shape {xs:?}"));
    }
    let k = xs.len() - 2;
    if gs.len() != xs.len() || gs[0] != xs[0] || gs[gs.len() - 1] != k {
        return Err(op_err!(
            "grid must have shape [{}, ..{k} output dims.., {k}] for x of shape {xs:?}, got {gs:?}",
            xs[0]
        ));
    }
    let (n, c) = (xs[0], xs[1]);
    let out_spatial = &gs[1..gs.len() - 1];
    let positions: usize = out_spatial.iter().product();
    let mut out_shape = vec![n, c];
    out_shape.extend_from_slice(out_spatial);
    let in_spatial: usize = xs[2..].iter().product();
    if in_spatial == 0 && positions > 0 && n > 0 {
        return Err(op_err!(
            "x has an empty spatial axis, shape {xs:?}; nothing to sample"
        ));
    }
    let axes: Vec<Axis> = xs[2..]
        .iter()
        .map(|&d| Axis::new(d, align_corners))
        .collect();
    let mut strides = vec![1usize; k];
    for i in (0..k.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * xs[i + 3];
    }
    let xv = x.to_f64_vec();
    let gv = grid.to_f64_vec();
    let mut out = vec![0.0f64; n * c * positions];
    for b in 0..n {
        for p in 0..positions {
            let coords = &gv[(b * positions + p) * k..(b * positions + p + 1) * k];
            // One tap list per spatial axis; coordinates come innermost axis first.
            let taps: Vec<Vec<(Option<usize>, f64)>> = axes
                .iter()
                .enumerate()
                .map(|(a, axis)| {
                    let x = axis.denormalize(coords[k - 1 - a], align_corners);
                    axis.taps(x, mode, padding)
                })
                .collect();
            let mut combos: Vec<(usize, f64)> = vec![(0, 1.0)];
            for (a, axis_taps) in taps.iter().enumerate() {
                let mut next = Vec::with_capacity(combos.len() * axis_taps.len());
                for &(offset, w) in &combos {
                    for &(idx, tw) in axis_taps {
                        if let Some(i) = idx {
                            next.push((offset + i * strides[a], w * tw));
                        }
                    }
                }
                combos = next;
            }
            for ch in 0..c {
                let base = (b * c + ch) * in_spatial;
                out[(b * c + ch) * positions + p] =
                    combos.iter().map(|&(off, w)| w * xv[base + off]).sum();
            }
        }
    }
    Ok(vec![Tensor::from_f64(x.dtype(), out_shape, &out)?])
}
