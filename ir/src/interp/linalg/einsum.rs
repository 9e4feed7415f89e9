//! Einsum: parsing an equation into axis assignments (shared with shape inference) and the
//! general kernel (diagonals, broadcasting ellipses, sums over labels absent from the output);
//! plain two-operand contractions take the GEMM path in `einsum_matmul`.

use super::einsum_matmul::contract_two;
use super::matmul::Product;
use crate::error::OpError;
use crate::interp::req;
use crate::shape::broadcast;
use crate::tensor::{Data, Tensor, checked_numel};
use crate::{op_bail, op_err};

/// One subscript of a term: a letter, or the `...` standing for a run of broadcast dims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subscript {
    Letter(char),
    Ellipsis,
}

/// A parsed equation, before operand ranks are known.
#[derive(Debug)]
pub(crate) struct Equation {
    inputs: Vec<Vec<Subscript>>,
    /// `None` for the implicit form (no `->`).
    output: Option<Vec<Subscript>>,
}

/// An equation bound to operand ranks: every dim of every operand, and of the output, is an
/// axis id. Letters get ids `0..letters`; ellipsis dims get the ids after them, right-aligned
/// across operands as in numpy broadcasting.
#[derive(Debug)]
pub(crate) struct AxisMap {
    pub n_axes: usize,
    pub inputs: Vec<Vec<usize>>,
    pub output: Vec<usize>,
    /// Whether an axis id stands for ellipsis dims (which broadcast) rather than a letter.
    pub is_ellipsis: Vec<bool>,
    /// The letter of each letter axis, for messages.
    pub letters: Vec<char>,
}

fn parse_term(term: &str, what: &str) -> Result<Vec<Subscript>, OpError> {
    let mut out = Vec::new();
    let mut rest = term;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("...") {
            if out.contains(&Subscript::Ellipsis) {
                op_bail!("{what} '{term}' has more than one '...'");
            }
            out.push(Subscript::Ellipsis);
            rest = after;
        } else if c.is_ascii_alphabetic() {
            out.push(Subscript::Letter(c));
            rest = &rest[1..];
        } else {
            op_bail!("{what} '{term}' has '{c}': subscripts are letters a-z, A-Z and '...'");
        }
    }
    Ok(out)
}

impl Equation {
    pub fn parse(equation: &str) -> Result<Equation, OpError> {
        let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
        let (lhs, rhs) = match eq.split_once("->") {
            Some((l, r)) => {
                if r.contains("->") {
                    op_bail!("equation '{equation}' has more than one '->'");
                }
                (l, Some(r))
            }
            None => (eq.as_str(), None),
        };
        let inputs = lhs
            .split(',')
            .enumerate()
            .map(|(i, t)| parse_term(t, &format!("operand {i}")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| op_err!("equation '{equation}': {e}"))?;
        let output = rhs
            .map(|r| parse_term(r, "output"))
            .transpose()
            .map_err(|e| op_err!("equation '{equation}': {e}"))?;
        if let Some(out) = &output {
            for (i, s) in out.iter().enumerate() {
                if let Subscript::Letter(c) = s {
                    if out[..i].contains(s) {
                        op_bail!("equation '{equation}': output repeats '{c}'");
                    }
                    if !inputs.iter().any(|t| t.contains(s)) {
                        op_bail!("equation '{equation}': output label '{c}' is in no operand");
                    }
                }
            }
        }
        Ok(Equation { inputs, output })
    }

    pub fn n_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Binds the equation to operand ranks.
    pub fn bind(&self, ranks: &[usize]) -> Result<AxisMap, OpError> {
        if ranks.len() != self.inputs.len() {
            op_bail!(
                "the equation has {} operands, the node has {} inputs",
                self.inputs.len(),
                ranks.len()
            );
        }
        let mut letters: Vec<char> = Vec::new();
        for t in &self.inputs {
            for s in t {
                if let Subscript::Letter(c) = s
                    && !letters.contains(c)
                {
                    letters.push(*c);
                }
            }
        }
        let mut ellipsis_lens = Vec::with_capacity(ranks.len());
        for (i, (t, &rank)) in self.inputs.iter().zip(ranks).enumerate() {
            let n_letters = t.iter().filter(|s| **s != Subscript::Ellipsis).count();
            let has_ellipsis = t.contains(&Subscript::Ellipsis);
            if rank < n_letters || (!has_ellipsis && rank != n_letters) {
                op_bail!(
                    "operand {i} has rank {rank}, its subscripts need {}{n_letters}",
                    if has_ellipsis { "at least " } else { "" }
                );
            }
            ellipsis_lens.push(rank - n_letters);
        }
        let n_ellipsis = ellipsis_lens.iter().copied().max().unwrap_or(0);
        let n_letters = letters.len();
        let letter_id = |c: char| letters.iter().position(|&l| l == c).unwrap_or(0);
        let inputs = self
            .inputs
            .iter()
            .zip(&ellipsis_lens)
            .map(|(t, &e)| {
                let mut ids = Vec::new();
                for s in t {
                    match s {
                        Subscript::Letter(c) => ids.push(letter_id(*c)),
                        Subscript::Ellipsis => {
                            ids.extend(n_letters + n_ellipsis - e..n_letters + n_ellipsis)
                        }
                    }
                }
                ids
            })
            .collect();
        let ellipsis_ids = n_letters..n_letters + n_ellipsis;
        let output = match &self.output {
            Some(out) => {
                let mut ids = Vec::new();
                for s in out {
                    match s {
                        Subscript::Letter(c) => ids.push(letter_id(*c)),
                        Subscript::Ellipsis => ids.extend(ellipsis_ids.clone()),
                    }
                }
                ids
            }
            None => {
                // Implicit form: the broadcast dims, then letters seen exactly once, sorted.
                let mut once: Vec<char> = letters
                    .iter()
                    .copied()
                    .filter(|&c| {
                        let n: usize = self
                            .inputs
                            .iter()
                            .map(|t| t.iter().filter(|s| **s == Subscript::Letter(c)).count())
                            .sum();
                        n == 1
                    })
                    .collect();
                once.sort_unstable();
                ellipsis_ids
                    .clone()
                    .chain(once.into_iter().map(letter_id))
                    .collect()
            }
        };
        let mut is_ellipsis = vec![false; n_letters];
        is_ellipsis.resize(n_letters + n_ellipsis, true);
        Ok(AxisMap {
            n_axes: n_letters + n_ellipsis,
            inputs,
            output,
            is_ellipsis,
            letters,
        })
    }
}

impl AxisMap {
    /// The size of every axis, checking that letters agree and ellipsis dims broadcast.
    pub fn axis_sizes(&self, shapes: &[&[usize]]) -> Result<Vec<usize>, OpError> {
        let mut sizes: Vec<Option<usize>> = vec![None; self.n_axes];
        for (i, (ids, shape)) in self.inputs.iter().zip(shapes).enumerate() {
            for (&id, &d) in ids.iter().zip(shape.iter()) {
                sizes[id] = Some(match sizes[id] {
                    None => d,
                    Some(s) if s == d => s,
                    Some(s) if self.is_ellipsis[id] => broadcast(&[s], &[d])
                        .map_err(|_| op_err!("the '...' dims of the operands do not broadcast: operand {i} has shape {shape:?}"))?[0],
                    Some(s) => op_bail!(
                        "label '{}' has size {s} in one operand and {d} in operand {i} (shape {shape:?})",
                        self.letters[id]
                    ),
                });
            }
        }
        Ok(sizes.into_iter().map(|s| s.unwrap_or(1)).collect())
    }
}

/// Elements an einsum can combine: `f64` for floats, wrapping `i128` for integers.
trait Accumulate: Copy {
    const ZERO: Self;
    const ONE: Self;
    fn mul(self, other: Self) -> Self;
    fn add(self, other: Self) -> Self;
}

impl Accumulate for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    fn mul(self, other: f64) -> f64 {
        self * other
    }
    fn add(self, other: f64) -> f64 {
        self + other
    }
}

impl Accumulate for i128 {
    const ZERO: i128 = 0;
    const ONE: i128 = 1;
    fn mul(self, other: i128) -> i128 {
        self.wrapping_mul(other)
    }
    fn add(self, other: i128) -> i128 {
        self.wrapping_add(other)
    }
}

/// Evaluates the bound equation: each output element sums, over every value of the axes not in
/// the output, the product of the operand elements those axis values select.
fn contract<T: Accumulate>(
    map: &AxisMap,
    sizes: &[usize],
    operands: &[(Vec<T>, &[usize])],
) -> Vec<T> {
    // Per operand, the stride each axis id advances it by: a repeated label adds up its dims'
    // strides (a diagonal); a broadcast size-1 dim and an absent axis advance by 0.
    let axis_strides: Vec<Vec<usize>> = map
        .inputs
        .iter()
        .zip(operands)
        .map(|(ids, (_, shape))| {
            let strides = crate::tensor::strides(shape);
            let mut per_axis = vec![0usize; map.n_axes];
            for ((&id, &st), &d) in ids.iter().zip(&strides).zip(shape.iter()) {
                if d != 1 || sizes[id] == 1 {
                    per_axis[id] += st;
                }
            }
            per_axis
        })
        .collect();
    let summed: Vec<usize> = (0..map.n_axes)
        .filter(|a| !map.output.contains(a))
        .collect();
    let out_len: usize = map.output.iter().map(|&a| sizes[a]).product();
    let sum_len: usize = summed.iter().map(|&a| sizes[a]).product();
    let mut out = Vec::with_capacity(out_len);
    let mut out_idx = vec![0usize; map.output.len()];
    let mut base = vec![0usize; operands.len()];
    for _ in 0..out_len {
        let mut acc = T::ZERO;
        let mut sum_idx = vec![0usize; summed.len()];
        let mut off = base.clone();
        for _ in 0..sum_len {
            let mut prod = T::ONE;
            for ((data, _), &o) in operands.iter().zip(&off) {
                prod = prod.mul(data[o]);
            }
            acc = acc.add(prod);
            advance(&mut sum_idx, &summed, sizes, &axis_strides, &mut off);
        }
        out.push(acc);
        advance(&mut out_idx, &map.output, sizes, &axis_strides, &mut base);
    }
    out
}

/// Steps a row-major counter over `axes` by one, keeping each operand's offset in step.
fn advance(
    counter: &mut [usize],
    axes: &[usize],
    sizes: &[usize],
    strides: &[Vec<usize>],
    offsets: &mut [usize],
) {
    for pos in (0..axes.len()).rev() {
        let axis = axes[pos];
        counter[pos] += 1;
        for (off, st) in offsets.iter_mut().zip(strides) {
            *off += st[axis];
        }
        if counter[pos] < sizes[axis] {
            return;
        }
        for (off, st) in offsets.iter_mut().zip(strides) {
            *off -= st[axis] * counter[pos];
        }
        counter[pos] = 0;
    }
}

/// The fast path for two float operands (see `einsum_matmul`), when it applies.
fn two_operand_product(map: &AxisMap, sizes: &[usize], x: &Tensor, y: &Tensor) -> Option<Product> {
    match (x.data(), y.data()) {
        (Data::F32(a), Data::F32(b)) => {
            contract_two(map, sizes, (a, x.shape()), (b, y.shape())).map(Product::F32)
        }
        (Data::F64(a), Data::F64(b)) => {
            contract_two(map, sizes, (a, x.shape()), (b, y.shape())).map(Product::F64)
        }
        (Data::F16(_), Data::F16(_)) | (Data::BF16(_), Data::BF16(_)) => {
            let (a, b) = (x.to_f32_vec(), y.to_f32_vec());
            contract_two(map, sizes, (&a, x.shape()), (&b, y.shape())).map(Product::F32)
        }
        _ => None,
    }
}

pub fn einsum(equation: &str, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, OpError> {
    let eq = Equation::parse(equation)?;
    let tensors = (0..eq.n_inputs())
        .map(|i| req(inputs, i))
        .collect::<Result<Vec<_>, _>>()?;
    if inputs.len() != eq.n_inputs() {
        op_bail!(
            "the equation has {} operands, the node has {} inputs",
            eq.n_inputs(),
            inputs.len()
        );
    }
    let dtype = tensors[0].dtype();
    if let Some(t) = tensors.iter().find(|t| t.dtype() != dtype) {
        op_bail!("operands have different dtypes: {dtype} and {}", t.dtype());
    }
    let ranks: Vec<usize> = tensors.iter().map(|t| t.rank()).collect();
    let map = eq.bind(&ranks)?;
    let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.shape()).collect();
    let sizes = map.axis_sizes(&shapes)?;
    let out_shape: Vec<usize> = map.output.iter().map(|&a| sizes[a]).collect();
    // The general kernel visits every combination of axis values.
    checked_numel(&sizes)
        .map_err(|_| op_err!("the equation spans too many terms: axis sizes {sizes:?}"))?;
    if let [x, y] = tensors.as_slice()
        && let Some(out) = two_operand_product(&map, &sizes, x, y)
    {
        return Ok(vec![out.into_tensor(dtype, out_shape)?]);
    }
    let out = if dtype.is_float() {
        let ops: Vec<(Vec<f64>, &[usize])> = tensors
            .iter()
            .map(|t| (t.to_f64_vec(), t.shape()))
            .collect();
        Tensor::from_f64(dtype, out_shape, &contract(&map, &sizes, &ops))?
    } else if dtype.is_int() {
        let ops: Vec<(Vec<i128>, &[usize])> = tensors
            .iter()
            .map(|t| (t.to_i128_vec(), t.shape()))
            .collect();
        Tensor::from_i128(dtype, out_shape, &contract(&map, &sizes, &ops))?
    } else {
        op_bail!("dtype {dtype} is not supported");
    };
    Ok(vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(eq: &str, ts: &[&Tensor]) -> Tensor {
        let ins: Vec<Option<&Tensor>> = ts.iter().map(|t| Some(*t)).collect();
        einsum(eq, &ins).unwrap().remove(0)
    }

    #[test]
    fn implicit_output_sorts_single_labels() {
        let a = Tensor::from_f32(vec![2, 3], (0..6).map(|x| x as f32).collect()).unwrap();
        let t = run("ji", &[&a]);
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.as_f32().unwrap(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn diagonal_trace_and_batched_matmul() {
        let a = Tensor::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(run("ii->i", &[&a]).as_f32().unwrap(), &[1.0, 4.0]);
        assert_eq!(run("ii", &[&a]).as_f32().unwrap(), &[5.0]);
        let b = Tensor::from_f32(vec![1, 2, 2], vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let y = run("...ij,...jk->...ik", &[&b, &a]);
        assert_eq!(y.shape(), &[1, 2, 2]);
        assert_eq!(y.as_f32().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn two_operand_fast_path_matches_the_general_kernel() {
        let a = Tensor::from_f32(
            vec![2, 3, 4],
            (0..24).map(|x| (x % 5) as f32 - 2.0).collect(),
        )
        .unwrap();
        let b = Tensor::from_f32(
            vec![4, 2, 5],
            (0..40).map(|x| (x % 7) as f32 - 3.0).collect(),
        )
        .unwrap();
        for eq in [
            "bij,jbk->bik",
            "bij,jbk->kbi",
            "bij,jbk->ik",
            "bij,jbk->bjik",
        ] {
            let fast = run(eq, &[&a, &b]);
            let map = Equation::parse(eq).unwrap().bind(&[3, 3]).unwrap();
            let sizes = map.axis_sizes(&[a.shape(), b.shape()]).unwrap();
            let ops = [(a.to_f64_vec(), a.shape()), (b.to_f64_vec(), b.shape())];
            let general = contract(&map, &sizes, &ops);
            let general: Vec<f32> = general.iter().map(|&x| x as f32).collect();
            assert_eq!(fast.as_f32().unwrap(), general.as_slice(), "{eq}");
        }
    }

    #[test]
    fn malformed_equations_are_errors() {
        for bad in ["ij->k", "i.j", "ij->ii", "a->b->c", "......"] {
            assert!(Equation::parse(bad).is_err(), "{bad}");
        }
        let eq = Equation::parse("ij,jk").unwrap();
        assert!(eq.bind(&[2]).is_err());
        assert!(eq.bind(&[2, 3]).is_err());
    }
}
