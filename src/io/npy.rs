//! numpy's `.npy` format: one array, a Python-literal header and the raw elements.
//!
//! Reads format versions 1.0, 2.0 and 3.0 with dtypes `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1` in
//! either byte order (big-endian data is converted) and either memory order (Fortran-order data
//! is transposed to row-major). Writes version 1.0 (2.0 when the header needs it), little-endian,
//! row-major. Dtypes numpy has no code for (bf16, the 8- and 4-bit floats, sub-byte ints) are an
//! error naming the dtype.

use half::f16;
use ir::{DType, Data, Tensor};

const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy pads headers so the data starts at a multiple of this.
const ALIGN: usize = 64;

/// Decodes a `.npy` file's bytes. The error says what is wrong, without the file's name.
pub fn decode(bytes: &[u8]) -> Result<Tensor, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a .npy file (it does not start with \\x93NUMPY)")?;
    let (&major, rest) = rest
        .split_first()
        .ok_or("not a .npy file: it ends inside the header")?;
    let (&minor, rest) = rest
        .split_first()
        .ok_or("not a .npy file: it ends inside the header")?;
    let (header_len, rest) = match major {
        1 => {
            let (len, rest) = split(rest, 2).ok_or("not a .npy file: it ends inside the header")?;
            (u16::from_le_bytes([len[0], len[1]]) as usize, rest)
        }
        2 | 3 => {
            let (len, rest) = split(rest, 4).ok_or("not a .npy file: it ends inside the header")?;
            (
                u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize,
                rest,
            )
        }
        _ => {
            return Err(format!(
                "format version {major}.{minor} is not supported (1.0 to 3.0 are)"
            ));
        }
    };
    let (header, data) = split(rest, header_len).ok_or_else(|| {
        format!(
            "not a .npy file: the header is said to be {header_len} bytes, but only {} bytes follow",
            rest.len()
        )
    })?;
    // Versions 1 and 2 are latin-1, 3 is UTF-8; every valid header is ASCII either way.
    let header = std::str::from_utf8(header)
        .map_err(|_| "not a .npy file: the header is not text".to_string())?;
    let header = Header::parse(header)?;
    let n = ir::tensor::checked_numel(&header.shape).map_err(|e| e.to_string())?;
    let itemsize = header.dtype.bits() / 8;
    let expected = n
        .checked_mul(itemsize)
        .ok_or_else(|| format!("shape {:?} is too large", header.shape))?;
    if data.len() != expected {
        return Err(format!(
            "shape {:?} of {} needs {expected} data bytes, the file has {}",
            header.shape,
            header.dtype,
            data.len()
        ));
    }
    let values = decode_data(header.dtype, data, header.big_endian);
    if header.fortran_order && header.shape.len() > 1 {
        let order = fortran_gather_order(&header.shape);
        return Tensor::new(header.dtype, header.shape, values.gather(&order))
            .map_err(|e| e.to_string());
    }
    Tensor::new(header.dtype, header.shape, values).map_err(|e| e.to_string())
}

/// Encodes a tensor as `.npy` bytes; errors when numpy has no code for its dtype.
pub fn encode(t: &Tensor) -> Result<Vec<u8>, String> {
    let descr = descr(t.dtype()).ok_or_else(|| {
        format!(
            "dtype {} has no numpy equivalent, so it cannot be written as .npy",
            t.dtype()
        )
    })?;
    let shape = match t.shape() {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Version 1.0 has a 2-byte length; use 2.0 (4 bytes) only when the header needs it.
    let version_2 = MAGIC.len() + 4 + header.len() + ALIGN > u16::MAX as usize;
    let prefix = MAGIC.len() + 2 + if version_2 { 4 } else { 2 };
    let padded = (prefix + header.len() + 1).div_ceil(ALIGN) * ALIGN;
    header.push_str(&" ".repeat(padded - prefix - header.len() - 1));
    header.push('\n');

    let mut out = Vec::with_capacity(padded + t.dtype().bytes_for(t.len()));
    out.extend_from_slice(MAGIC);
    if version_2 {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&t.data().to_le_bytes());
    Ok(out)
}

/// The numpy type string of a dtype, if numpy has one.
pub fn descr(dtype: DType) -> Option<&'static str> {
    Some(match dtype {
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::Bool => "|b1",
        DType::BF16
        | DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::F8E8M0
        | DType::F4E2M1
        | DType::I2
        | DType::U2
        | DType::I4
        | DType::U4 => return None,
    })
}

fn split(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (b.len() >= n).then(|| b.split_at(n))
}

/// The fields of a header that matter.
struct Header {
    dtype: DType,
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Header {
    fn parse(text: &str) -> Result<Header, String> {
        let mut parser = LiteralParser {
            s: text.trim_end_matches(['\n', ' ', '\0']),
            pos: 0,
        };
        let value = parser.value()?;
        parser.skip_space();
        if parser.pos != parser.s.len() {
            return Err(format!(
                "the header has trailing text: {:?}",
                &parser.s[parser.pos..]
            ));
        }
        let Literal::Dict(fields) = value else {
            return Err(format!("the header is not a dict: {text:?}"));
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
                .ok_or_else(|| format!("the header has no '{name}'"))
        };
        let (dtype, big_endian) = match field("descr")? {
            Literal::Str(s) => parse_descr(s)?,
            Literal::List(_) => return Err("structured (record) dtypes are not supported".into()),
            other => return Err(format!("'descr' is not a string: {other:?}")),
        };
        let fortran_order = match field("fortran_order")? {
            Literal::Bool(b) => *b,
            other => return Err(format!("'fortran_order' is not a bool: {other:?}")),
        };
        let shape = match field("shape")? {
            Literal::Tuple(dims) | Literal::List(dims) => dims
                .iter()
                .map(|d| match d {
                    Literal::Int(n) => {
                        usize::try_from(*n).map_err(|_| format!("dim {n} is too large"))
                    }
                    other => Err(format!("shape entry {other:?} is not an integer")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            other => return Err(format!("'shape' is not a tuple: {other:?}")),
        };
        Ok(Header {
            dtype,
            big_endian,
            fortran_order,
            shape,
        })
    }
}

/// A numpy type string (`<f4`, `|b1`, `>i8`...) as a dtype and whether it is big-endian.
fn parse_descr(s: &str) -> Result<(DType, bool), String> {
    let unsupported = || {
        format!(
            "numpy dtype '{s}' is not supported (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)"
        )
    };
    let (big_endian, code) = match s.as_bytes().first() {
        Some(b'<') => (false, &s[1..]),
        Some(b'>') => (true, &s[1..]),
        Some(b'|') => (false, &s[1..]),
        Some(b'=') => (cfg!(target_endian = "big"), &s[1..]),
        _ => (cfg!(target_endian = "big"), s),
    };
    let dtype = match code {
        "f2" | "e" => DType::F16,
        "f4" | "f" => DType::F32,
        "f8" | "d" => DType::F64,
        "i1" | "b" => DType::I8,
        "i2" | "h" => DType::I16,
        "i4" | "i" => DType::I32,
        "i8" | "q" => DType::I64,
        "u1" | "B" => DType::U8,
        "u2" | "H" => DType::U16,
        "u4" | "I" => DType::U32,
        "u8" | "Q" => DType::U64,
        "b1" | "?" => DType::Bool,
        _ => return Err(unsupported()),
    };
    Ok((dtype, big_endian))
}

/// The row-major element `i` of a Fortran-order buffer of `shape` sits at `order[i]`.
fn fortran_gather_order(shape: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut col_strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        col_strides[k] = col_strides[k - 1] * shape[k - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        order.push(index.iter().zip(&col_strides).map(|(i, s)| i * s).sum());
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    order
}

fn decode_data(dtype: DType, raw: &[u8], big_endian: bool) -> Data {
    fn items<const N: usize, T>(raw: &[u8], big_endian: bool, f: fn([u8; N]) -> T) -> Vec<T> {
        raw.chunks_exact(N)
            .map(|c| {
                let mut b = [0u8; N];
                b.copy_from_slice(c);
                if big_endian {
                    b.reverse();
                }
                f(b)
            })
            .collect()
    }
    let be = big_endian;
    match dtype {
        DType::F16 => Data::F16(items(raw, be, |b| f16::from_bits(u16::from_le_bytes(b)))),
        DType::F32 => Data::F32(items(raw, be, f32::from_le_bytes)),
        DType::F64 => Data::F64(items(raw, be, f64::from_le_bytes)),
        DType::I8 => Data::I8(items(raw, be, i8::from_le_bytes)),
        DType::I16 => Data::I16(items(raw, be, i16::from_le_bytes)),
        DType::I32 => Data::I32(items(raw, be, i32::from_le_bytes)),
        DType::I64 => Data::I64(items(raw, be, i64::from_le_bytes)),
        DType::U8 => Data::U8(raw.to_vec()),
        DType::U16 => Data::U16(items(raw, be, u16::from_le_bytes)),
        DType::U32 => Data::U32(items(raw, be, u32::from_le_bytes)),
        DType::U64 => Data::U64(items(raw, be, u64::from_le_bytes)),
        DType::Bool => Data::Bool(raw.iter().map(|&b| b != 0).collect()),
        // `parse_descr` yields only the dtypes above.
        DType::BF16
        | DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::F8E8M0
        | DType::F4E2M1
        | DType::I2
        | DType::U2
        | DType::I4
        | DType::U4 => unreachable!("npy descr never maps to {dtype}"),
    }
}

/// The Python literals a `.npy` header uses.
#[derive(Debug)]
enum Literal {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(String, Literal)>),
}

/// A recursive-descent parser of Python literals (enough for `repr` of a header dict).
struct LiteralParser<'a> {
    s: &'a str,
    pos: usize,
}

impl LiteralParser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn error(&self, what: &str) -> String {
        let found: String = self.rest().chars().take(40).collect();
        format!(
            "bad header at byte {}: expected {what}, found {found:?}",
            self.pos
        )
    }

    fn value(&mut self) -> Result<Literal, String> {
        self.skip_space();
        let Some(c) = self.rest().chars().next() else {
            return Err(self.error("a value"));
        };
        match c {
            '{' => {
                self.pos += 1;
                let mut fields = Vec::new();
                while !self.eat("}") {
                    let Literal::Str(key) = self.value()? else {
                        return Err(self.error("a string key"));
                    };
                    if !self.eat(":") {
                        return Err(self.error("':'"));
                    }
                    fields.push((key, self.value()?));
                    if !self.eat(",") && !self.rest().trim_start().starts_with('}') {
                        return Err(self.error("',' or '}'"));
                    }
                }
                Ok(Literal::Dict(fields))
            }
            '(' | '[' => {
                self.pos += 1;
                let close = if c == '(' { ")" } else { "]" };
                let mut items = Vec::new();
                while !self.eat(close) {
                    items.push(self.value()?);
                    if !self.eat(",") && !self.rest().trim_start().starts_with(close) {
                        return Err(self.error(&format!("',' or '{close}'")));
                    }
                }
                Ok(if c == '(' {
                    Literal::Tuple(items)
                } else {
                    Literal::List(items)
                })
            }
            '\'' | '"' => {
                let body = &self.rest()[1..];
                let end = body.find(c).ok_or_else(|| self.error("a closing quote"))?;
                let text = body[..end].to_string();
                self.pos += end + 2;
                Ok(Literal::Str(text))
            }
            '0'..='9' => {
                let digits = self
                    .rest()
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(self.rest().len());
                let n = self.rest()[..digits]
                    .parse::<u64>()
                    .map_err(|_| self.error("a smaller integer"))?;
                self.pos += digits;
                // Python 2 wrote longs as `3L`.
                if self.rest().starts_with('L') {
                    self.pos += 1;
                }
                Ok(Literal::Int(n))
            }
            _ if self.eat("True") => Ok(Literal::Bool(true)),
            _ if self.eat("False") => Ok(Literal::Bool(false)),
            _ if self.eat("None") => Ok(Literal::None),
            _ => Err(self.error("a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: &Tensor) -> Tensor {
        decode(&encode(t).unwrap()).unwrap()
    }

    #[test]
    fn every_numpy_dtype_round_trips() {
        let shape = vec![2, 3];
        for dtype in DType::ALL.into_iter().filter(|&d| descr(d).is_some()) {
            let t = if dtype == DType::Bool {
                Tensor::from_bool(shape.clone(), vec![true, false, true, true, false, false])
                    .unwrap()
            } else if dtype.is_float() {
                Tensor::from_f64(dtype, shape.clone(), &[0.5, -1.0, 2.25, 0.0, 7.0, -3.5]).unwrap()
            } else {
                Tensor::from_i128(dtype, shape.clone(), &[0, 1, 2, 100, 5, 9]).unwrap()
            };
            assert_eq!(round_trip(&t), t, "{dtype}");
        }
    }

    #[test]
    fn scalars_vectors_and_empty_tensors_round_trip() {
        let scalar = Tensor::scalar_f32(3.5);
        assert_eq!(round_trip(&scalar), scalar);
        let vector = Tensor::from_i64(vec![3], vec![-1, 0, i64::MAX]).unwrap();
        assert_eq!(round_trip(&vector), vector);
        let empty = Tensor::from_f32(vec![0, 4], vec![]).unwrap();
        assert_eq!(round_trip(&empty), empty);
    }

    #[test]
    fn headers_are_aligned_and_newline_terminated() {
        let bytes = encode(&Tensor::from_f32(vec![5], vec![1.0; 5]).unwrap()).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % ALIGN, 0);
        assert_eq!(bytes[10 + header_len - 1], b'\n');
        assert_eq!(bytes.len(), 10 + header_len + 20);
    }

    #[test]
    fn numpy_has_no_code_for_bf16() {
        let t = Tensor::from_f64(DType::BF16, vec![1], &[1.0]).unwrap();
        let err = encode(&t).unwrap_err();
        assert!(err.contains("bf16"), "{err}");
    }

    #[test]
    fn big_endian_and_fortran_order_are_converted() {
        let header = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        // Column-major [[1, 2, 3], [4, 5, 6]]: 1 4 2 5 3 6, each big-endian.
        for v in [1i16, 4, 2, 5, 3, 6] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let t = decode(&bytes).unwrap();
        let want = Tensor::from_i128(DType::I16, vec![2, 3], &[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(t, want);
    }

    #[test]
    fn malformed_files_are_errors() {
        assert!(decode(b"").unwrap_err().contains("not a .npy file"));
        assert!(
            decode(b"\x93NUMPY\x01\x00\xff\x00{")
                .unwrap_err()
                .contains("only 1 bytes follow")
        );
        let t = Tensor::from_f32(vec![4], vec![1.0; 4]).unwrap();
        let mut bytes = encode(&t).unwrap();
        bytes.pop();
        assert!(decode(&bytes).unwrap_err().contains("needs 16 data bytes"));
        let header = "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        assert!(
            decode(&bytes)
                .unwrap_err()
                .contains("'<U3' is not supported")
        );
    }
}
