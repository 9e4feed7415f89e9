//! Parsing the text form back into a typed graph.

use super::{ParseError, is_word_char};
use crate::dtype::DType;
use crate::graph::{Graph, ValueId};
use crate::infer;
use crate::op::Op;
use crate::shape::{Dim, TensorType};
use crate::tensor::Tensor;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Sym(char),
    Arrow,
}

struct Lexer {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let mut toks = Vec::new();
    for (ln, line) in src.lines().enumerate() {
        let line_no = ln + 1;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if c == '#' {
                break;
            } else if c == '-' && chars.get(i + 1) == Some(&'>') {
                toks.push((Tok::Arrow, line_no));
                i += 2;
            } else if c == '"' {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                let lit: String = chars[start..(i + 1).min(chars.len())].iter().collect();
                let s: String = serde_json::from_str(&lit).map_err(|_| ParseError {
                    line: line_no,
                    msg: format!("bad string literal {lit}"),
                })?;
                toks.push((Tok::Str(s), line_no));
                i += 1;
            } else if c.is_ascii_digit()
                || (c == '-'
                    && chars
                        .get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == 'i'))
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '-' | '+'))
                {
                    i += 1;
                }
                toks.push((Tok::Num(chars[start..i].iter().collect()), line_no));
            } else if is_word_char(c) {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                toks.push((Tok::Word(chars[start..i].iter().collect()), line_no));
            } else if "(){}[],:=@_?".contains(c) {
                toks.push((Tok::Sym(c), line_no));
                i += 1;
            } else {
                return Err(ParseError {
                    line: line_no,
                    msg: format!("unexpected character '{c}'"),
                });
            }
        }
    }
    Ok(toks)
}

impl Lexer {
    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |t| t.1)
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            line: self.line(),
            msg: msg.into(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.0.clone());
        self.pos += 1;
        t
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(format!("expected '{c}', found {:?}", self.peek()))
        }
    }

    fn keyword(&mut self, w: &str) -> bool {
        if self.peek() == Some(&Tok::Word(w.to_string())) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A value or graph name: a word, a quoted string, or `%N`.
    fn name(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => Ok(w),
            Some(Tok::Num(n)) => Ok(n),
            t => self.err(format!("expected a name, found {t:?}")),
        }
    }

    fn ty(&mut self) -> Result<TensorType, ParseError> {
        let dt = self.name()?;
        let dtype =
            DType::from_name(&dt).map_or_else(|| self.err(format!("unknown dtype '{dt}'")), Ok)?;
        self.expect('[')?;
        if self.eat('?') {
            self.expect(']')?;
            return Ok(TensorType::unknown_shape(dtype));
        }
        let mut dims = Vec::new();
        while !self.eat(']') {
            match self.next() {
                Some(Tok::Num(n)) => dims.push(Dim::Static(
                    n.parse()
                        .map_or_else(|_| self.err(format!("bad dim '{n}'")), Ok)?,
                )),
                Some(Tok::Word(w)) | Some(Tok::Str(w)) => dims.push(Dim::Symbolic(w)),
                t => return self.err(format!("expected a dim, found {t:?}")),
            }
            self.eat(',');
        }
        Ok(TensorType::new(dtype, dims))
    }

    /// A serde-form value (see [`json_text`]).
    fn json(&mut self) -> Result<Json, ParseError> {
        match self.next() {
            Some(Tok::Num(n)) => {
                let v: Json = serde_json::from_str(&n)
                    .map_or_else(|_| self.err(format!("bad number '{n}'")), Ok)?;
                Ok(v)
            }
            Some(Tok::Str(s)) => Ok(Json::String(s)),
            Some(Tok::Sym('[')) => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.json()?);
                    self.eat(',');
                }
                Ok(Json::Array(items))
            }
            Some(Tok::Sym('{')) => self.fields(),
            Some(Tok::Word(w)) => Ok(match w.as_str() {
                "none" => Json::Null,
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                _ if self.peek() == Some(&Tok::Sym('{')) => {
                    self.pos += 1;
                    let f = self.fields()?;
                    Json::Object(Map::from_iter([(w, f)]))
                }
                _ if self.peek() == Some(&Tok::Sym('('))
                    && w.starts_with(|c: char| c.is_ascii_uppercase()) =>
                {
                    self.pos += 1;
                    let inner = self.json()?;
                    self.expect(')')?;
                    Json::Object(Map::from_iter([(w, inner)]))
                }
                _ => Json::String(w),
            }),
            t => self.err(format!("expected a value, found {t:?}")),
        }
    }

    /// `{k=v, ...}` after its opening brace.
    fn fields(&mut self) -> Result<Json, ParseError> {
        let mut m = Map::new();
        while !self.eat('}') {
            let k = self.name()?;
            self.expect('=')?;
            m.insert(k, self.json()?);
            self.eat(',');
        }
        Ok(Json::Object(m))
    }
}

/// Parses the text form and infers every value's type.
pub fn parse(src: &str) -> Result<Graph, ParseError> {
    let mut lx = Lexer {
        toks: lex(src)?,
        pos: 0,
    };
    if !lx.keyword("graph") {
        return lx.err("expected 'graph'");
    }
    let gname = lx.name()?;
    let mut g = Graph::new(gname);
    let mut names: HashMap<String, ValueId> = HashMap::new();
    lx.expect('(')?;
    while !lx.eat(')') {
        let n = lx.name()?;
        lx.expect(':')?;
        let ty = lx.ty()?;
        let id = g.add_input(n.clone(), ty);
        names.insert(n, id);
        lx.eat(',');
    }
    if lx.next() != Some(Tok::Arrow) {
        return lx.err("expected '->'");
    }
    lx.expect('(')?;
    let mut output_names = Vec::new();
    while !lx.eat(')') {
        output_names.push((lx.name()?, lx.line()));
        lx.eat(',');
    }
    lx.expect('{')?;
    while !lx.eat('}') {
        if lx.keyword("const") {
            let n = lx.name()?;
            lx.expect(':')?;
            let ty = lx.ty()?;
            lx.expect('=')?;
            let t = parse_values(&mut lx, &ty)?;
            let id = g.add_constant(value_name(&n), t);
            names.insert(n, id);
            continue;
        }
        let mut outs = vec![lx.name()?];
        while lx.eat(',') {
            outs.push(lx.name()?);
        }
        lx.expect('=')?;
        let line = lx.line();
        // `Unary(Relu)(x)` carries a payload, `MatMul(a, b)` does not: a payload counts only
        // if the input list follows it.
        let start = lx.pos;
        let op_json = match lx.json() {
            Ok(j) if lx.peek() == Some(&Tok::Sym('(')) => j,
            _ => {
                lx.pos = start;
                Json::String(lx.name()?)
            }
        };
        let op: Op = serde_json::from_value(op_json)
            .map_or_else(|e| lx.err(format!("not an op: {e}")), Ok)?;
        lx.expect('(')?;
        let mut inputs = Vec::new();
        while !lx.eat(')') {
            if lx.keyword("_") {
                inputs.push(None);
            } else {
                let n = lx.name()?;
                let id = names
                    .get(&n)
                    .copied()
                    .map_or_else(|| lx.err(format!("'{n}' is used before it is defined")), Ok)?;
                inputs.push(Some(id));
            }
            lx.eat(',');
        }
        let node_name = if lx.eat('@') {
            lx.name()?
        } else {
            value_name(&outs[0])
        };
        let out_names = outs.iter().map(|o| value_name(o)).collect();
        let node = g.add_node(node_name, op, inputs, out_names);
        for (o, &id) in outs.iter().zip(&g.node(node).outputs) {
            if names.insert(o.clone(), id).is_some() {
                return Err(ParseError {
                    line,
                    msg: format!("'{o}' is defined twice"),
                });
            }
        }
    }
    for (n, line) in output_names {
        let id = names.get(&n).copied().ok_or_else(|| ParseError {
            line,
            msg: format!("output '{n}' is not defined"),
        })?;
        g.outputs.push(id);
    }
    g.validate().map_err(|e| ParseError {
        line: 1,
        msg: e.to_string(),
    })?;
    infer::infer_graph(&mut g).map_err(|e| ParseError {
        line: 1,
        msg: e.to_string(),
    })?;
    Ok(g)
}

/// `%N` names are printer-made; the parsed value keeps no name.
fn value_name(n: &str) -> String {
    if n.starts_with('%') {
        String::new()
    } else {
        n.to_string()
    }
}

fn parse_values(lx: &mut Lexer, ty: &TensorType) -> Result<Tensor, ParseError> {
    let Some(shape) = ty.shape.as_deref().and_then(crate::shape::concrete) else {
        return lx.err("constants need a static shape");
    };
    lx.expect('[')?;
    let mut words = Vec::new();
    while !lx.eat(']') {
        match lx.next() {
            Some(Tok::Num(n)) | Some(Tok::Word(n)) => words.push(n),
            t => return lx.err(format!("expected a number, found {t:?}")),
        }
        lx.eat(',');
    }
    let bad = |w: &str| ParseError {
        line: lx.line(),
        msg: format!("bad {} literal '{w}'", ty.dtype),
    };
    let t = if ty.dtype == DType::Bool {
        let v: Vec<i128> = words
            .iter()
            .map(|w| match w.as_str() {
                "true" => Ok(1),
                "false" => Ok(0),
                _ => Err(bad(w)),
            })
            .collect::<Result<_, _>>()?;
        Tensor::from_i128(DType::Bool, shape, &v)
    } else if ty.dtype.is_float() {
        let v: Vec<f64> = words
            .iter()
            .map(|w| match w.as_str() {
                "nan" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => w.parse::<f64>().map_err(|_| bad(w)),
            })
            .collect::<Result<_, _>>()?;
        Tensor::from_f64(ty.dtype, shape, &v)
    } else {
        let v: Vec<i128> = words
            .iter()
            .map(|w| w.parse::<i128>().map_err(|_| bad(w)))
            .collect::<Result<_, _>>()?;
        Tensor::from_i128(ty.dtype, shape, &v)
    };
    t.map_or_else(|e| lx.err(e.0), Ok)
}
