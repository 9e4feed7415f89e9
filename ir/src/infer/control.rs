//! Shape rules of control flow. A body graph is stored without types on its inputs (its
//! captures take the types of whatever the node reads); each rule types a copy of the body
//! from the node's inputs and infers it.

use super::Known;
use crate::dtype::DType;
use crate::error::OpError;
use crate::graph::Graph;
use crate::op::ScanAttrs;
use crate::op_bail;
use crate::shape::{Dim, TensorType};

/// A copy of `body` with `tys` as its inputs' types, inferred throughout.
pub(crate) fn typed_body(body: &Graph, tys: &[TensorType]) -> Result<Graph, OpError> {
    if tys.len() != body.inputs.len() {
        op_bail!(
            "the body '{}' has {} inputs, the node gives it {}",
            body.name,
            body.inputs.len(),
            tys.len()
        );
    }
    let mut g = body.clone();
    for (&v, ty) in body.inputs.iter().zip(tys) {
        g.value_mut(v).ty = Some(ty.clone());
    }
    super::infer_graph(&mut g).map_err(|e| OpError::new(format!("in '{}': {e}", body.name)))?;
    Ok(g)
}

/// The output types of an inferred body.
fn output_types(g: &Graph) -> Vec<TensorType> {
    g.outputs
        .iter()
        .map(|&o| {
            g.value(o)
                .ty
                .clone()
                .expect("inferred graphs type every value")
        })
        .collect()
}

/// The types of every input after the first `skip`, all required.
fn captured_types(inputs: &[Option<Known>], skip: usize) -> Result<Vec<TensorType>, OpError> {
    inputs
        .iter()
        .skip(skip)
        .enumerate()
        .map(|(i, k)| match k {
            Some(k) => Ok(k.ty.clone()),
            None => Err(OpError::new(format!(
                "captured input {} is missing",
                i + skip
            ))),
        })
        .collect()
}

/// If: the branch `cond` selects when it is known, else what both branches agree on (a dim
/// they disagree on becomes symbolic, a rank they disagree on unknown).
pub fn if_(
    then_branch: &Graph,
    else_branch: &Graph,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let cond = super::req(inputs, 0)?;
    if cond.ty.dtype != crate::dtype::DType::Bool {
        op_bail!("cond must be bool, got {}", cond.ty.dtype);
    }
    if let Some(n) = cond
        .ty
        .shape
        .as_ref()
        .and_then(|s| crate::shape::concrete(s))
        && n.iter().product::<usize>() != 1
    {
        op_bail!("cond must hold one element, got shape {n:?}");
    }
    let tys = captured_types(inputs, 1)?;
    let branch = |name: &str, g: &Graph| -> Result<Vec<TensorType>, OpError> {
        let out = output_types(&typed_body(g, &tys)?);
        if out.len() != n_outputs {
            op_bail!(
                "the {name} branch gives {} outputs, the node has {n_outputs}",
                out.len()
            );
        }
        Ok(out)
    };
    if let Some(c) = cond.value {
        // Only the branch taken is typed: the other may not even be valid for these inputs.
        return if c.to_f64_vec().first().is_some_and(|&v| v != 0.0) {
            branch("then", then_branch)
        } else {
            branch("else", else_branch)
        };
    }
    let (then_out, else_out) = match (branch("then", then_branch), branch("else", else_branch)) {
        (Ok(a), Ok(b)) => (a, b),
        // A branch that contradicts these inputs can never run without failing: the other
        // one's types are the node's.
        (Ok(a), Err(_)) | (Err(_), Ok(a)) => return Ok(a),
        (Err(e), Err(_)) => return Err(e),
    };
    then_out
        .into_iter()
        .zip(else_out)
        .enumerate()
        .map(|(k, (a, b))| {
            if a.dtype != b.dtype {
                op_bail!(
                    "output {k} is {} in the then branch and {} in the else branch",
                    a.dtype,
                    b.dtype
                );
            }
            Ok(TensorType {
                dtype: a.dtype,
                shape: merge_shapes(a.shape, b.shape),
            })
        })
        .collect()
}

/// The shape two values share: equal dims kept, others symbolic; unknown when the ranks differ.
fn merge_shapes(
    a: Option<crate::shape::Shape>,
    b: Option<crate::shape::Shape>,
) -> Option<crate::shape::Shape> {
    let (a, b) = (a?, b?);
    if a.len() != b.len() {
        return None;
    }
    Some(
        a.iter()
            .zip(b.iter())
            .map(|(x, y)| {
                if x == y {
                    x.clone()
                } else {
                    super::fresh_dim("if")
                }
            })
            .collect::<Vec<Dim>>(),
    )
}

/// An axis of a rank-`rank` tensor (negative from the end).
pub(crate) fn scan_axis(axis: i64, rank: usize) -> Result<usize, OpError> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a as usize >= rank.max(1) {
        op_bail!("axis {axis} is out of range for rank {rank}");
    }
    Ok(a as usize)
}

/// The types of a Scan body's inputs (the scanned inputs' slices in place of the inputs) from
/// the node's input types `tys`, and the scan length when any scanned input has a known rank.
pub(crate) fn scan_body_inputs(
    a: &ScanAttrs,
    mut tys: Vec<TensorType>,
) -> Result<(Vec<TensorType>, Option<Dim>), OpError> {
    let formal = a.states + a.scan_inputs;
    if tys.len() < formal || a.input_axes.len() != a.scan_inputs {
        op_bail!(
            "Scan needs {} states and {} scanned inputs with an axis each",
            a.states,
            a.scan_inputs
        );
    }
    let mut length: Option<Dim> = None;
    for (j, ty) in tys[a.states..formal].iter_mut().enumerate() {
        let Some(mut slice) = ty.shape.take() else {
            // An unknown rank: the slice's too.
            continue;
        };
        let axis = scan_axis(a.input_axes[j], slice.len())?;
        if slice.is_empty() {
            op_bail!("scanned input {j} is a scalar");
        }
        let len = slice.remove(axis);
        length = match (length, len) {
            (Some(Dim::Static(x)), Dim::Static(y)) if x != y => {
                op_bail!("scanned inputs have lengths {x} and {y}")
            }
            (Some(Dim::Static(x)), _) => Some(Dim::Static(x)),
            (_, d) => Some(d),
        };
        ty.shape = Some(slice);
    }
    Ok((tys, length))
}

/// Scan: the states keep their types (dims the body changes become symbolic); each scan
/// output is its element's type with the scan length inserted at its axis.
pub fn scan(
    a: &ScanAttrs,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    let (tys, length) = scan_body_inputs(a, captured_types(inputs, 0)?)?;
    let out = output_types(&typed_body(&a.body, &tys)?);
    let k = out.len().saturating_sub(a.states);
    if out.len() != n_outputs || out.len() < a.states || a.output_axes.len() != k {
        op_bail!(
            "the body gives {} outputs for {} states and {} scan outputs, the node has {n_outputs}",
            out.len(),
            a.states,
            a.output_axes.len()
        );
    }
    let mut result: Vec<TensorType> = tys[..a.states]
        .iter()
        .zip(&out)
        .map(|(init, next)| TensorType {
            dtype: init.dtype,
            shape: merge_shapes(init.shape.clone(), next.shape.clone()),
        })
        .collect();
    let length = length.unwrap_or_else(|| super::fresh_dim("scan"));
    for (elem, &axis) in out[a.states..].iter().zip(&a.output_axes) {
        let shape = match &elem.shape {
            Some(s) => {
                let mut s = s.clone();
                s.insert(scan_axis(axis, s.len() + 1)?, length.clone());
                Some(s)
            }
            None => None,
        };
        result.push(TensorType {
            dtype: elem.dtype,
            shape,
        });
    }
    Ok(result)
}

/// The type a Loop body's input `i` (the iteration number or the condition) is fed with: as
/// the body declares it when it is a scalar or one element, else a scalar of `dtype`.
pub(crate) fn loop_counter_type(body: &Graph, i: usize, dtype: DType) -> TensorType {
    body.inputs
        .get(i)
        .and_then(|&v| body.value(v).ty.clone())
        .filter(|t| t.dtype == dtype && t.shape.as_ref().is_some_and(|s| s.len() <= 1))
        .map(|t| TensorType {
            dtype,
            shape: Some(vec![Dim::Static(1); t.shape.map_or(0, |s| s.len())]),
        })
        .unwrap_or_else(|| TensorType::new(dtype, Vec::new()))
}

/// Loop: the carried values keep their types (dims the body changes become symbolic); each
/// scan output is its element's type under a new symbolic first dim (the iteration count).
pub fn loop_(
    body: &Graph,
    carried: usize,
    inputs: &[Option<Known>],
    n_outputs: usize,
) -> Result<Vec<TensorType>, OpError> {
    if inputs.len() < 2 + carried {
        op_bail!("Loop needs a trip count, a condition and {carried} carried values");
    }
    if let Some(m) = super::opt(inputs, 0)
        && m.ty.dtype != DType::I64
    {
        op_bail!("the trip count must be i64, got {}", m.ty.dtype);
    }
    if let Some(c) = super::opt(inputs, 1)
        && c.ty.dtype != DType::Bool
    {
        op_bail!("cond must be bool, got {}", c.ty.dtype);
    }
    let mut tys = vec![
        loop_counter_type(body, 0, DType::I64),
        loop_counter_type(body, 1, DType::Bool),
    ];
    tys.extend(captured_types(inputs, 2)?);
    let out = output_types(&typed_body(body, &tys)?);
    if out.len() < 1 + carried || out.len() - 1 != n_outputs {
        op_bail!(
            "the body gives {} outputs for a condition and {carried} carried values, the node has {n_outputs} outputs",
            out.len()
        );
    }
    let count = super::fresh_dim("loop");
    let mut result: Vec<TensorType> = tys[2..2 + carried]
        .iter()
        .zip(&out[1..])
        .map(|(init, next)| TensorType {
            dtype: init.dtype,
            shape: merge_shapes(init.shape.clone(), next.shape.clone()),
        })
        .collect();
    for elem in &out[1 + carried..] {
        result.push(TensorType {
            dtype: elem.dtype,
            shape: elem.shape.clone().map(|mut s| {
                s.insert(0, count.clone());
                s
            }),
        });
    }
    Ok(result)
}
