//! Short human-readable summaries of tensors and quantities.

use ir::Tensor;
use std::fmt::Write;

/// Values shown per tensor.
const SHOWN: usize = 6;

/// Two or three lines: name, dtype and shape; the first few values; statistics.
pub fn tensor(name: &str, t: &Tensor) -> String {
    let mut out = format!("{name}: {} {:?}\n", t.dtype(), t.shape());
    let n = t.len();
    let more = if n > SHOWN {
        format!(", ... ({n} values)")
    } else {
        String::new()
    };
    if t.dtype().is_float() {
        let v = t.to_f64_vec();
        let shown: Vec<String> = v.iter().take(SHOWN).map(|&x| number(x)).collect();
        let _ = writeln!(out, "  values: [{}{more}]", shown.join(", "));
        let finite: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        if !finite.is_empty() {
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
            let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let nans = n - finite.len();
            let nan_note = if nans > 0 {
                format!("  nan: {nans}")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  mean: {}  min: {}  max: {}{nan_note}",
                number(mean),
                number(min),
                number(max)
            );
        } else if n > 0 {
            let _ = writeln!(out, "  all {n} values are NaN");
        }
    } else if t.dtype() == ir::DType::Bool {
        let v = t.to_bool_vec();
        let shown: Vec<String> = v.iter().take(SHOWN).map(|b| b.to_string()).collect();
        let _ = writeln!(out, "  values: [{}{more}]", shown.join(", "));
        let trues = v.iter().filter(|&&b| b).count();
        let _ = writeln!(out, "  true: {trues} of {n}");
    } else {
        let v = t.to_i128_vec();
        let shown: Vec<String> = v.iter().take(SHOWN).map(|x| x.to_string()).collect();
        let _ = writeln!(out, "  values: [{}{more}]", shown.join(", "));
        if let (Some(min), Some(max)) = (v.iter().min(), v.iter().max()) {
            let _ = writeln!(out, "  min: {min}  max: {max}");
        }
    }
    out
}

/// A number with about five significant digits, in plain or scientific notation.
pub fn number(x: f64) -> String {
    if x == 0.0 || x.is_nan() || x.is_infinite() {
        return format!("{x}");
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let s = format!("{x:.5}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{x:.4e}")
    }
}

/// A count with thousands separators: `25,557,032`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count with a metric prefix: `8.21 G`.
pub fn metric(n: u64) -> String {
    let units = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    let x = n as f64;
    for (scale, unit) in units {
        if x >= scale {
            return format!("{:.2} {unit}", x / scale);
        }
    }
    format!("{n} ")
}

/// Bytes in binary units: `97.5 MiB`.
pub fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < units.len() {
        x /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(-1.25), "-1.25");
        assert_eq!(number(1e-7), "1.0000e-7");
        assert_eq!(count(25557032), "25,557,032");
        assert_eq!(count(999), "999");
        assert_eq!(metric(8_210_000_000), "8.21 G");
        assert_eq!(bytes(1536), "1.5 KiB");
    }

    #[test]
    fn float_summaries_show_values_and_statistics() {
        let t = Tensor::from_f32(vec![2, 2], vec![1.0, -1.0, 0.5, 3.5]).unwrap();
        let s = tensor("y", &t);
        assert!(s.starts_with("y: f32 [2, 2]\n"), "{s}");
        assert!(s.contains("values: [1, -1, 0.5, 3.5]"), "{s}");
        assert!(s.contains("mean: 1  min: -1  max: 3.5"), "{s}");
    }
}
