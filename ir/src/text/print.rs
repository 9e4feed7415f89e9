//! Printing graphs and ops in the text form.

use super::is_word_char;
use crate::dtype::DType;
use crate::graph::{Graph, Source, ValueId};
use crate::op::Op;
use crate::shape::{Dim, TensorType};
use crate::tensor::Tensor;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::fmt::Write;

/// Prints a graph in the text form.
pub fn print(g: &Graph) -> String {
    let names = display_names(g);
    let name = |v: ValueId| names[v.index()].clone();
    let mut out = String::new();
    let inputs: Vec<String> = g
        .inputs
        .iter()
        .map(|&v| format!("{}: {}", name(v), type_text(g.value(v).ty.as_ref())))
        .collect();
    let outputs: Vec<String> = g.outputs.iter().map(|&v| name(v)).collect();
    let _ = writeln!(
        out,
        "graph {}({}) -> ({}) {{",
        quote(&g.name),
        inputs.join(", "),
        outputs.join(", ")
    );
    for (i, v) in g.values.iter().enumerate() {
        if let Source::Constant(t) = &v.source {
            let _ = writeln!(
                out,
                "  const {}: {} = {}",
                names[i],
                type_text(v.ty.as_ref()),
                values_text(t)
            );
        }
    }
    for node in &g.nodes {
        let outs: Vec<String> = node.outputs.iter().map(|&v| name(v)).collect();
        let ins: Vec<String> = node
            .inputs
            .iter()
            .map(|v| v.map_or_else(|| "_".to_string(), name))
            .collect();
        let _ = write!(
            out,
            "  {} = {}({})",
            outs.join(", "),
            op_text(&node.op),
            ins.join(", ")
        );
        let first = node.outputs.first().map(|&v| g.value(v).name.as_str());
        if first != Some(node.name.as_str()) {
            let _ = write!(out, " @{}", quote(&node.name));
        }
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

/// A unique printable name per value: its own name where that is unique, else `%id`.
fn display_names(g: &Graph) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for v in &g.values {
        *count.entry(v.name.as_str()).or_default() += 1;
    }
    g.values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if v.name.is_empty() || count[v.name.as_str()] > 1 || v.name.starts_with('%') {
                format!("%{i}")
            } else {
                quote(&v.name)
            }
        })
        .collect()
}

/// A name as written: bare when it is a plain word, otherwise a JSON string.
pub(super) fn quote(s: &str) -> String {
    let keyword = matches!(s, "graph" | "const" | "none" | "true" | "false" | "_");
    if !s.is_empty() && !keyword && s.chars().all(is_word_char) {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

fn type_text(ty: Option<&TensorType>) -> String {
    match ty {
        None => "?".into(),
        Some(TensorType { dtype, shape: None }) => format!("{dtype}[?]"),
        Some(TensorType {
            dtype,
            shape: Some(s),
        }) => {
            let dims: Vec<String> = s
                .iter()
                .map(|d| match d {
                    Dim::Static(n) => n.to_string(),
                    Dim::Symbolic(x) => quote(x),
                })
                .collect();
            format!("{dtype}[{}]", dims.join(","))
        }
    }
}

fn values_text(t: &Tensor) -> String {
    let items: Vec<String> = if t.dtype() == DType::Bool {
        t.to_bool_vec().iter().map(|b| b.to_string()).collect()
    } else if t.dtype().is_float() {
        t.to_f64_vec()
            .iter()
            .map(|&x| float_text(x, t.dtype()))
            .collect()
    } else {
        t.to_i128_vec().iter().map(|x| x.to_string()).collect()
    };
    format!("[{}]", items.join(", "))
}

fn float_text(x: f64, dtype: DType) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else if dtype == DType::F64 {
        format!("{x}")
    } else {
        // Every narrower float is exact in f32, and f32's shortest form reads back exactly.
        format!("{}", x as f32)
    }
}

/// An op in its serde form (see the module doc).
pub fn op_text(op: &Op) -> String {
    // Through a JSON string so that f32 attributes print in their shortest f32 form.
    let json = serde_json::to_string(op).expect("ops serialize");
    let v: Json = serde_json::from_str(&json).expect("serde_json reads its own output");
    json_text(&v)
}

fn json_text(v: &Json) -> String {
    match v {
        Json::Null => "none".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => quote(s),
        Json::Array(a) => {
            let items: Vec<String> = a.iter().map(json_text).collect();
            format!("[{}]", items.join(", "))
        }
        Json::Object(m) => {
            if m.len() == 1 {
                let (k, inner) = m.iter().next().expect("one entry");
                if is_variant_name(k) {
                    return match inner {
                        Json::Object(m) if !is_variant(m) => format!("{k}{}", json_text(inner)),
                        _ => format!("{k}({})", json_text(inner)),
                    };
                }
            }
            let fields: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", json_text(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// Serde spells enum variants with an initial capital, struct fields in lower case.
pub(super) fn is_variant_name(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_uppercase())
}

/// An object that is an enum variant (one capitalized key), not a struct.
fn is_variant(m: &Map<String, Json>) -> bool {
    m.len() == 1 && m.keys().all(|k| is_variant_name(k))
}
