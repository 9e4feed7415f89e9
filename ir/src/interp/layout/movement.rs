//! Layout ops that move data: transpose, concat, split, slice, expand, tile, pad and the
//! depth/space shuffles, each expressed as a strided view or per-axis index tables.

use super::params::{
    clamp_slice, list, pad_amounts, padded_dim, resolve_perm, slice_specs, split_sizes,
};
use super::shape_input;
use super::view::{AxisTables, Element, View, elements_of, gather_tables, output_numel};
use crate::error::OpError;
use crate::interp::util::opt_i64s;
use crate::interp::{opt, req};
use crate::op::{DepthToSpaceMode, PadMode};
use crate::shape::{broadcast, normalize_axis};
use crate::tensor::{Tensor, strides};
use crate::{op_bail, op_err};

pub fn transpose(
    perm: Option<&[usize]>,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let perm = resolve_perm(perm, x.rank())?;
    Ok(vec![View::contiguous(x.shape()).permuted(&perm).gather(x)?])
}

pub fn concat(axis: i64, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let parts = (0..inputs.len())
        .map(|i| req(inputs, i))
        .collect::<Result<Vec<&Tensor>, OpError>>()?;
    let Some(first) = parts.first() else {
        op_bail!("Concat needs at least one input");
    };
    let a = normalize_axis(axis, first.rank())?;
    let mut shape = first.shape().to_vec();
    shape[a] = 0;
    for (i, p) in parts.iter().enumerate() {
        if p.dtype() != first.dtype() {
            op_bail!(
                "input {i} is {}, but input 0 is {}",
                p.dtype(),
                first.dtype()
            );
        }
        let same_other_dims = p.rank() == first.rank()
            && (0..p.rank()).all(|d| d == a || p.shape()[d] == first.shape()[d]);
        if !same_other_dims {
            op_bail!(
                "input {i} has shape {}, which does not match input 0's {} outside axis {a}",
                list(p.shape()),
                list(first.shape())
            );
        }
        shape[a] += p.shape()[a];
    }
    let outer: usize = shape[..a].iter().product();
    let inner: usize = shape[a + 1..].iter().product();
    let data = crate::with_data!(first.data(), v => {
        concat_typed(v, &parts, a, outer, inner).map(Element::wrap)
    })?;
    Ok(vec![Tensor::new(first.dtype(), shape, data)?])
}

/// Interleaves each part's `outer` blocks along the concat axis. `_like` fixes `T` to the
/// storage of the parts, which the caller checked agree.
fn concat_typed<T: Element>(
    _like: &[T],
    parts: &[&Tensor],
    axis: usize,
    outer: usize,
    inner: usize,
) -> Result<Vec<T>, OpError> {
    let slices = parts
        .iter()
        .map(|p| Ok((elements_of::<T>(p)?, p.shape()[axis] * inner)))
        .collect::<Result<Vec<(&[T], usize)>, OpError>>()?;
    let mut out = Vec::with_capacity(slices.iter().map(|(s, _)| s.len()).sum());
    for o in 0..outer {
        for &(s, block) in &slices {
            out.extend_from_slice(&s[o * block..(o + 1) * block]);
        }
    }
    Ok(out)
}

pub fn split(
    axis: i64,
    num_outputs: usize,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let a = normalize_axis(axis, x.rank())?;
    let split = opt_i64s(opt(inputs, 1))?;
    let sizes = split_sizes(x.shape()[a], split.as_deref(), num_outputs)?;
    if sizes.len() != n_outputs {
        op_bail!(
            "split gives {} parts, but the node has {n_outputs} outputs",
            sizes.len()
        );
    }
    let base = View::contiguous(x.shape());
    let mut start = 0;
    sizes
        .iter()
        .map(|&size| {
            let mut v = base.clone();
            v.shape[a] = size;
            v.offset = start * base.strides[a] as usize;
            start += size;
            v.gather(x)
        })
        .collect()
}

pub fn slice(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let starts = req(inputs, 1)?.to_i64_vec()?;
    let ends = req(inputs, 2)?.to_i64_vec()?;
    let axes = opt_i64s(opt(inputs, 3))?;
    let steps = opt_i64s(opt(inputs, 4))?;
    let specs = slice_specs(x.rank(), &starts, &ends, axes.as_deref(), steps.as_deref())?;
    let mut v = View::contiguous(x.shape());
    let mut offset = 0i128;
    for spec in specs {
        let s = clamp_slice(spec, x.shape()[spec.axis]);
        offset += s.start as i128 * v.strides[s.axis] as i128;
        v.strides[s.axis] *= s.step as isize;
        v.shape[s.axis] = s.count;
    }
    v.offset = usize::try_from(offset).map_err(|_| op_err!("slice starts before the data"))?;
    Ok(vec![v.gather(x)?])
}

pub fn expand(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let target = shape_input(req(inputs, 1)?, "shape")?;
    let out = broadcast(x.shape(), &target)?;
    output_numel(&out)?;
    let lead = out.len() - x.rank();
    let in_strides = strides(x.shape());
    let view = View {
        strides: (0..out.len())
            .map(|i| match i.checked_sub(lead) {
                Some(j) if x.shape()[j] != 1 => in_strides[j] as isize,
                _ => 0,
            })
            .collect(),
        shape: out,
        offset: 0,
    };
    Ok(vec![view.gather(x)?])
}

pub fn tile(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let repeats = shape_input(req(inputs, 1)?, "repeats")?;
    if repeats.len() != x.rank() {
        op_bail!(
            "repeats {} has {} entries, but the input has rank {}",
            list(&repeats),
            repeats.len(),
            x.rank()
        );
    }
    let out: Vec<usize> = x
        .shape()
        .iter()
        .zip(&repeats)
        .map(|(&d, &r)| d * r)
        .collect();
    output_numel(&out)?;
    // Axis i becomes (repeat_i, dim_i): the repeat axis re-reads the whole dim (stride 0).
    let in_strides = strides(x.shape());
    let view = View {
        shape: x
            .shape()
            .iter()
            .zip(&repeats)
            .flat_map(|(&d, &r)| [r, d])
            .collect(),
        strides: in_strides.iter().flat_map(|&s| [0, s as isize]).collect(),
        offset: 0,
    };
    Ok(vec![view.gather(x)?.reshaped(out)?])
}

pub fn pad(mode: PadMode, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let pads = req(inputs, 1)?.to_i64_vec()?;
    let axes = opt_i64s(opt(inputs, 3))?;
    let amounts = pad_amounts(x.rank(), &pads, axes.as_deref())?;
    let tables = x
        .shape()
        .iter()
        .zip(&amounts)
        .enumerate()
        .map(|(axis, (&dim, &p))| pad_table(mode, axis, dim, p))
        .collect::<Result<AxisTables, OpError>>()?;
    let fill = match opt(inputs, 2) {
        Some(c) if c.len() != 1 => {
            op_bail!(
                "constant_value must be a scalar, got shape {}",
                list(c.shape())
            )
        }
        Some(c) => Some(c.cast(x.dtype(), true)),
        None => None,
    };
    let data = crate::with_data!(x.data(), v => {
        let fill_value = match &fill {
            Some(c) => elements_of(c)?[0],
            None => Default::default(),
        };
        gather_tables(v, x.shape(), &tables, fill_value).map(Element::wrap)
    })?;
    let out = tables.iter().map(Vec::len).collect();
    Ok(vec![Tensor::new(x.dtype(), out, data)?])
}

/// For each output position along one axis, the input index `Pad` reads (`None`: the constant).
fn pad_table(
    mode: PadMode,
    axis: usize,
    dim: usize,
    (begin, end): (i64, i64),
) -> Result<Vec<Option<usize>>, OpError> {
    let out = padded_dim(dim, (begin, end))?;
    output_numel(&[out])?;
    let (dim, begin) = (dim as i128, begin as i128);
    // The input range the output keeps after cropping by negative pads.
    let lo = (-begin).max(0);
    let hi = dim - (-(end as i128)).max(0);
    let kept = hi - lo;
    if kept <= 0 && mode != PadMode::Constant && out > 0 {
        op_bail!("cannot pad axis {axis} in {mode:?} mode: no input elements remain to copy");
    }
    let index = |o: usize| -> Option<usize> {
        let i = o as i128 - begin;
        let i = match mode {
            PadMode::Constant => return (0..dim).contains(&i).then_some(i as usize),
            PadMode::Edge => i.clamp(lo, hi - 1),
            PadMode::Wrap => lo + (i - lo).rem_euclid(kept),
            PadMode::Reflect if kept == 1 => lo,
            PadMode::Reflect => {
                let period = 2 * (kept - 1);
                let t = (i - lo).rem_euclid(period);
                lo + if t >= kept { period - t } else { t }
            }
        };
        Some(i as usize)
    };
    Ok((0..out).map(index).collect())
}

pub fn depth_to_space(
    blocksize: usize,
    mode: DepthToSpaceMode,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let (n, c, h, w) = nchw(x)?;
    let b = blocksize;
    if b == 0 || c % (b * b) != 0 {
        op_bail!("channels {c} are not a multiple of blocksize² ({b}²)");
    }
    let cb = c / (b * b);
    let (split, perm) = match mode {
        DepthToSpaceMode::Dcr => ([n, b, b, cb, h, w], [0, 3, 4, 1, 5, 2]),
        DepthToSpaceMode::Crd => ([n, cb, b, b, h, w], [0, 1, 4, 2, 5, 3]),
    };
    let y = View::contiguous(&split).permuted(&perm).gather(x)?;
    Ok(vec![y.reshaped(vec![n, cb, h * b, w * b])?])
}

pub fn space_to_depth(
    blocksize: usize,
    mode: DepthToSpaceMode,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let (n, c, h, w) = nchw(x)?;
    let b = blocksize;
    if b == 0 || h % b != 0 || w % b != 0 {
        op_bail!("spatial dims {h}x{w} are not multiples of blocksize {b}");
    }
    let split = [n, c, h / b, b, w / b, b];
    let perm = match mode {
        DepthToSpaceMode::Dcr => [0, 3, 5, 1, 2, 4],
        DepthToSpaceMode::Crd => [0, 1, 3, 5, 2, 4],
    };
    let y = View::contiguous(&split).permuted(&perm).gather(x)?;
    Ok(vec![y.reshaped(vec![n, c * b * b, h / b, w / b])?])
}

fn nchw(x: &Tensor) -> Result<(usize, usize, usize, usize), OpError> {
    match *x.shape() {
        [n, c, h, w] => Ok((n, c, h, w)),
        _ => op_bail!("input must be 4-D (N,C,H,W), got shape {}", list(x.shape())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: &[i64]) -> Tensor {
        Tensor::from_i64(shape.to_vec(), v.to_vec()).unwrap()
    }

    #[test]
    fn reflect_and_wrap_tables_repeat() {
        let reflect = pad_table(PadMode::Reflect, 0, 3, (4, 0)).unwrap();
        let got: Vec<usize> = reflect.into_iter().flatten().collect();
        assert_eq!(got, vec![0, 1, 2, 1, 0, 1, 2]);
        let wrap = pad_table(PadMode::Wrap, 0, 3, (2, 1)).unwrap();
        let got: Vec<usize> = wrap.into_iter().flatten().collect();
        assert_eq!(got, vec![1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn negative_pads_crop() {
        let x = t(&[4], &[1, 2, 3, 4]);
        let pads = t(&[2], &[-1, 1]);
        let y = pad(PadMode::Constant, &[Some(&x), Some(&pads)]).unwrap();
        assert_eq!(y[0].as_i64().unwrap(), &[2, 3, 4, 0]);
    }

    #[test]
    fn slice_with_negative_step_reverses() {
        let x = t(&[2, 3], &[0, 1, 2, 3, 4, 5]);
        let (s, e) = (t(&[1], &[-1]), t(&[1], &[i64::MIN]));
        let (a, st) = (t(&[1], &[1]), t(&[1], &[-1]));
        let y = slice(&[Some(&x), Some(&s), Some(&e), Some(&a), Some(&st)]).unwrap();
        assert_eq!(y[0].as_i64().unwrap(), &[2, 1, 0, 5, 4, 3]);
    }

    #[test]
    fn tile_and_expand_repeat() {
        let x = t(&[2], &[1, 2]);
        let y = tile(&[Some(&x), Some(&t(&[1], &[2]))]).unwrap();
        assert_eq!(y[0].as_i64().unwrap(), &[1, 2, 1, 2]);
        let y = expand(&[Some(&t(&[2, 1], &[1, 2])), Some(&t(&[2], &[2, 2]))]).unwrap();
        assert_eq!(y[0].as_i64().unwrap(), &[1, 1, 2, 2]);
    }
}
