//! The text form of graphs, for tests, snapshots and debugging. [`print`] and [`parse`] round
//! trip: `parse(&print(g))` gives a graph that prints the same.
//!
//! ```text
//! graph mlp(x: f32[batch,4]) -> (y) {
//!   const w: f32[4,2] = [0.5, -1, 2, 0, 1, 1, 0.25, 3]
//!   h = MatMul(x, w)
//!   y = Unary(LeakyRelu{alpha=0.01})(h) @act
//! }
//! ```
//!
//! An op is written as its serde form: a unit variant is its name (`MatMul`), a variant with
//! fields `Name{field=value, ...}`, a variant wrapping a value `Name(value)`. `_` is an omitted
//! optional input; `@name` sets a node name that differs from its first output's. Names that
//! are not plain words are quoted. `#` starts a comment.

mod parse;
mod print;

pub use parse::parse;
pub use print::{op_text, print};

use thiserror::Error;

/// A syntax or meaning error in graph text, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

/// Characters of a bare (unquoted) name.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | '%')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    const MLP: &str = r#"graph mlp(x: f32[batch,4]) -> (y) {
  const w: f32[4,2] = [0.5, -1, 2, 0, 1, 1, 0.25, 3]
  const bias/0: f32[2] = [0.1, nan]
  const "a b": i64[1] = [7]
  h = MatMul(x, w)
  hb = Binary(Add)(h, bias/0)
  y = Unary(LeakyRelu{alpha=0.01})(hb) @act
}
"#;

    #[test]
    fn print_parse_round_trip() {
        let g = parse(MLP).unwrap();
        assert_eq!(print(&g), MLP);
        let again = parse(&print(&g)).unwrap();
        assert_eq!(print(&again), MLP);
        assert_eq!(g.nodes[2].name, "act");
        assert_eq!(g.values[3].name, "a b");
        let y = g.value(g.outputs[0]).ty.clone().unwrap();
        assert_eq!(y.dtype, DType::F32);
    }

    #[test]
    fn ops_with_nested_attributes_round_trip() {
        let src = r#"graph g(x: f32[1,3,8,8], w: f32[4,3,3,3]) -> (y, a, b) {
  y = Conv{kernel_shape=none, strides=[2, 2], dilations=[], pads=[1, 1, 1, 1], auto_pad=NotSet, group=1}(x, w, _)
  a, b = Split{axis=1, num_outputs=2}(y, _)
}
"#;
        let g = parse(src).unwrap();
        assert_eq!(print(&g), src);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("graph g() -> (y) {\n  y = MatMul(a, b)\n}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.msg.contains("'a' is used before it is defined"), "{e}");
        let e = parse("graph g() -> (y) {\n  y = Frob(a)\n}\n").unwrap_err();
        assert!(e.msg.contains("not an op"), "{e}");
    }
}
