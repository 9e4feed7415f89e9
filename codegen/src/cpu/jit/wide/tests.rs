//! The wide helpers at every width this host has, against f64 `exp` and plain folds: each
//! term within exp's stated 2e-6 relative error, sums within rounding, tails of every length,
//! in place and with no store, and the special values.

use super::{Width, exp_portable, row_exp_sum, row_max};
use crate::cpu::jit::tests::util::Rng;

/// The widths to test here: the host's and every narrower one it also supports.
fn widths() -> Vec<Width> {
    let mut w = vec![Width::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            w.push(Width::Avx2);
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            w.push(Width::Avx512);
        }
    }
    w
}

fn exp_sum(w: Width, src: &[f32], dst: Option<&mut [f32]>, shift: f32) -> f32 {
    let d = dst.map_or(std::ptr::null_mut(), |d| d.as_mut_ptr());
    // SAFETY: `w` is supported here; src and dst hold src.len() elements.
    unsafe { row_exp_sum(w, src.as_ptr(), d, src.len(), shift) }
}

fn max(w: Width, src: &[f32]) -> f32 {
    // SAFETY: as above.
    unsafe { row_max(w, src.as_ptr(), src.len()) }
}

#[test]
fn terms_match_f64_exp_at_every_width() {
    let mut rng = Rng::new(3);
    let mut xs: Vec<f32> = rng.vec(4000, -90.0, 90.0);
    xs.extend(rng.vec(1000, -1.0, 1.0));
    xs.extend([
        0.0, -0.0, 88.7, 88.72283, 88.8, -86.0, -87.0, -88.0, -104.0, 1e-30,
    ]);
    for w in widths() {
        let mut got = vec![0.0f32; xs.len()];
        let s = exp_sum(w, &xs, Some(&mut got), 0.0);
        for (i, (&x, &g)) in xs.iter().zip(&got).enumerate() {
            let want = (x as f64).exp();
            if want > f32::MAX as f64 {
                assert_eq!(g, f32::INFINITY, "{w:?} exp({x}) [{i}]");
            } else if want >= 2f64.powi(-125) {
                let rel = (g as f64 - want).abs() / want;
                assert!(rel < 2e-6, "{w:?} exp({x}) [{i}]: got {g}, want {want}");
            } else {
                assert!(
                    (0.0..=2.0 * f32::MIN_POSITIVE).contains(&g),
                    "{w:?} exp({x}): {g}"
                );
            }
        }
        assert!(
            s.is_infinite(),
            "{w:?}: the sum holds exp(88.8) = inf, got {s}"
        );
        let finite: Vec<f32> = xs.iter().copied().filter(|&x| x < 80.0).collect();
        let mut terms = vec![0.0f32; finite.len()];
        let s = exp_sum(w, &finite, Some(&mut terms), 0.0) as f64;
        let want: f64 = terms.iter().map(|&t| t as f64).sum();
        assert!(
            (s - want).abs() <= 1e-5 * want,
            "{w:?}: sum {s}, terms sum {want}"
        );
    }
}

#[test]
fn every_tail_length_in_place_and_without_stores() {
    let mut rng = Rng::new(5);
    for w in widths() {
        for n in (0..=40).chain([127, 128, 129, 1000]) {
            let src = rng.vec(n, -6.0, 6.0);
            let shift = max(Width::Portable, &src);
            assert_eq!(
                max(w, &src).to_bits(),
                shift.to_bits(),
                "{w:?} max, n = {n}"
            );
            let mut want = vec![0.0f32; n];
            let want_sum = exp_sum(Width::Portable, &src, Some(&mut want), shift);
            let mut got = vec![f32::NAN; n + 1];
            let s = exp_sum(w, &src, Some(&mut got[..n]), shift);
            assert!(got[n].is_nan(), "{w:?} n = {n}: wrote past the row");
            for i in 0..n {
                let rel = (got[i] - want[i]).abs() / want[i].abs().max(1e-30);
                assert!(rel < 4e-7, "{w:?} n = {n} [{i}]: {} vs {}", got[i], want[i]);
            }
            let tol = 1e-6 * want_sum.abs().max(1.0);
            assert!(
                (s - want_sum).abs() <= tol,
                "{w:?} n = {n}: {s} vs {want_sum}"
            );
            let s_nostore = exp_sum(w, &src, None, shift);
            assert_eq!(
                s.to_bits(),
                s_nostore.to_bits(),
                "{w:?} n = {n}: no-store sum"
            );
            let mut inplace = src.clone();
            let p = inplace.as_mut_ptr();
            // SAFETY: src and dst are the same n elements.
            let s_inplace = unsafe { row_exp_sum(w, p, p, n, shift) };
            assert_eq!(s.to_bits(), s_inplace.to_bits(), "{w:?} n = {n}: in place");
            assert_eq!(inplace, got[..n], "{w:?} n = {n}: in-place terms");
        }
    }
}

#[test]
fn special_values() {
    for w in widths() {
        for n in [5usize, 16, 37] {
            let mut row: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 2.0).collect();
            // A NaN anywhere makes the sum NaN, whatever the max.
            row[n / 2] = f32::NAN;
            let m = max(w, &row);
            assert!(exp_sum(w, &row, None, m).is_nan(), "{w:?} n = {n}: NaN row");
            // All -inf: the shift is -inf, every term NaN.
            let ninf = vec![f32::NEG_INFINITY; n];
            assert_eq!(max(w, &ninf), f32::NEG_INFINITY);
            assert!(exp_sum(w, &ninf, None, f32::NEG_INFINITY).is_nan());
            // Masked keys (-inf) beside finite ones contribute zero.
            let mut masked: Vec<f32> = vec![1.0; n];
            masked[0] = f32::NEG_INFINITY;
            let s = exp_sum(w, &masked, None, 1.0);
            assert_eq!(s, (n - 1) as f32, "{w:?} n = {n}: masked");
        }
        assert_eq!(max(w, &[]), f32::NEG_INFINITY);
        assert_eq!(exp_sum(w, &[], None, 0.0), 0.0);
    }
    assert_eq!(exp_portable(f32::INFINITY), f32::INFINITY);
    assert_eq!(exp_portable(f32::NEG_INFINITY), 0.0);
    assert!(exp_portable(f32::NAN).is_nan());
}
