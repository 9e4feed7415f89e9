//! Dim arithmetic for the layout shape rules: products of possibly symbolic dims, the element
//! balance of a reshape, and reading constant index-like inputs.

use crate::error::OpError;
use crate::infer::{Known, fresh_dim};
use crate::shape::{Dim, Shape, TensorType};

/// `n` fresh symbolic dims.
pub fn fresh_dims(n: usize, hint: &str) -> Shape {
    (0..n).map(|_| fresh_dim(hint)).collect()
}

/// The values of a constant index-like input (axes, pads, a shape), if known.
pub fn known_i64s(k: Option<Known>) -> Result<Option<Vec<i64>>, OpError> {
    k.and_then(|k| k.value).map(|t| t.to_i64_vec()).transpose()
}

/// The length of a 1-D value whose length is static.
pub fn static_len(ty: &TensorType) -> Option<usize> {
    match ty.shape.as_deref() {
        Some([Dim::Static(n)]) => Some(*n),
        _ => None,
    }
}

/// The product of `dims`: static when all are, the one symbol when the rest multiply to 1,
/// otherwise a fresh symbol.
pub fn product_dim(dims: &[Dim], hint: &str) -> Dim {
    let mut symbols = dims.iter().filter(|d| matches!(d, Dim::Symbolic(_)));
    let statics = dims
        .iter()
        .filter_map(Dim::as_static)
        .try_fold(1usize, usize::checked_mul);
    match (symbols.next(), symbols.next(), statics) {
        (None, _, Some(p)) => Dim::Static(p),
        (Some(s), None, Some(1)) => s.clone(),
        _ => fresh_dim(hint),
    }
}

/// A static factor times a multiset of symbols.
struct Factors {
    statics: Option<u128>,
    symbols: Vec<String>,
}

impl Factors {
    fn of(dims: &[Dim]) -> Factors {
        let mut statics = Some(1u128);
        let mut symbols = Vec::new();
        for d in dims {
            match d {
                Dim::Static(n) => statics = statics.and_then(|p| p.checked_mul(*n as u128)),
                Dim::Symbolic(s) => symbols.push(s.clone()),
            }
        }
        Factors { statics, symbols }
    }
}

/// The element counts on both sides of a reshape, with the symbols they share cancelled.
pub struct Balance {
    input: Factors,
    output: Factors,
}

impl Balance {
    /// Compares all input dims with the output dims known so far.
    pub fn of(input: &[Dim], output_known: &[Dim]) -> Balance {
        let mut input = Factors::of(input);
        let mut output = Factors::of(output_known);
        output
            .symbols
            .retain(|s| match input.symbols.iter().position(|t| t == s) {
                Some(i) => {
                    input.symbols.swap_remove(i);
                    false
                }
                None => true,
            });
        Balance { input, output }
    }

    /// The dim that makes both sides equal (the `-1` entry): exact when the symbols cancel or
    /// one input symbol is left over, a fresh symbol otherwise. Errors when the static counts
    /// cannot divide.
    pub fn quotient(&self) -> Result<Dim, String> {
        let (Some(pin), Some(pout)) = (self.input.statics, self.output.statics) else {
            return Ok(fresh_dim("reshape"));
        };
        if !self.output.symbols.is_empty() {
            return Ok(fresh_dim("reshape"));
        }
        match self.input.symbols.as_slice() {
            [] if pout == 0 => {
                Err("-1 cannot be inferred when the other dims multiply to 0".into())
            }
            [] if pin % pout != 0 => Err(format!("{pin} elements are not a multiple of {pout}")),
            [] => Ok(Dim::Static((pin / pout) as usize)),
            [s] if pin == pout => Ok(Dim::Symbolic(s.clone())),
            _ => Ok(fresh_dim("reshape")),
        }
    }

    /// Why the two sides definitely hold different element counts, if they do.
    pub fn mismatch(&self) -> Option<String> {
        let (Some(pin), Some(pout)) = (self.input.statics, self.output.statics) else {
            return None;
        };
        let cancelled = self.input.symbols.is_empty() && self.output.symbols.is_empty();
        (cancelled && pin != pout)
            .then(|| format!("the element counts differ ({pin} vs {pout} per symbolic factor)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Dim {
        Dim::Symbolic(s.into())
    }

    #[test]
    fn reshape_balance_keeps_symbols() {
        let b = Balance::of(&[sym("n"), Dim::Static(3), Dim::Static(4)], &[sym("n")]);
        assert_eq!(b.quotient().unwrap(), Dim::Static(12));
        let b = Balance::of(
            &[sym("n"), Dim::Static(12)],
            &[Dim::Static(3), Dim::Static(4)],
        );
        assert_eq!(b.quotient().unwrap(), sym("n"));
        let b = Balance::of(&[sym("n"), Dim::Static(12)], &[sym("n"), Dim::Static(5)]);
        assert!(b.quotient().is_err());
        assert!(b.mismatch().is_some());
    }

    #[test]
    fn products_of_symbols_are_fresh() {
        assert_eq!(
            product_dim(&[Dim::Static(2), Dim::Static(3)], "p"),
            Dim::Static(6)
        );
        assert_eq!(product_dim(&[Dim::Static(1), sym("n")], "p"), sym("n"));
        assert!(
            matches!(product_dim(&[Dim::Static(2), sym("n")], "p"), Dim::Symbolic(s) if s != "n")
        );
    }
}
