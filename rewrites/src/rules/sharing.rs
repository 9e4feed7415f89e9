//! Sharing: matmuls that read the same input merge into one matmul over the concatenated
//! weights, followed by a split (Q, K and V projections become one GEMM).
//!
//! Bounded so the e-graph cannot blow up: only groups of 2 to [`MAX_GROUP`] weight-only 2-D
//! weights of equal rows and dtype, at most [`MAX_COLUMNS`] columns in all, and each group is
//! merged as a whole (never its subsets).

use super::build::{add_op, i64s, matmul};
use super::{Family, Rule, Transform, transform};
use crate::analysis::EG;
use crate::lang::{Node, OpKey};
use crate::verify::{GraphBuilder, Rng};
use egg::Id;
use ir::Op;

const MAX_GROUP: usize = 8;
const MAX_COLUMNS: usize = 1 << 14;

pub fn rules() -> Vec<Rule> {
    vec![
        // X·W1, X·W2, … = Split(X·[W1 W2 …], axis = -1)
        Rule {
            name: "matmul-share-input",
            family: Family::Sharing,
            explosive: false,
            approx: false,
            rewrite: transform("matmul-share-input", ShareInput),
            instance: share_instance,
        },
    ]
}

struct ShareInput;

/// The weights (class, columns) of matmuls `X·W` that read class `x`, one per distinct matmul class.
fn readers(egraph: &EG, x: Id) -> Vec<(Id, Id, usize)> {
    let mut out: Vec<(Id, Id, usize)> = Vec::new();
    let xinfo = &egraph[x].data;
    let Some(xty) = xinfo.ty() else { return out };
    for pid in egraph[x].parents() {
        let Node::Op(k, ch) = egraph.id_to_node(pid) else {
            continue;
        };
        if !matches!(k.op(), Op::MatMul) || ch.len() != 2 || egraph.find(ch[0]) != x {
            continue;
        }
        let w = egraph.find(ch[1]);
        let winfo = &egraph[w].data;
        let (Some(wty), Some(ws)) = (winfo.ty(), winfo.shape()) else {
            continue;
        };
        if !winfo.weight_only || ws.len() != 2 || wty.dtype != xty.dtype {
            continue;
        }
        // A merged weight is never merged again: that would grow the group without end.
        if super::build::ops(egraph, w).any(|(op, _)| matches!(op, Op::Concat { .. })) {
            continue;
        }
        let m = egraph.find(pid);
        if out.iter().any(|&(mm, ww, _)| mm == m || ww == w) {
            continue;
        }
        out.push((m, w, ws[1]));
    }
    out.sort();
    out
}

impl Transform for ShareInput {
    fn search(&self, egraph: &EG, class: Id) -> Vec<Vec<Id>> {
        let info = &egraph[class].data;
        if info.weight_only || info.rank().is_none_or(|r| r < 2) {
            return vec![];
        }
        let rs = readers(egraph, class);
        let rows = rs
            .iter()
            .filter_map(|&(_, w, _)| egraph[w].data.shape().map(|s| s[0]))
            .collect::<Vec<_>>();
        let cols: usize = rs.iter().map(|r| r.2).sum();
        if rs.len() < 2 || rs.len() > MAX_GROUP || cols > MAX_COLUMNS {
            return vec![];
        }
        if rows.iter().any(|&r| r != rows[0]) {
            return vec![];
        }
        let mut ids = vec![class];
        for (m, w, _) in rs {
            ids.push(m);
            ids.push(w);
        }
        vec![ids]
    }

    fn apply(&self, egraph: &mut EG, _class: Id, ids: &[Id]) -> Vec<(Id, Id)> {
        let x = ids[0];
        let pairs: Vec<(Id, Id)> = ids[1..].chunks(2).map(|p| (p[0], p[1])).collect();
        let cols: Vec<i64> = pairs
            .iter()
            .filter_map(|&(_, w)| egraph[w].data.shape().map(|s| s[1] as i64))
            .collect();
        if cols.len() != pairs.len() {
            return vec![];
        }
        let weights: Vec<Id> = pairs.iter().map(|p| p.1).collect();
        let cat = add_op(egraph, Op::Concat { axis: 1 }, weights);
        let y = matmul(egraph, x, cat);
        let sizes = i64s(egraph, &cols);
        let k = pairs.len();
        let split = egraph.add(Node::Op(
            OpKey::new(
                Op::Split {
                    axis: -1,
                    num_outputs: k,
                },
                k,
            ),
            vec![y, sizes],
        ));
        pairs
            .iter()
            .enumerate()
            .map(|(i, &(m, _))| (m, egraph.add(Node::Output(i as u32, [split]))))
            .collect()
    }
}

fn share_instance(rng: &mut Rng) -> ir::Graph {
    let (m, k) = (rng.range(1, 6), rng.range(2, 9));
    let mut b = GraphBuilder::new("share");
    let batch = rng.range(1, 3);
    let x = b.input(&[batch, m, k]);
    let outs: Vec<_> = (0..rng.range(2, 4))
        .map(|_| {
            let n = rng.range(1, 7);
            let w = b.random_const(rng, &[k, n]);
            b.op(Op::MatMul, &[x, w])
        })
        .collect();
    b.finish(&outs)
}
