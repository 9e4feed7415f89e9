//! Unit tests of the dense linear algebra against matrices of known rank and spectrum.

use super::*;
use crate::verify::Rng;

/// `U·diag(s)·V` with orthonormal-row U (as columns) and V: singular values exactly `s`.
fn with_spectrum(rng: &mut Rng, m: usize, n: usize, s: &[f64]) -> Vec<f64> {
    let r = s.len();
    let mut ut = rng.normals(r * m);
    orthonormalize_rows(&mut ut, r, m);
    let mut v = rng.normals(r * n);
    orthonormalize_rows(&mut v, r, n);
    let u = transpose(&ut, r, m);
    let mut us = u.clone();
    for i in 0..m {
        for k in 0..r {
            us[i * r + k] *= s[k];
        }
    }
    matmul(&us, &v, m, r, n)
}

#[test]
fn low_rank_finds_the_exact_rank_and_a_faithful_factorization() {
    let mut rng = Rng::new(1);
    for &(m, n, r) in &[(40, 30, 3), (64, 200, 7), (300, 50, 12)] {
        let s: Vec<f64> = (0..r).map(|k| 10.0 / (k + 1) as f64).collect();
        let a = with_spectrum(&mut rng, m, n, &s);
        let (got, u, v) = low_rank(&a, m, n, 1e-9, m.min(n)).expect("low rank found");
        assert_eq!(got, r, "{m}x{n}");
        assert!(rel_residual(&a, m, n, &u, &v, got) <= 1e-9);
    }
}

#[test]
fn a_full_rank_matrix_is_not_low_rank_and_the_screen_rejects_it() {
    let mut rng = Rng::new(2);
    let (m, n) = (256, 128);
    let a = rng.normals(m * n);
    assert!(low_rank(&a, m, n, 1e-6, 40).is_none());
    assert!(find_low_rank(&a, m, n, 1e-6, 40).is_none());
    // An exactly low-rank matrix of the same size passes the screen and is found.
    let b = with_spectrum(&mut rng, m, n, &[3.0, 2.0, 1.0, 0.5]);
    assert_eq!(find_low_rank(&b, m, n, 1e-6, 40).map(|x| x.0), Some(4));
}

#[test]
fn truncated_svd_recovers_singular_values_and_errors() {
    let mut rng = Rng::new(3);
    let s = [5.0, 4.0, 2.0, 1.0, 0.5, 0.25];
    let (m, n) = (50, 20);
    let a = with_spectrum(&mut rng, m, n, &s);
    let svd = truncated_svd(&a, m, n).expect("svd");
    for (k, &want) in s.iter().enumerate() {
        assert!(
            (svd.s[k] - want).abs() < 1e-8,
            "σ{k}: {} vs {want}",
            svd.s[k]
        );
    }
    let total: f64 = s.iter().map(|x| x * x).sum();
    let tail: f64 = s[3..].iter().map(|x| x * x).sum();
    assert!((svd.error(3) - (tail / total).sqrt()).abs() < 1e-8);
    let (u, v) = svd.factors(&a, 3);
    assert!((rel_residual(&a, m, n, &u, &v, 3) - (tail / total).sqrt()).abs() < 1e-8);
    assert_eq!(svd.rank_for(0.2), 3);
}

#[test]
fn symmetric_eigenvalues_of_a_known_matrix() {
    // [[2, 1], [1, 2]] has eigenvalues 3 and 1.
    let ev = sym_eigenvalues(vec![2.0, 1.0, 1.0, 2.0], 2);
    assert!(
        (ev[0] - 3.0).abs() < 1e-12 && (ev[1] - 1.0).abs() < 1e-12,
        "{ev:?}"
    );
}
