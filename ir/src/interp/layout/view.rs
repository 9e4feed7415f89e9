//! Data movement engines shared by the layout kernels: strided views (transpose, slice, expand,
//! tile, depth/space shuffles are all one affine map from output coordinates to input offsets)
//! and per-axis index tables (pad), both generic over the element storage.

use crate::error::OpError;
use crate::tensor::{Data, Tensor, checked_numel, strides};
use crate::{op_bail, op_err};
use half::{bf16, f16};

/// Largest element count a layout kernel allocates for an output whose size comes from tensor
/// values (a shape input, repeats, pads, a range), so bad values fail instead of aborting.
const MAX_OUTPUT_ELEMENTS: usize = 1 << 36;

/// The element count of `shape`, rejecting overflow and absurd sizes.
pub fn output_numel(shape: &[usize]) -> Result<usize, OpError> {
    let n = checked_numel(shape)?;
    if n > MAX_OUTPUT_ELEMENTS {
        op_bail!(
            "output shape {shape:?} has {n} elements, more than the {MAX_OUTPUT_ELEMENTS} allowed"
        );
    }
    Ok(n)
}

/// A Rust element type of [`Data`], for kernels generic over storage.
pub trait Element: Copy + Default {
    fn slice(data: &Data) -> Option<&[Self]>;
    fn wrap(v: Vec<Self>) -> Data;
}

macro_rules! element {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl Element for $t {
            fn slice(data: &Data) -> Option<&[Self]> {
                match data {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(v: Vec<Self>) -> Data {
                Data::$variant(v)
            }
        }
    )*};
}

element!(
    f32 => F32, f64 => F64, f16 => F16, bf16 => BF16, i8 => I8, u8 => U8, i16 => I16,
    u16 => U16, i32 => I32, u32 => U32, i64 => I64, u64 => U64, bool => Bool,
);

/// The elements of `t` as `T`, which the caller chose from `t`'s own storage.
pub fn elements_of<T: Element>(t: &Tensor) -> Result<&[T], OpError> {
    T::slice(t.data()).ok_or_else(|| op_err!("tensor of {} has unexpected storage", t.dtype()))
}

/// An affine map from output coordinates to offsets in a flat buffer: the element at
/// coordinate `c` is read from `offset + Σ c[i] * strides[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
    pub offset: usize,
}

impl View {
    /// The row-major view of a contiguous buffer of `shape`.
    pub fn contiguous(shape: &[usize]) -> View {
        View {
            shape: shape.to_vec(),
            strides: strides(shape).into_iter().map(|s| s as isize).collect(),
            offset: 0,
        }
    }

    /// Reorders the axes: output axis `i` is this view's axis `perm[i]`. `perm` must be a
    /// permutation of the axes (callers validate it).
    pub fn permuted(&self, perm: &[usize]) -> View {
        View {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        }
    }

    /// Copies the viewed elements of `t` into a new contiguous tensor of the view's shape.
    pub fn gather(&self, t: &Tensor) -> Result<Tensor, OpError> {
        let data = crate::with_data!(t.data(), v => gather_typed(v, self).map(Element::wrap))?;
        Tensor::new(t.dtype(), self.shape.clone(), data)
    }

    /// Checks that every offset the view reaches lies inside a buffer of `len` elements.
    fn check_bounds(&self, len: usize) -> Result<(), OpError> {
        if self.shape.contains(&0) {
            return Ok(());
        }
        let (mut lo, mut hi) = (self.offset as i128, self.offset as i128);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let span = (d as i128 - 1) * s as i128;
            if span < 0 {
                lo += span;
            } else {
                hi += span;
            }
        }
        if lo < 0 || hi >= len as i128 {
            op_bail!("view reaches offsets {lo}..={hi} of a buffer of {len} elements");
        }
        Ok(())
    }

    /// The same map with size-1 axes dropped and adjacent axes that step contiguously merged,
    /// so the copy loop runs over as few, as long rows as possible.
    fn simplified(&self) -> View {
        let mut shape: Vec<usize> = Vec::with_capacity(self.shape.len());
        let mut strides: Vec<isize> = Vec::with_capacity(self.shape.len());
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            if d == 1 {
                continue;
            }
            match (shape.last_mut(), strides.last_mut()) {
                (Some(pd), Some(ps)) if *ps == s * d as isize => {
                    *pd *= d;
                    *ps = s;
                }
                _ => {
                    shape.push(d);
                    strides.push(s);
                }
            }
        }
        View {
            shape,
            strides,
            offset: self.offset,
        }
    }
}

/// Copies the elements `view` reaches in `src`, in row-major order of the view's shape.
pub fn gather_typed<T: Element>(src: &[T], view: &View) -> Result<Vec<T>, OpError> {
    let n = checked_numel(&view.shape)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    view.check_bounds(src.len())?;
    let v = view.simplified();
    if let Some(out) = gather_transposed(src, &v, n) {
        return Ok(out);
    }
    let (row_len, row_stride) = match (v.shape.last(), v.strides.last()) {
        (Some(&d), Some(&s)) => (d, s),
        _ => (1, 1),
    };
    let outer_rank = v.shape.len().saturating_sub(1);
    let mut out = Vec::with_capacity(n);
    let mut counter = vec![0usize; outer_rank];
    // In bounds by `check_bounds`: every offset formed below is one the view reaches.
    let mut base = v.offset as isize;
    loop {
        let start = base as usize;
        match row_stride {
            1 => out.extend_from_slice(&src[start..start + row_len]),
            0 => out.extend(std::iter::repeat_n(src[start], row_len)),
            s => {
                let mut p = base;
                for _ in 0..row_len {
                    out.push(src[p as usize]);
                    p += s;
                }
            }
        }
        let mut ax = outer_rank;
        loop {
            if ax == 0 {
                return Ok(out);
            }
            ax -= 1;
            counter[ax] += 1;
            base += v.strides[ax];
            if counter[ax] < v.shape[ax] {
                break;
            }
            base -= v.strides[ax] * v.shape[ax] as isize;
            counter[ax] = 0;
        }
    }
}

/// Side of the square tiles a transposing copy moves at a time: the strided reads and the
/// contiguous writes of one tile both stay in cache.
const TILE: usize = 32;

/// The copy of a (simplified, in-bounds) view whose last axis is strided while an earlier axis
/// `a` is contiguous in the source, as in a transpose: copies square tiles of axes (a, last) so
/// that cache lines read along `a` are reused. `None` when the view is not of that form.
fn gather_transposed<T: Element>(src: &[T], v: &View, n: usize) -> Option<Vec<T>> {
    let last = v.shape.len().checked_sub(1)?;
    if matches!(v.strides[last], 0 | 1) {
        return None;
    }
    let a = v.strides[..last].iter().position(|&s| s == 1)?;
    let out_strides = strides(&v.shape);
    let others: Vec<usize> = (0..last).filter(|&i| i != a).collect();
    let (rows, cols) = (v.shape[a], v.shape[last]);
    let (in_col, out_row) = (v.strides[last], out_strides[a]);
    let mut out = vec![T::default(); n];
    let mut counter = vec![0usize; others.len()];
    let (mut in_base, mut out_base) = (v.offset as isize, 0usize);
    loop {
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    let (o, i) = (out_base + r * out_row, in_base + r as isize);
                    for c in c0..(c0 + TILE).min(cols) {
                        out[o + c] = src[(i + c as isize * in_col) as usize];
                    }
                }
            }
        }
        let mut k = others.len();
        loop {
            if k == 0 {
                return Some(out);
            }
            k -= 1;
            let ax = others[k];
            counter[k] += 1;
            in_base += v.strides[ax];
            out_base += out_strides[ax];
            if counter[k] < v.shape[ax] {
                break;
            }
            in_base -= v.strides[ax] * v.shape[ax] as isize;
            out_base -= out_strides[ax] * v.shape[ax];
            counter[k] = 0;
        }
    }
}

/// For each output axis, the input index each output position reads along that axis, or `None`
/// where the output takes a fill value (constant padding).
pub type AxisTables = Vec<Vec<Option<usize>>>;

/// Builds an output of `out_shape` where element `c` is `src[Σ tables[i][c[i]] * stride_i]`
/// (row-major strides of `in_shape`), or `fill` where any axis maps to `None`.
pub fn gather_tables<T: Element>(
    src: &[T],
    in_shape: &[usize],
    tables: &AxisTables,
    fill: T,
) -> Result<Vec<T>, OpError> {
    let out_shape: Vec<usize> = tables.iter().map(Vec::len).collect();
    let n = output_numel(&out_shape)?;
    if tables.len() != in_shape.len() {
        op_bail!("{} index tables for rank {}", tables.len(), in_shape.len());
    }
    for (ax, (table, &dim)) in tables.iter().zip(in_shape).enumerate() {
        if let Some(&bad) = table.iter().flatten().find(|&&i| i >= dim) {
            op_bail!("index {bad} is out of range for dim {dim} of axis {ax}");
        }
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let in_strides = strides(in_shape);
    // Offsets per axis: the table scaled by the axis stride.
    let offsets: Vec<Vec<Option<usize>>> = tables
        .iter()
        .zip(&in_strides)
        .map(|(t, &s)| t.iter().map(|i| i.map(|i| i * s)).collect())
        .collect();
    let Some((row, outer)) = offsets.split_last() else {
        // Rank 0: one element.
        return Ok(vec![src.first().copied().unwrap_or(fill)]);
    };
    let mut out = Vec::with_capacity(n);
    let mut counter = vec![0usize; outer.len()];
    loop {
        let base: Option<usize> = outer
            .iter()
            .zip(&counter)
            .try_fold(0usize, |acc, (t, &c)| t[c].map(|o| acc + o));
        match base {
            Some(base) => out.extend(row.iter().map(|o| o.map_or(fill, |o| src[base + o]))),
            None => out.extend(std::iter::repeat_n(fill, row.len())),
        }
        let mut ax = outer.len();
        loop {
            if ax == 0 {
                return Ok(out);
            }
            ax -= 1;
            counter[ax] += 1;
            if counter[ax] < outer[ax].len() {
                break;
            }
            counter[ax] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_view_reads_columns() {
        let v = View::contiguous(&[2, 3]).permuted(&[1, 0]);
        let out = gather_typed(&[0, 1, 2, 3, 4, 5], &v).unwrap();
        assert_eq!(out, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn negative_strides_and_broadcast_rows() {
        let reversed = View {
            shape: vec![3],
            strides: vec![-1],
            offset: 2,
        };
        assert_eq!(gather_typed(&[1, 2, 3], &reversed).unwrap(), vec![3, 2, 1]);
        let repeated = View {
            shape: vec![2, 2],
            strides: vec![1, 0],
            offset: 0,
        };
        assert_eq!(gather_typed(&[7, 8], &repeated).unwrap(), vec![7, 7, 8, 8]);
    }

    #[test]
    fn tiled_transpose_matches_the_plain_copy() {
        let shape = [3, 40, 37];
        let src: Vec<u32> = (0..shape.iter().product::<usize>() as u32).collect();
        let v = View::contiguous(&shape).permuted(&[0, 2, 1]);
        let got = gather_typed(&src, &v).unwrap();
        for (k, &g) in got.iter().enumerate() {
            let (b, j, i) = (k / (37 * 40), (k / 40) % 37, k % 40);
            assert_eq!(g, src[b * 40 * 37 + i * 37 + j]);
        }
    }

    #[test]
    fn out_of_bounds_views_are_errors() {
        let v = View {
            shape: vec![4],
            strides: vec![1],
            offset: 0,
        };
        assert!(gather_typed(&[1, 2, 3], &v).is_err());
    }

    #[test]
    fn tables_fill_padding() {
        let tables = vec![vec![None, Some(0), Some(1)], vec![Some(1), Some(0)]];
        let out = gather_tables(&[1, 2, 3, 4], &[2, 2], &tables, 0).unwrap();
        assert_eq!(out, vec![0, 0, 2, 1, 4, 3]);
    }
}
