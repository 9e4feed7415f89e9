//! Einsum equations that are (batched) matrix products: `bij,bjk->bik`, `bhqd,bhkd->bhqk` and
//! the like become contractions with strided operands; others stay interpreted.

/// An Einsum as a contraction: per output batch dim and per m/n/k role, which operand dim holds
/// it (`None`: the role is absent, size 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EinsumMatmul {
    /// Per batch dim of the output (in output order): its dim in `a` and in `b`.
    pub batch: Vec<(usize, usize)>,
    pub batch_sizes: Vec<usize>,
    pub m: Option<usize>,
    pub n: Option<usize>,
    /// The summed index: its dim in `a` and in `b`.
    pub k: Option<(usize, usize)>,
    pub sizes: (usize, usize, usize),
}

/// Recognizes a two-operand equation with at most one m, n and k index each, every index of an
/// operand distinct, no ellipsis, equal sizes where operands share an index, and an output laid
/// out as batch indices, then m, then n.
pub fn einsum_matmul(equation: &str, a: &[usize], b: &[usize]) -> Option<EinsumMatmul> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    if eq.contains('.') {
        return None;
    }
    let (lhs, out) = match eq.split_once("->") {
        Some((l, o)) => (l.to_string(), o.chars().collect::<Vec<char>>()),
        None => {
            // Implicit output: the indices that appear once, in alphabetical order.
            let mut once: Vec<char> = eq
                .chars()
                .filter(|c| c.is_ascii_alphabetic() && eq.matches(*c).count() == 1)
                .collect();
            once.sort_unstable();
            (eq.clone(), once)
        }
    };
    let (ia, ib) = lhs.split_once(',')?;
    let (ia, ib): (Vec<char>, Vec<char>) = (ia.chars().collect(), ib.chars().collect());
    let distinct = |v: &[char]| v.iter().enumerate().all(|(i, c)| !v[..i].contains(c));
    if ia.len() != a.len()
        || ib.len() != b.len()
        || !distinct(&ia)
        || !distinct(&ib)
        || !distinct(&out)
    {
        return None;
    }
    let pos = |v: &[char], c: char| v.iter().position(|&x| x == c);
    let mut batch = Vec::new();
    let mut batch_sizes = Vec::new();
    let (mut m, mut n) = (None, None);
    let mut roles = Vec::new();
    for &c in &out {
        match (pos(&ia, c), pos(&ib, c)) {
            (Some(x), Some(y)) => {
                if a[x] != b[y] || m.is_some() || n.is_some() {
                    return None;
                }
                batch.push((x, y));
                batch_sizes.push(a[x]);
                roles.push('b');
            }
            (Some(x), None) if m.is_none() && n.is_none() => {
                m = Some(x);
                roles.push('m');
            }
            (None, Some(y)) if n.is_none() => {
                n = Some(y);
                roles.push('n');
            }
            _ => return None,
        }
    }
    let summed: Vec<char> = ia.iter().copied().filter(|c| !out.contains(c)).collect();
    if ib.iter().any(|c| !out.contains(c) && !ia.contains(c)) || summed.len() > 1 {
        return None;
    }
    let k = match summed.first() {
        Some(&c) => {
            let (x, y) = (pos(&ia, c)?, pos(&ib, c)?);
            if a[x] != b[y] {
                return None;
            }
            Some((x, y))
        }
        None => None,
    };
    let sizes = (
        m.map_or(1, |d| a[d]),
        n.map_or(1, |d| b[d]),
        k.map_or(1, |(d, _)| a[d]),
    );
    Some(EinsumMatmul {
        batch,
        batch_sizes,
        m,
        n,
        k,
        sizes,
    })
}

#[cfg(test)]
mod tests {
    use super::einsum_matmul;

    #[test]
    fn recognizes_matmul_shapes_and_rejects_the_rest() {
        let e = einsum_matmul("bij,bjk->bik", &[2, 3, 4], &[2, 4, 5]).expect("batched matmul");
        assert_eq!((e.batch.len(), e.sizes), (1, (3, 5, 4)));
        let e = einsum_matmul("bhqd, bhkd -> bhqk", &[1, 2, 3, 8], &[1, 2, 5, 8]).expect("q·kᵀ");
        assert_eq!((e.m, e.n, e.k), (Some(2), Some(2), Some((3, 3))));
        assert!(
            einsum_matmul("ij,jk", &[2, 3], &[3, 4]).is_some(),
            "implicit output ik"
        );
        assert!(
            einsum_matmul("ij,jk->ki", &[2, 3], &[3, 4]).is_none(),
            "transposed output"
        );
        assert!(
            einsum_matmul("ii,ij->j", &[3, 3], &[3, 4]).is_none(),
            "a diagonal"
        );
        assert!(
            einsum_matmul("ij,kl->ijkl", &[2, 3], &[4, 5]).is_none(),
            "two m indices"
        );
        assert!(einsum_matmul("...ij,...jk->...ik", &[2, 3], &[3, 4]).is_none());
    }
}
