//! MaxPool (with its Indices output), AveragePool, LpPool and the global pools. Values are
//! read as f64 and stored back in the input's dtype, so 8-bit integer max pools are exact.

use super::geometry::{Axis, WindowSpec};
use crate::error::OpError;
use crate::interp::req;
use crate::op::PoolAttrs;
use crate::op_bail;
use crate::tensor::{Tensor, checked_numel};

/// What a window reduces to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reduction {
    Max,
    Average { count_include_pad: bool },
    Lp(f64),
}

/// The resolved spatial axes and the output `[N, C, out...]` shape of a windowed pool over `x`
/// `[N, C, in...]`.
pub fn pool_geometry(attrs: &PoolAttrs, x: &[usize]) -> Result<(Vec<Axis>, Vec<usize>), OpError> {
    let spec = WindowSpec::pool(attrs)?;
    if x.len() != spec.rank() + 2 {
        op_bail!(
            "input must be [N, C, spatial...] with {} spatial dims (kernel_shape {:?}), got {x:?}",
            spec.rank(),
            spec.kernel
        );
    }
    let axes = spec.resolve(&x[2..])?;
    let mut out = x[..2].to_vec();
    out.extend(axes.iter().map(|a| a.output));
    checked_numel(&out)?;
    Ok((axes, out))
}

fn check_dtype(x: &Tensor, ints_ok: bool) -> Result<(), OpError> {
    let ok = x.dtype().is_float() || (ints_ok && x.dtype().is_int());
    if !ok {
        op_bail!("dtype {} is not supported", x.dtype());
    }
    Ok(())
}

/// The result of pooling: values, and for max pools the flat index of each maximum within its
/// `(n, c)` plane (row-major, or column-major with `storage_order` 1).
struct Pooled {
    values: Vec<f64>,
    argmax: Vec<usize>,
}

/// Every output position's window, built once and shared by all `(n, c)` planes.
struct Windows {
    /// Row-major offsets (within a plane) of the taps inside the input, window by window.
    offsets: Vec<usize>,
    /// The same taps numbered for the Indices output (row- or column-major).
    numbers: Vec<usize>,
    /// Window `w` is `offsets[starts[w]..starts[w + 1]]`.
    starts: Vec<usize>,
    /// Per window, how many taps lie inside the explicitly padded input.
    padded_counts: Vec<usize>,
}

impl Windows {
    fn new(axes: &[Axis], column_major: bool) -> Windows {
        let nd = axes.len();
        let inputs: Vec<usize> = axes.iter().map(|a| a.input).collect();
        let row_strides = crate::tensor::strides(&inputs);
        let mut col_strides = vec![1usize; nd];
        for d in 1..nd {
            col_strides[d] = col_strides[d - 1] * inputs[d - 1];
        }
        let number_strides = if column_major {
            &col_strides
        } else {
            &row_strides
        };
        // Per axis and output index: the input coordinates of the taps inside the input.
        let taps: Vec<Vec<Vec<usize>>> = axes
            .iter()
            .map(|a| {
                (0..a.output)
                    .map(|o| (0..a.kernel).filter_map(|t| a.input_at(o, t)).collect())
                    .collect()
            })
            .collect();
        let out_plane: usize = axes.iter().map(|a| a.output).product();
        let mut w = Windows {
            offsets: Vec::new(),
            numbers: Vec::new(),
            starts: Vec::with_capacity(out_plane + 1),
            padded_counts: Vec::with_capacity(out_plane),
        };
        let mut out_pos = vec![0usize; nd];
        let mut cur: Vec<(usize, usize)> = Vec::new();
        let mut next: Vec<(usize, usize)> = Vec::new();
        for _ in 0..out_plane {
            // The window is the product of the per-axis tap lists, built axis by axis.
            cur.clear();
            cur.push((0, 0));
            for d in 0..nd {
                next.clear();
                for &(off, num) in &cur {
                    for &i in &taps[d][out_pos[d]] {
                        next.push((off + i * row_strides[d], num + i * number_strides[d]));
                    }
                }
                std::mem::swap(&mut cur, &mut next);
            }
            w.starts.push(w.offsets.len());
            w.offsets.extend(cur.iter().map(|&(off, _)| off));
            w.numbers.extend(cur.iter().map(|&(_, num)| num));
            w.padded_counts.push(
                axes.iter()
                    .zip(&out_pos)
                    .map(|(a, &o)| (0..a.kernel).filter(|&t| a.in_padded_input(o, t)).count())
                    .product(),
            );
            for d in (0..nd).rev() {
                out_pos[d] += 1;
                if out_pos[d] < axes[d].output {
                    break;
                }
                out_pos[d] = 0;
            }
        }
        w.starts.push(w.offsets.len());
        w
    }
}

/// The output shape of a windowed pool over an input of shape `x`.
pub fn pool_output_shape(attrs: &PoolAttrs, x: &[usize]) -> Result<Vec<usize>, OpError> {
    pool_geometry(attrs, x).map(|(_, out)| out)
}

/// MaxPool (`count_include_pad` = `None`) or AveragePool of f32 `x` `[N, C, spatial...]`
/// into `y` (the output's shape, row-major): the interpreter's values exactly, for callers
/// holding f32 buffers (the executor), without widening the data to f64 first.
pub fn pool_f32_into(
    attrs: &PoolAttrs,
    count_include_pad: Option<bool>,
    x_shape: &[usize],
    x: &[f32],
    y: &mut [f32],
) -> Result<(), OpError> {
    let (axes, out_shape) = pool_geometry(attrs, x_shape)?;
    if x.len() != x_shape.iter().product::<usize>()
        || y.len() != out_shape.iter().product::<usize>()
    {
        op_bail!("pool buffers do not match shapes {x_shape:?} -> {out_shape:?}");
    }
    let reduction = match count_include_pad {
        None => Reduction::Max,
        Some(count_include_pad) => Reduction::Average { count_include_pad },
    };
    let planes = x_shape[0] * x_shape[1];
    let in_plane: usize = axes.iter().map(|a| a.input).product();
    let windows = Windows::new(&axes, false);
    let n_windows = windows.padded_counts.len();
    for p in 0..planes {
        let plane = &x[p * in_plane..(p + 1) * in_plane];
        let out = &mut y[p * n_windows..(p + 1) * n_windows];
        for (w, o) in out.iter_mut().enumerate() {
            let taps = &windows.offsets[windows.starts[w]..windows.starts[w + 1]];
            *o = match reduction {
                // As `pool`: the first maximum wins, an empty window gives 0.
                Reduction::Max => {
                    let mut best: Option<f32> = None;
                    for &off in taps {
                        let v = plane[off];
                        if best.is_none_or(|b| v > b) {
                            best = Some(v);
                        }
                    }
                    best.unwrap_or(0.0)
                }
                // Summed in f64 and rounded once, as `pool`.
                Reduction::Average { count_include_pad } => {
                    let sum: f64 = taps.iter().map(|&off| plane[off] as f64).sum();
                    let count = if count_include_pad {
                        windows.padded_counts[w]
                    } else {
                        taps.len()
                    };
                    (sum / count as f64) as f32
                }
                Reduction::Lp(_) => op_bail!("LpPool has no f32 path"),
            };
        }
    }
    Ok(())
}

fn pool(
    x: &[f64],
    planes: usize,
    axes: &[Axis],
    reduction: Reduction,
    column_major: bool,
) -> Pooled {
    let in_plane: usize = axes.iter().map(|a| a.input).product();
    let windows = Windows::new(axes, column_major);
    let n_windows = windows.padded_counts.len();
    let mut values = Vec::with_capacity(planes * n_windows);
    let mut argmax = Vec::new();
    for p in 0..planes {
        let plane = &x[p * in_plane..(p + 1) * in_plane];
        for w in 0..n_windows {
            let range = windows.starts[w]..windows.starts[w + 1];
            let taps = &windows.offsets[range.clone()];
            values.push(match reduction {
                Reduction::Max => {
                    // The first maximum wins; an empty window (all padding) yields 0.
                    let mut best: Option<(f64, usize)> = None;
                    for (k, &off) in taps.iter().enumerate() {
                        let v = plane[off];
                        if best.is_none_or(|(b, _)| v > b) {
                            best = Some((v, k));
                        }
                    }
                    argmax.push(best.map_or(0, |(_, k)| windows.numbers[range.start + k]));
                    best.map_or(0.0, |(v, _)| v)
                }
                Reduction::Average { count_include_pad } => {
                    let sum: f64 = taps.iter().map(|&off| plane[off]).sum();
                    let count = if count_include_pad {
                        windows.padded_counts[w]
                    } else {
                        taps.len()
                    };
                    sum / count as f64
                }
                Reduction::Lp(p) => {
                    let sum: f64 = taps.iter().map(|&off| plane[off].abs().powf(p)).sum();
                    sum.powf(1.0 / p)
                }
            });
        }
    }
    Pooled { values, argmax }
}

fn windowed(
    attrs: &PoolAttrs,
    x: &Tensor,
    reduction: Reduction,
    column_major: bool,
) -> Result<(Pooled, Vec<usize>), OpError> {
    check_dtype(x, reduction == Reduction::Max)?;
    let (axes, out_shape) = pool_geometry(attrs, x.shape())?;
    let planes = x.shape()[0] * x.shape()[1];
    let pooled = pool(&x.to_f64_vec(), planes, &axes, reduction, column_major);
    Ok((pooled, out_shape))
}

/// An f32 input pooled by [`pool_f32_into`] (`None` for other dtypes).
fn f32_pool(
    attrs: &PoolAttrs,
    count_include_pad: Option<bool>,
    x: &Tensor,
) -> Result<Option<Tensor>, OpError> {
    let Some(xs) = x.as_f32() else {
        return Ok(None);
    };
    let (_, out_shape) = pool_geometry(attrs, x.shape())?;
    let mut y = vec![0.0f32; checked_numel(&out_shape)?];
    pool_f32_into(attrs, count_include_pad, x.shape(), xs, &mut y)?;
    Ok(Some(Tensor::from_f32(out_shape, y)?))
}

pub fn max_pool(
    attrs: &PoolAttrs,
    storage_order: i64,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let column_major = match storage_order {
        0 => false,
        1 => true,
        s => op_bail!("storage_order must be 0 or 1, got {s}"),
    };
    let x = req(inputs, 0)?;
    if n_outputs < 2
        && let Some(y) = f32_pool(attrs, None, x)?
    {
        return Ok(vec![y]);
    }
    let (pooled, out_shape) = windowed(attrs, x, Reduction::Max, column_major)?;
    let y = Tensor::from_f64(x.dtype(), out_shape.clone(), &pooled.values)?;
    if n_outputs < 2 {
        return Ok(vec![y]);
    }
    let in_plane: usize = x.shape()[2..].iter().product();
    let out_plane: usize = out_shape[2..].iter().product();
    let indices: Vec<i64> = pooled
        .argmax
        .iter()
        .enumerate()
        .map(|(k, &i)| ((k / out_plane.max(1)) * in_plane + i) as i64)
        .collect();
    Ok(vec![y, Tensor::from_i64(out_shape, indices)?])
}

pub fn average_pool(
    attrs: &PoolAttrs,
    count_include_pad: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    if let Some(y) = f32_pool(attrs, Some(count_include_pad), x)? {
        return Ok(vec![y]);
    }
    let (pooled, out_shape) = windowed(attrs, x, Reduction::Average { count_include_pad }, false)?;
    Ok(vec![Tensor::from_f64(
        x.dtype(),
        out_shape,
        &pooled.values,
    )?])
}

pub fn lp_pool(
    attrs: &PoolAttrs,
    p: f32,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    if p <= 0.0 || p.is_nan() {
        op_bail!("p must be positive, got {p}");
    }
    let x = req(inputs, 0)?;
    let (pooled, out_shape) = windowed(attrs, x, Reduction::Lp(p as f64), false)?;
    Ok(vec![Tensor::from_f64(
        x.dtype(),
        out_shape,
        &pooled.values,
    )?])
}

/// Reduces each `(n, c)` plane of `x` `[N, C, spatial...]` to one value.
fn global(
    inputs: &[Option<&Tensor>],
    reduce: impl Fn(&[f64]) -> f64,
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    check_dtype(x, false)?;
    if x.rank() < 2 {
        op_bail!(
            "input must be [N, C, spatial...], got shape {:?}",
            x.shape()
        );
    }
    let plane: usize = x.shape()[2..].iter().product();
    let planes = x.shape()[0] * x.shape()[1];
    let values = x.to_f64_vec();
    let out: Vec<f64> = if plane == 0 {
        vec![reduce(&[]); planes]
    } else {
        values.chunks_exact(plane).map(reduce).collect()
    };
    let mut shape = x.shape()[..2].to_vec();
    shape.resize(x.rank(), 1);
    Ok(vec![Tensor::from_f64(x.dtype(), shape, &out)?])
}

pub fn global_average_pool(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    global(inputs, |v| v.iter().sum::<f64>() / v.len() as f64)
}

pub fn global_max_pool(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    global(inputs, |v| {
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    })
}

pub fn global_lp_pool(p: f32, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    if p <= 0.0 || p.is_nan() {
        op_bail!("p must be positive, got {p}");
    }
    let p = p as f64;
    global(inputs, move |v| {
        v.iter().map(|x| x.abs().powf(p)).sum::<f64>().powf(1.0 / p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::AutoPad;

    fn attrs(
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        ceil_mode: bool,
    ) -> PoolAttrs {
        PoolAttrs {
            kernel_shape: kernel,
            strides,
            dilations: vec![],
            pads,
            auto_pad: AutoPad::NotSet,
            ceil_mode,
        }
    }

    /// The f32 path gives the f64 path's values rounded to f32, bit for bit: max and both
    /// averages, with padding, ceil mode, strides, dilations and a NaN.
    #[test]
    fn f32_path_equals_the_f64_path() {
        let shape = [2usize, 2, 7, 6];
        let n: usize = shape.iter().product();
        let mut v: Vec<f32> = (0..n)
            .map(|i| ((i * 37) % 101) as f32 / 7.0 - 6.0)
            .collect();
        v[9] = f32::NAN;
        let x = Tensor::from_f32(shape.to_vec(), v.clone()).unwrap();
        let mut cases = vec![
            attrs(vec![3, 3], vec![2, 2], vec![1, 1, 1, 1], false),
            attrs(vec![2, 3], vec![2, 1], vec![0, 1, 1, 0], true),
        ];
        let mut dilated = attrs(vec![2, 2], vec![1, 1], vec![], false);
        dilated.dilations = vec![2, 1];
        cases.push(dilated);
        for a in cases {
            for r in [
                Reduction::Max,
                Reduction::Average {
                    count_include_pad: false,
                },
                Reduction::Average {
                    count_include_pad: true,
                },
            ] {
                let (want, out_shape) = windowed(&a, &x, r, false).unwrap();
                let mut got = vec![0.0f32; out_shape.iter().product()];
                let cip = match r {
                    Reduction::Max => None,
                    Reduction::Average { count_include_pad } => Some(count_include_pad),
                    Reduction::Lp(_) => unreachable!(),
                };
                pool_f32_into(&a, cip, &shape, &v, &mut got).unwrap();
                for (i, (&g, &w)) in got.iter().zip(&want.values).enumerate() {
                    let w = w as f32;
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{r:?} [{i}]: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn max_pool_reports_flat_argmax() {
        let x = Tensor::from_f32(
            vec![1, 2, 2, 2],
            vec![1.0, 4.0, 3.0, 2.0, 5.0, 6.0, 8.0, 7.0],
        )
        .unwrap();
        let y = max_pool(&attrs(vec![2, 2], vec![], vec![], false), 0, &[Some(&x)], 2).unwrap();
        assert_eq!(y[0].as_f32().unwrap(), &[4.0, 8.0]);
        assert_eq!(y[1].as_i64().unwrap(), &[1, 6]);
        let y = max_pool(&attrs(vec![2, 2], vec![], vec![], false), 1, &[Some(&x)], 2).unwrap();
        assert_eq!(y[1].as_i64().unwrap(), &[2, 5]);
    }

    #[test]
    fn average_pool_counts_padding_only_when_asked() {
        let x = Tensor::from_f32(vec![1, 1, 1, 2], vec![2.0, 4.0]).unwrap();
        let a = attrs(vec![1, 2], vec![1, 2], vec![0, 1, 0, 1], false);
        let y = average_pool(&a, false, &[Some(&x)]).unwrap();
        assert_eq!(y[0].as_f32().unwrap(), &[2.0, 4.0]);
        let y = average_pool(&a, true, &[Some(&x)]).unwrap();
        assert_eq!(y[0].as_f32().unwrap(), &[1.0, 2.0]);
    }
}
