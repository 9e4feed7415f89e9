//! Codecs for the narrow float formats ONNX defines (FP8 E4M3FN/E4M3FNUZ/E5M2/E5M2FNUZ, MX E8M0,
//! FP4 E2M1), each held as one code per byte.
//!
//! Encoding rounds to nearest, ties to even, on the format's grid; values past the largest
//! finite value saturate to it when asked, otherwise become infinity (E5M2) or NaN (formats
//! without infinity), as the ONNX `Cast` table specifies. FP4 has neither and always
//! saturates; E8M0 keeps only the exponent, rounded up (see [`Format::encode`]). The results
//! match the ONNX reference (`onnx.reference` `Cast`, built on ml_dtypes) bit for bit, up to
//! the choice among NaN codes; NaN, which FP4 cannot hold, becomes +0 (ml_dtypes gives -0).

use crate::dtype::DType;

/// How a format spells its special values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Specials {
    /// IEEE-like: exponent all ones is infinity (mantissa 0) or NaN.
    Ieee,
    /// "FN": no infinity; exponent and mantissa all ones is NaN.
    Fn,
    /// "FNUZ": no infinity, no negative zero; the code 0x80 (negative zero's) is the only NaN.
    Fnuz,
    /// No infinity and no NaN (FP4): out-of-range values always saturate.
    None,
    /// E8M0: unsigned powers of two, 0xFF is NaN.
    E8M0,
}

/// A sign/exponent/mantissa format of at most 8 bits.
#[derive(Clone, Copy, Debug)]
pub struct Format {
    exp_bits: u32,
    man_bits: u32,
    bias: i32,
    specials: Specials,
}

impl Format {
    /// The format of a narrow float dtype, or `None` for other dtypes.
    pub fn of(dtype: DType) -> Option<Format> {
        let (exp_bits, man_bits, bias, specials) = match dtype {
            DType::F8E4M3FN => (4, 3, 7, Specials::Fn),
            DType::F8E4M3FNUZ => (4, 3, 8, Specials::Fnuz),
            DType::F8E5M2 => (5, 2, 15, Specials::Ieee),
            DType::F8E5M2FNUZ => (5, 2, 16, Specials::Fnuz),
            DType::F8E8M0 => (8, 0, 127, Specials::E8M0),
            DType::F4E2M1 => (2, 1, 1, Specials::None),
            _ => return None,
        };
        Some(Format {
            exp_bits,
            man_bits,
            bias,
            specials,
        })
    }

    fn sign_bit(&self) -> u8 {
        1 << (self.exp_bits + self.man_bits)
    }

    fn nan_code(&self) -> u8 {
        match self.specials {
            Specials::Ieee => 0x7F,
            Specials::Fn => 0x7F,
            Specials::Fnuz => 0x80,
            Specials::E8M0 => 0xFF,
            Specials::None => 0,
        }
    }

    /// The largest finite value.
    pub fn max_finite(&self) -> f64 {
        let max_exp_field = (1i32 << self.exp_bits) - 1;
        let full_man = (1u32 << self.man_bits) - 1;
        let (exp_field, man) = match self.specials {
            Specials::Ieee => (max_exp_field - 1, full_man),
            Specials::Fn => (max_exp_field, full_man - 1),
            Specials::Fnuz | Specials::None => (max_exp_field, full_man),
            Specials::E8M0 => (max_exp_field - 1, 0),
        };
        (1.0 + man as f64 / (1u32 << self.man_bits) as f64) * 2f64.powi(exp_field - self.bias)
    }

    pub fn decode(&self, code: u8) -> f64 {
        if self.specials == Specials::E8M0 {
            return if code == 0xFF {
                f64::NAN
            } else {
                2f64.powi(code as i32 - self.bias)
            };
        }
        let code = code & (self.sign_bit() | (self.sign_bit() - 1));
        let negative = code & self.sign_bit() != 0;
        let exp_mask = (1u8 << self.exp_bits) - 1;
        let exp = ((code >> self.man_bits) & exp_mask) as i32;
        let man = (code & ((1u8 << self.man_bits) - 1)) as u32;
        let all_man = (1u32 << self.man_bits) - 1;
        match self.specials {
            Specials::Ieee if exp == exp_mask as i32 => {
                let v = if man == 0 { f64::INFINITY } else { f64::NAN };
                return if negative { -v } else { v };
            }
            Specials::Fn if exp == exp_mask as i32 && man == all_man => return f64::NAN,
            Specials::Fnuz if code == 0x80 => return f64::NAN,
            _ => {}
        }
        let scale = (1u32 << self.man_bits) as f64;
        let mag = if exp == 0 {
            man as f64 / scale * 2f64.powi(1 - self.bias)
        } else {
            (1.0 + man as f64 / scale) * 2f64.powi(exp - self.bias)
        };
        if negative { -mag } else { mag }
    }

    pub fn encode(&self, x: f64, saturate: bool) -> u8 {
        if self.specials == Specials::E8M0 {
            return self.encode_e8m0(x, saturate);
        }
        if x.is_nan() {
            return self.nan_code();
        }
        let sign = if x.is_sign_negative() && self.specials != Specials::Fnuz {
            self.sign_bit()
        } else {
            0
        };
        let a = x.abs();
        let max = self.max_finite();
        let overflow = |sign_of_x: u8| -> u8 {
            if saturate || self.specials == Specials::None {
                sign_of_x | self.encode_magnitude(max)
            } else if self.specials == Specials::Ieee {
                sign_of_x | (((1u8 << self.exp_bits) - 1) << self.man_bits)
            } else {
                self.nan_code()
            }
        };
        let x_sign = if x.is_sign_negative() {
            self.sign_bit()
        } else {
            0
        };
        if a.is_infinite() {
            return overflow(x_sign);
        }
        let r = self.round_to_grid(a);
        if r > max {
            return overflow(x_sign);
        }
        if r == 0.0 {
            return sign;
        }
        x_sign | self.encode_magnitude(r)
    }

    /// Rounds a non-negative finite value to the format's grid (ties to even), ignoring the top
    /// of the range.
    fn round_to_grid(&self, a: f64) -> f64 {
        if a == 0.0 {
            return 0.0;
        }
        let min_normal_exp = 1 - self.bias;
        let e = (a.log2().floor() as i32).max(min_normal_exp);
        // log2 of values just below a power of two can round up; keep `a < 2^(e+1)`.
        let e = if a < 2f64.powi(e) && e > min_normal_exp {
            e - 1
        } else {
            e
        };
        let quantum = 2f64.powi(e - self.man_bits as i32);
        let q = a / quantum;
        let floor = q.floor();
        let frac = q - floor;
        let n = if frac > 0.5 || (frac == 0.5 && floor % 2.0 != 0.0) {
            floor + 1.0
        } else {
            floor
        };
        n * quantum
    }

    /// The code of a positive grid value within range.
    fn encode_magnitude(&self, r: f64) -> u8 {
        let min_normal_exp = 1 - self.bias;
        let scale = (1u32 << self.man_bits) as f64;
        let mut e = r.log2().floor() as i32;
        if 2f64.powi(e) > r {
            e -= 1;
        }
        if e < min_normal_exp {
            let man = (r / 2f64.powi(min_normal_exp) * scale).round() as u8;
            return man;
        }
        let man = ((r / 2f64.powi(e) - 1.0) * scale).round() as u8;
        let exp_field = (e + self.bias) as u8;
        (exp_field << self.man_bits) | man
    }

    /// E8M0 holds only an exponent. As the ONNX reference does, the value is first rounded to
    /// f32, its sign is dropped and its exponent field is kept, rounded up when any mantissa bit
    /// is set (`round_mode="up"`, Cast's default). Zero becomes 2^-127 (code 0). NaN and
    /// infinities become NaN (0xFF); rounding up past 2^127 saturates to it or, without
    /// `saturate`, becomes NaN.
    fn encode_e8m0(&self, x: f64, saturate: bool) -> u8 {
        let bits = (x as f32).to_bits();
        let exponent = (bits >> 23) & 0xFF;
        if exponent == 0xFF {
            return 0xFF;
        }
        let has_fraction = bits & 0x7F_FFFF != 0;
        let round_up = has_fraction && !(saturate && exponent == 0xFE);
        // At most 0xFE + 1 = 0xFF, the NaN code.
        (exponent + round_up as u32) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(d: DType) -> Format {
        Format::of(d).unwrap()
    }

    #[test]
    fn max_values_match_the_spec() {
        assert_eq!(fmt(DType::F8E4M3FN).max_finite(), 448.0);
        assert_eq!(fmt(DType::F8E4M3FNUZ).max_finite(), 240.0);
        assert_eq!(fmt(DType::F8E5M2).max_finite(), 57344.0);
        assert_eq!(fmt(DType::F8E5M2FNUZ).max_finite(), 57344.0);
        assert_eq!(fmt(DType::F4E2M1).max_finite(), 6.0);
    }

    #[test]
    fn every_finite_code_round_trips() {
        for d in [
            DType::F8E4M3FN,
            DType::F8E4M3FNUZ,
            DType::F8E5M2,
            DType::F8E5M2FNUZ,
        ] {
            let f = fmt(d);
            for c in 0..=255u8 {
                let v = f.decode(c);
                if v.is_finite() && !(v == 0.0 && c != 0) {
                    assert_eq!(f.encode(v, false), c, "{d:?} code {c:#x} value {v}");
                }
            }
        }
        let f = fmt(DType::F4E2M1);
        for c in 0..16u8 {
            let v = f.decode(c);
            if !(v == 0.0 && c != 0) {
                assert_eq!(f.encode(v, false), c, "fp4 code {c:#x} value {v}");
            }
        }
    }

    #[test]
    fn e4m3fn_rounds_ties_to_even_and_overflows_to_nan() {
        let f = fmt(DType::F8E4M3FN);
        assert_eq!(f.decode(f.encode(464.0, false)), 448.0);
        assert!(f.decode(f.encode(470.0, false)).is_nan());
        assert_eq!(f.decode(f.encode(470.0, true)), 448.0);
        assert_eq!(f.decode(f.encode(f64::INFINITY, true)), 448.0);
    }

    #[test]
    fn e5m2_overflows_to_infinity() {
        let f = fmt(DType::F8E5M2);
        assert_eq!(f.decode(f.encode(1e6, false)), f64::INFINITY);
        assert_eq!(f.decode(f.encode(-1e6, false)), f64::NEG_INFINITY);
        assert_eq!(f.decode(f.encode(-1e6, true)), -57344.0);
    }

    #[test]
    fn e8m0_keeps_the_exponent_rounding_up() {
        let f = fmt(DType::F8E8M0);
        assert_eq!(f.encode(1.0, true), 127);
        assert_eq!(f.encode(1.5, true), 128);
        assert_eq!(f.encode(-4.0, true), 129);
        assert_eq!(f.encode(0.0, true), 0);
        assert_eq!(f.decode(0), 2f64.powi(-127));
        assert_eq!(f.encode(f64::NAN, true), 0xFF);
        assert_eq!(f.encode(f64::INFINITY, true), 0xFF);
        let past_max = 1.5 * 2f64.powi(127);
        assert_eq!(f.encode(past_max, true), 0xFE);
        assert_eq!(f.encode(past_max, false), 0xFF);
    }

    #[test]
    fn fnuz_formats_have_no_negative_zero_and_one_nan() {
        for d in [DType::F8E4M3FNUZ, DType::F8E5M2FNUZ] {
            let f = fmt(d);
            assert_eq!(f.encode(-0.0, false), 0);
            assert_eq!(f.encode(f64::NAN, false), 0x80);
            assert_eq!(f.encode(1e9, false), 0x80);
            assert_eq!(f.decode(f.encode(-1e9, true)), -f.max_finite());
        }
    }

    #[test]
    fn fp4_always_saturates() {
        let f = fmt(DType::F4E2M1);
        assert_eq!(f.decode(f.encode(100.0, false)), 6.0);
        assert_eq!(f.decode(f.encode(f64::NEG_INFINITY, false)), -6.0);
        // 5 lies halfway between 4 and 6: ties go to the even mantissa (4).
        assert_eq!(f.decode(f.encode(5.0, true)), 4.0);
    }
}
