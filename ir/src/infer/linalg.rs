//! Shape and dtype rules for MatMul, Gemm, Einsum and the integer matmuls.

use super::{Known, opt, req};
use crate::dtype::DType;
use crate::error::OpError;
use crate::interp::linalg::einsum::Equation;
use crate::op::GemmAttrs;
use crate::shape::{Dim, Shape, TensorType, broadcast_dims, display_shape};
use crate::{op_bail, op_err};

/// Two dims that must be equal: an error only when both are static and differ.
fn dims_conflict(a: &Dim, b: &Dim) -> bool {
    matches!((a, b), (Dim::Static(x), Dim::Static(y)) if x != y)
}

/// The output shape of a numpy matmul of shapes `a` and `b`.
fn matmul_shape(a: &[Dim], b: &[Dim]) -> Result<Shape, OpError> {
    if a.is_empty() || b.is_empty() {
        op_bail!(
            "inputs must have rank 1 or more, got shapes {} and {}",
            display_shape(a),
            display_shape(b)
        );
    }
    let one = Dim::Static(1);
    let a2: Vec<Dim> = if a.len() == 1 {
        vec![one.clone(), a[0].clone()]
    } else {
        a.to_vec()
    };
    let b2: Vec<Dim> = if b.len() == 1 {
        vec![b[0].clone(), one]
    } else {
        b.to_vec()
    };
    let (m, k) = (&a2[a2.len() - 2], &a2[a2.len() - 1]);
    let (kb, n) = (&b2[b2.len() - 2], &b2[b2.len() - 1]);
    if dims_conflict(k, kb) {
        op_bail!(
            "inner dims differ: a is {}, b is {}",
            display_shape(a),
            display_shape(b)
        );
    }
    let mut out = broadcast_dims(&a2[..a2.len() - 2], &b2[..b2.len() - 2]).map_err(|_| {
        op_err!(
            "batch dims do not broadcast: a is {}, b is {}",
            display_shape(a),
            display_shape(b)
        )
    })?;
    if a.len() > 1 {
        out.push(m.clone());
    }
    if b.len() > 1 {
        out.push(n.clone());
    }
    Ok(out)
}

/// The matmul type of inputs `ia` and `ib` with output dtype `dtype`.
fn matmul_type(
    inputs: &[Option<Known>],
    ia: usize,
    ib: usize,
    dtype: DType,
) -> Result<TensorType, OpError> {
    let a = req(inputs, ia)?.ty;
    let b = req(inputs, ib)?.ty;
    Ok(match (&a.shape, &b.shape) {
        (Some(sa), Some(sb)) => TensorType::new(dtype, matmul_shape(sa, sb)?),
        _ => TensorType::unknown_shape(dtype),
    })
}

fn same_dtype(what: &str, a: DType, b: DType) -> Result<(), OpError> {
    if a != b {
        op_bail!("{what} have different dtypes: {a} and {b}");
    }
    Ok(())
}

fn numeric(dtype: DType) -> Result<(), OpError> {
    let ok = matches!(dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16) || dtype.is_int();
    if !ok {
        op_bail!("dtype {dtype} is not supported");
    }
    Ok(())
}

pub fn matmul(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let dtype = req(inputs, 0)?.ty.dtype;
    same_dtype("operands", dtype, req(inputs, 1)?.ty.dtype)?;
    numeric(dtype)?;
    Ok(vec![matmul_type(inputs, 0, 1, dtype)?])
}

pub fn gemm(a: &GemmAttrs, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let ta = req(inputs, 0)?.ty;
    let tb = req(inputs, 1)?.ty;
    same_dtype("A and B", ta.dtype, tb.dtype)?;
    numeric(ta.dtype)?;
    let oriented =
        |name: &str, ty: &TensorType, transposed: bool| -> Result<Option<(Dim, Dim)>, OpError> {
            match ty.shape.as_deref() {
                None => Ok(None),
                Some([r, c]) if transposed => Ok(Some((c.clone(), r.clone()))),
                Some([r, c]) => Ok(Some((r.clone(), c.clone()))),
                Some(s) => op_bail!("{name} must be 2-D, got shape {}", display_shape(s)),
            }
        };
    let (Some((m, k)), Some((kb, n))) =
        (oriented("A", ta, a.trans_a)?, oriented("B", tb, a.trans_b)?)
    else {
        // Only one side's shape is known: it still gives its own output dim.
        let m =
            oriented("A", ta, a.trans_a)?.map_or_else(|| super::fresh_dim("gemm_m"), |(m, _)| m);
        let n =
            oriented("B", tb, a.trans_b)?.map_or_else(|| super::fresh_dim("gemm_n"), |(_, n)| n);
        return Ok(vec![TensorType::new(ta.dtype, vec![m, n])]);
    };
    if dims_conflict(&k, &kb) {
        op_bail!(
            "inner dims differ: op(A) is [{m},{k}], op(B) is [{kb},{n}] (transA {}, transB {})",
            a.trans_a,
            a.trans_b
        );
    }
    if let Some(c) = opt(inputs, 2)
        && let Some(cs) = &c.ty.shape
    {
        let target = [m.clone(), n.clone()];
        let fits = cs.len() <= 2
            && cs
                .iter()
                .rev()
                .zip(target.iter().rev())
                .all(|(d, t)| *d == Dim::Static(1) || !dims_conflict(d, t));
        if !fits {
            op_bail!(
                "C of shape {} does not broadcast to [{m},{n}]",
                display_shape(cs)
            );
        }
    }
    Ok(vec![TensorType::new(ta.dtype, vec![m, n])])
}

pub fn einsum(equation: &str, inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let eq = Equation::parse(equation)?;
    if inputs.len() != eq.n_inputs() {
        op_bail!(
            "the equation has {} operands, the node has {} inputs",
            eq.n_inputs(),
            inputs.len()
        );
    }
    let tys = (0..inputs.len())
        .map(|i| req(inputs, i).map(|k| k.ty))
        .collect::<Result<Vec<_>, _>>()?;
    let dtype = tys[0].dtype;
    for t in &tys {
        same_dtype("operands", dtype, t.dtype)?;
    }
    numeric(dtype)?;
    let Some(shapes) = tys
        .iter()
        .map(|t| t.shape.as_deref())
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(vec![TensorType::unknown_shape(dtype)]);
    };
    let ranks: Vec<usize> = shapes.iter().map(|s| s.len()).collect();
    let map = eq.bind(&ranks)?;
    // Each axis takes the first static size any operand gives it (a broadcast 1 yields to a
    // larger size), else the first symbolic dim.
    let mut sizes: Vec<Option<Dim>> = vec![None; map.n_axes];
    for (i, (ids, shape)) in map.inputs.iter().zip(&shapes).enumerate() {
        for (&id, d) in ids.iter().zip(shape.iter()) {
            sizes[id] = Some(match sizes[id].take() {
                None => d.clone(),
                Some(prev) if map.is_ellipsis[id] => broadcast_dims(
                    &[prev],
                    std::slice::from_ref(d),
                )
                .map_err(|_| {
                    op_err!(
                        "the '...' dims of the operands do not broadcast: operand {i} has shape {}",
                        display_shape(shape)
                    )
                })?
                .remove(0),
                Some(prev) if dims_conflict(&prev, d) => op_bail!(
                    "label '{}' has size {prev} in one operand and {d} in operand {i} (shape {})",
                    map.letters[id],
                    display_shape(shape)
                ),
                Some(Dim::Symbolic(_)) if matches!(d, Dim::Static(_)) => d.clone(),
                Some(prev) => prev,
            });
        }
    }
    let shape = map
        .output
        .iter()
        .map(|&a| sizes[a].clone().unwrap_or(Dim::Static(1)))
        .collect();
    Ok(vec![TensorType::new(dtype, shape)])
}

fn check_8bit(name: &str, dtype: DType) -> Result<(), OpError> {
    if !matches!(dtype, DType::U8 | DType::I8) {
        op_bail!("{name} must be u8 or i8, got {dtype}");
    }
    Ok(())
}

pub fn matmul_integer(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    check_8bit("A", req(inputs, 0)?.ty.dtype)?;
    check_8bit("B", req(inputs, 1)?.ty.dtype)?;
    Ok(vec![matmul_type(inputs, 0, 1, DType::I32)?])
}

pub fn qlinear_matmul(inputs: &[Option<Known>]) -> Result<Vec<TensorType>, OpError> {
    let a = req(inputs, 0)?.ty.dtype;
    check_8bit("a", a)?;
    check_8bit("b", req(inputs, 3)?.ty.dtype)?;
    let out = opt(inputs, 7).map_or(a, |z| z.ty.dtype);
    check_8bit("y_zero_point", out)?;
    for (i, name) in [(1, "a_scale"), (4, "b_scale"), (6, "y_scale")] {
        let d = req(inputs, i)?.ty.dtype;
        if !d.is_float() {
            op_bail!("{name} must be a float tensor, got {d}");
        }
    }
    Ok(vec![matmul_type(inputs, 0, 3, out)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(ty: &TensorType) -> Option<Known<'_>> {
        Some(Known { ty, value: None })
    }

    fn s(dims: &[usize]) -> Shape {
        crate::shape::static_shape(dims)
    }

    #[test]
    fn matmul_broadcasts_batches_and_checks_inner_dims() {
        let a = TensorType::new(
            DType::F32,
            vec![Dim::Symbolic("b".into()), Dim::Static(3), Dim::Static(4)],
        );
        let b = TensorType::new(DType::F32, s(&[4, 5]));
        let out = matmul(&[known(&a), known(&b)]).unwrap();
        assert_eq!(
            out[0].shape.as_ref().unwrap(),
            &vec![Dim::Symbolic("b".into()), Dim::Static(3), Dim::Static(5)]
        );
        let bad = TensorType::new(DType::F32, s(&[2, 3]));
        let b2 = TensorType::new(DType::F32, s(&[4, 5]));
        let e = matmul(&[known(&bad), known(&b2)]).unwrap_err();
        assert_eq!(e.0, "inner dims differ: a is [2,3], b is [4,5]");
    }

    #[test]
    fn einsum_shape_follows_the_output_labels() {
        let a = TensorType::new(DType::F32, s(&[2, 3, 4]));
        let b = TensorType::new(DType::F32, s(&[2, 4, 5]));
        let out = einsum("bij,bjk->bik", &[known(&a), known(&b)]).unwrap();
        assert_eq!(out[0].shape.as_ref().unwrap(), &s(&[2, 3, 5]));
        let out = einsum(
            "...ii->...i",
            &[known(&TensorType::new(DType::F32, s(&[7, 3, 3])))],
        )
        .unwrap();
        assert_eq!(out[0].shape.as_ref().unwrap(), &s(&[7, 3]));
        assert!(einsum("ij,jk", &[known(&a), known(&b)]).is_err());
    }
}
