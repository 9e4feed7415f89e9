//! Einsum's fast path: a two-operand contraction with no diagonal and no broadcast dim is a
//! batched matrix product of permuted operands, computed with the shared GEMM.

use super::einsum::AxisMap;
use super::gemm::{GemmElem, MatMut, MatRef, gemm};
use crate::tensor::strides;

/// `data` of shape `shape` with its axes reordered: output axis `i` is input axis `perm[i]`.
fn permute<T: Copy>(data: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return data.to_vec();
    }
    let in_strides = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let steps: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let mut out = Vec::with_capacity(data.len());
    let mut counter = vec![0usize; perm.len()];
    let mut offset = 0usize;
    for _ in 0..data.len() {
        out.push(data[offset]);
        for ax in (0..perm.len()).rev() {
            counter[ax] += 1;
            offset += steps[ax];
            if counter[ax] < out_shape[ax] {
                break;
            }
            offset -= steps[ax] * counter[ax];
            counter[ax] = 0;
        }
    }
    out
}

/// The product of `sizes` over `axes`.
fn size_of(axes: &[usize], sizes: &[usize]) -> usize {
    axes.iter().map(|&a| sizes[a]).product()
}

/// Evaluates a two-operand equation as batched GEMMs, or `None` when it has a shape the
/// general kernel must handle: a repeated label in one operand, a broadcast (size-1) dim, or
/// a label summed away in only one operand.
pub(crate) fn contract_two<T: GemmElem>(
    map: &AxisMap,
    sizes: &[usize],
    (a, a_shape): (&[T], &[usize]),
    (b, b_shape): (&[T], &[usize]),
) -> Option<Vec<T>> {
    let [a_ids, b_ids] = map.inputs.as_slice() else {
        return None;
    };
    let plain = |ids: &[usize], shape: &[usize]| {
        ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id))
            && ids.iter().zip(shape).all(|(&id, &d)| d == sizes[id])
    };
    if !plain(a_ids, a_shape) || !plain(b_ids, b_shape) {
        return None;
    }
    let in_out = |id: &usize| map.output.contains(id);
    let batch: Vec<usize> = a_ids
        .iter()
        .copied()
        .filter(|id| b_ids.contains(id) && in_out(id))
        .collect();
    let m_axes: Vec<usize> = a_ids
        .iter()
        .copied()
        .filter(|id| !b_ids.contains(id) && in_out(id))
        .collect();
    let n_axes: Vec<usize> = b_ids
        .iter()
        .copied()
        .filter(|id| !a_ids.contains(id) && in_out(id))
        .collect();
    let k_axes: Vec<usize> = a_ids
        .iter()
        .copied()
        .filter(|id| b_ids.contains(id) && !in_out(id))
        .collect();
    let used = batch.len() + m_axes.len() + k_axes.len();
    if used != a_ids.len() || batch.len() + n_axes.len() + k_axes.len() != b_ids.len() {
        return None;
    }
    let position = |ids: &[usize], axes: &[usize]| -> Vec<usize> {
        axes.iter()
            .filter_map(|a| ids.iter().position(|i| i == a))
            .collect()
    };
    let a_perm = position(a_ids, &[&batch[..], &m_axes, &k_axes].concat());
    let b_perm = position(b_ids, &[&batch[..], &k_axes, &n_axes].concat());
    let a_mat = permute(a, a_shape, &a_perm);
    let b_mat = permute(b, b_shape, &b_perm);
    let (nb, m, n, k) = (
        size_of(&batch, sizes),
        size_of(&m_axes, sizes),
        size_of(&n_axes, sizes),
        size_of(&k_axes, sizes),
    );
    let mut prod = vec![T::default(); nb * m * n];
    if m * n > 0 {
        for (i, c) in prod.chunks_exact_mut(m * n).enumerate() {
            gemm(
                m,
                n,
                k,
                MatRef {
                    data: &a_mat[i * m * k..(i + 1) * m * k],
                    row_stride: k,
                },
                MatRef {
                    data: &b_mat[i * k * n..(i + 1) * k * n],
                    row_stride: n,
                },
                MatMut {
                    data: c,
                    row_stride: n,
                },
            );
        }
    }
    // The product's axes are batch, m, n; the output may order them differently.
    let prod_axes = [&batch[..], &m_axes, &n_axes].concat();
    let prod_shape: Vec<usize> = prod_axes.iter().map(|&a| sizes[a]).collect();
    let out_perm = position(&prod_axes, &map.output);
    Some(permute(&prod, &prod_shape, &out_perm))
}
