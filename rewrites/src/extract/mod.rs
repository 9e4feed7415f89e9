//! DAG-aware extraction: picks one node per e-class so that the program reachable from the
//! roots costs least, counting a shared class once.
//!
//! The algorithm is greedy over cost *sets*: a class's candidate cost is the sum over the union
//! of the classes its node's children use, plus the node's own cost. Iterating to a fixpoint
//! keeps sharing exact within a candidate; it is not a global optimum (that is ILP) but it
//! never double-counts a shared sub-expression the way tree costs do.
//!
//! Invariant: a node whose children's sets contain its own class is never chosen, so the
//! choice is acyclic; the final walk from the roots (`dag_cost`) proves it.

use crate::analysis::EG;
use crate::cost::CostModel;
use crate::lang::Node;
use egg::{Id, Language};
use ir::TensorType;
use std::collections::HashMap;

/// Own cost of nodes folded at compile time: tiny, so among weight-only alternatives the one
/// with fewer ops (ideally a constant) wins.
const FOLDED: f64 = 1e-12;

/// The chosen node of every reachable class and the total cost.
#[derive(Debug)]
pub struct Extraction {
    pub choice: HashMap<Id, Node>,
    pub cost: f64,
}

/// The own cost of one node of class `class` under a cost model.
pub fn node_cost(egraph: &EG, class: Id, node: &Node, model: &dyn CostModel) -> f64 {
    match node {
        Node::Input(_) | Node::Absent | Node::Output(..) => 0.0,
        Node::Const(_) => FOLDED,
        Node::Op(k, ch) => {
            if ch.iter().all(|&c| egraph[c].data.weight_only) {
                return FOLDED;
            }
            let ins: Vec<Option<&TensorType>> = ch.iter().map(|&c| egraph[c].data.ty()).collect();
            let outs: Vec<TensorType> = egraph[class]
                .data
                .outputs
                .iter()
                .map(|o| o.ty.clone())
                .collect::<Option<_>>()
                .unwrap_or_default();
            if outs.len() != k.outputs() {
                // An untyped node is costed high: a rule that made one has not proved its shape.
                return 1.0;
            }
            model.op_cost(k.op(), &ins, &outs)
        }
    }
}

type CostSet = Vec<(Id, f64)>;

fn merge_into(acc: &mut CostSet, other: &CostSet) {
    if other.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(acc.len() + other.len());
    let (mut i, mut j) = (0, 0);
    while i < acc.len() && j < other.len() {
        match acc[i].0.cmp(&other[j].0) {
            std::cmp::Ordering::Less => {
                out.push(acc[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(other[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(acc[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&acc[i..]);
    out.extend_from_slice(&other[j..]);
    *acc = out;
}

/// Extracts the cheapest acyclic program for `roots`.
pub fn extract(egraph: &EG, roots: &[Id], model: &dyn CostModel) -> Result<Extraction, String> {
    let mut ids: Vec<Id> = egraph.classes().map(|c| c.id).collect();
    ids.sort();
    let own: HashMap<(Id, usize), f64> = ids
        .iter()
        .flat_map(|&c| {
            egraph[c]
                .nodes
                .iter()
                .enumerate()
                .map(move |(k, n)| ((c, k), n))
        })
        .map(|(key, n)| (key, node_cost(egraph, key.0, n, model)))
        .collect();
    // class -> (total, node index, cost set)
    let mut best: HashMap<Id, (f64, usize, CostSet)> = HashMap::new();
    for _pass in 0..64 {
        let mut changed = false;
        for &c in &ids {
            for (k, n) in egraph[c].nodes.iter().enumerate() {
                let mut set: CostSet = Vec::new();
                let mut ok = true;
                for ch in n.children() {
                    let ch = egraph.find(*ch);
                    match best.get(&ch) {
                        Some((_, _, s)) if s.binary_search_by_key(&c, |e| e.0).is_err() => {
                            merge_into(&mut set, s)
                        }
                        _ => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    continue;
                }
                merge_into(&mut set, &vec![(c, own[&(c, k)])]);
                let total: f64 = set.iter().map(|e| e.1).sum();
                let better = match best.get(&c) {
                    None => true,
                    Some((t, _, _)) => total < *t * (1.0 - 1e-9) - 1e-15,
                };
                if better {
                    best.insert(c, (total, k, set));
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let greedy: HashMap<Id, usize> = best.iter().map(|(&c, (_, k, _))| (c, *k)).collect();
    let roots: Vec<Id> = roots.iter().map(|&r| egraph.find(r)).collect();
    let picked = improve(egraph, &roots, &own, greedy);
    let mut choice = HashMap::new();
    let mut stack = roots.clone();
    while let Some(c) = stack.pop() {
        if choice.contains_key(&c) {
            continue;
        }
        let k = picked
            .get(&c)
            .ok_or_else(|| format!("no finite-cost program for e-class {c}"))?;
        let n = egraph[c].nodes[*k].clone();
        stack.extend(n.children().iter().map(|&ch| egraph.find(ch)));
        choice.insert(c, n);
    }
    // `dag_cost` walks the choice from the roots and fails on a cycle: this proves acyclicity.
    let cost = dag_cost(egraph, &roots, &own, &picked)
        .ok_or("the extracted choice has a cycle or a class without a choice")?;
    Ok(Extraction { choice, cost })
}

/// The cost of the program a choice reaches from the roots, each class once; `None` when the
/// choice is cyclic or incomplete.
fn dag_cost(
    egraph: &EG,
    roots: &[Id],
    own: &HashMap<(Id, usize), f64>,
    choice: &HashMap<Id, usize>,
) -> Option<f64> {
    // 1 = on the current path, 2 = done.
    let mut mark: HashMap<Id, u8> = HashMap::new();
    let mut total = 0.0;
    for &r in roots {
        let mut stack = vec![(r, false)];
        while let Some((c, leaving)) = stack.pop() {
            if leaving {
                mark.insert(c, 2);
                continue;
            }
            match mark.get(&c) {
                Some(2) => continue,
                Some(_) => return None,
                None => {}
            }
            mark.insert(c, 1);
            stack.push((c, true));
            let k = *choice.get(&c)?;
            total += own[&(c, k)];
            for &ch in egraph[c].nodes[k].children() {
                let ch = egraph.find(ch);
                match mark.get(&ch) {
                    Some(1) => return None,
                    Some(_) => {}
                    None => stack.push((ch, false)),
                }
            }
        }
    }
    Some(total)
}

/// Local search over group moves, for the sharing the greedy pass cannot see: for a class X,
/// every chosen class that has a node reading X switches to that node at once (the matmuls a
/// merged matmul's split replaces switch together). A move is kept when the whole program's
/// cost drops.
fn improve(
    egraph: &EG,
    roots: &[Id],
    own: &HashMap<(Id, usize), f64>,
    mut choice: HashMap<Id, usize>,
) -> HashMap<Id, usize> {
    let Some(mut current) = dag_cost(egraph, roots, own, &choice) else {
        return choice;
    };
    // Readers of each class: (class, node index) pairs.
    let mut readers: HashMap<Id, Vec<(Id, usize)>> = HashMap::new();
    let mut ids: Vec<Id> = egraph.classes().map(|c| c.id).collect();
    ids.sort();
    for &c in &ids {
        for (k, n) in egraph[c].nodes.iter().enumerate() {
            for &ch in n.children() {
                readers.entry(egraph.find(ch)).or_default().push((c, k));
            }
        }
    }
    for _pass in 0..3 {
        let mut improved = false;
        for &x in &ids {
            let Some(rs) = readers.get(&x) else { continue };
            let mut trial = choice.clone();
            let mut moved = false;
            for &(c, k) in rs {
                if trial.get(&c).is_some_and(|&cur| cur != k) {
                    trial.insert(c, k);
                    moved = true;
                }
            }
            if !moved {
                continue;
            }
            if let Some(t) = dag_cost(egraph, roots, own, &trial)
                && t < current * (1.0 - 1e-9)
            {
                current = t;
                choice = trial;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    choice
}
