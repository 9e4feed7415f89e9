//! Extracted choice → graph. Graph inputs and outputs keep their names and order; nodes whose
//! inputs are all constants are evaluated here (weight-only subgraphs are folded into
//! constants, which is what extraction costed them at).

use crate::analysis::EG;
use crate::build::Interface;
use crate::error::RewriteError;
use crate::lang::{Node, OpKey};
use egg::{Id, Language};
use ir::{Graph, Op, Source, Tensor, Value, ValueId};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Folding stops where a result would be this many elements and larger than its inputs together:
/// a broadcast of a small constant to a huge shape is cheaper to compute than to store.
const FOLD_MAX_GROWTH_ELEMS: usize = 1 << 24;

enum Emitted {
    One(Option<ValueId>),
    Many(Vec<ValueId>),
}

struct Emitter<'a> {
    egraph: &'a EG,
    /// Source node names by (canonical class, op).
    node_names: HashMap<(Id, OpKey), &'a str>,
    choice: &'a HashMap<Id, Node>,
    g: Graph,
    done: HashMap<Id, Emitted>,
    names: HashSet<String>,
    node_names_used: HashSet<String>,
    counter: usize,
}

impl Emitter<'_> {
    fn fresh(&mut self, base: &str) -> String {
        loop {
            self.counter += 1;
            let n = format!("{base}_{}", self.counter);
            if self.names.insert(n.clone()) {
                return n;
            }
        }
    }

    fn constant(&mut self, t: Arc<Tensor>, name: &str) -> ValueId {
        let name = if name.is_empty() || !self.names.insert(name.to_string()) {
            self.fresh("const")
        } else {
            name.to_string()
        };
        let ty = ir::TensorType::new(t.dtype(), ir::shape::static_shape(t.shape()));
        let id = ValueId(self.g.values.len() as u32);
        self.g.values.push(Value {
            name,
            source: Source::Constant(t),
            ty: Some(ty),
        });
        id
    }

    fn one(&self, c: Id) -> Result<Option<ValueId>, RewriteError> {
        match self.done.get(&self.egraph.find(c)) {
            Some(Emitted::One(v)) => Ok(*v),
            _ => Err(RewriteError::Extraction(format!(
                "class {c} is read as a tensor"
            ))),
        }
    }

    /// Emits `root` and everything it needs, children first.
    fn emit(&mut self, root: Id) -> Result<(), RewriteError> {
        let mut stack = vec![(self.egraph.find(root), false)];
        while let Some((c, ready)) = stack.pop() {
            if self.done.contains_key(&c) {
                continue;
            }
            let node = self
                .choice
                .get(&c)
                .ok_or_else(|| RewriteError::Extraction(format!("class {c} has no choice")))?;
            if !ready {
                stack.push((c, true));
                for &ch in node.children() {
                    let ch = self.egraph.find(ch);
                    if !self.done.contains_key(&ch) {
                        stack.push((ch, false));
                    }
                }
                continue;
            }
            let emitted = match node {
                Node::Input(i) => Emitted::One(Some(self.g.inputs[*i as usize])),
                Node::Const(k) => {
                    let t = self.egraph.analysis.pool.get(*k).clone();
                    let name = self.egraph.analysis.pool.name(*k).to_string();
                    Emitted::One(Some(self.constant(t, &name)))
                }
                Node::Absent => Emitted::One(None),
                Node::Output(k, [t]) => match self.done.get(&self.egraph.find(*t)) {
                    Some(Emitted::Many(vs)) => Emitted::One(Some(vs[*k as usize])),
                    _ => {
                        return Err(RewriteError::Extraction(format!(
                            "output {k} of class {t}, which is not a tuple"
                        )));
                    }
                },
                Node::Op(key, ch) => {
                    let inputs: Vec<Option<ValueId>> =
                        ch.iter().map(|&x| self.one(x)).collect::<Result<_, _>>()?;
                    let name = self.node_names.get(&(c, key.clone())).copied();
                    self.op(key.op(), key.outputs(), inputs, name)?
                }
            };
            self.done.insert(c, emitted);
        }
        Ok(())
    }

    fn op(
        &mut self,
        op: &Op,
        n_out: usize,
        inputs: Vec<Option<ValueId>>,
        source_name: Option<&str>,
    ) -> Result<Emitted, RewriteError> {
        if let Some(folded) = self.fold(op, n_out, &inputs) {
            let vs: Vec<ValueId> = folded
                .into_iter()
                .map(|t| self.constant(Arc::new(t), ""))
                .collect();
            return Ok(pack(vs, n_out));
        }
        let name = match source_name {
            Some(n) if !n.is_empty() && self.node_names_used.insert(n.to_string()) => n.to_string(),
            Some(_) | None => self.fresh(op.name()),
        };
        let outs = (0..n_out).map(|_| String::new()).collect();
        let node = self.g.add_node(name, op.clone(), inputs, outs);
        let vs = self.g.node(node).outputs.clone();
        Ok(pack(vs, n_out))
    }

    /// Evaluates an op whose inputs are all constants.
    fn fold(&self, op: &Op, n_out: usize, inputs: &[Option<ValueId>]) -> Option<Vec<Tensor>> {
        let mut vals = Vec::with_capacity(inputs.len());
        let mut in_elems = 0usize;
        for v in inputs {
            match v {
                None => vals.push(None),
                Some(v) => {
                    let t = self.g.constant(*v)?;
                    in_elems += t.len();
                    vals.push(Some(&**t));
                }
            }
        }
        let out = ir::interp::eval(op, &vals, n_out).ok()?;
        let out_elems: usize = out.iter().map(Tensor::len).sum();
        if out_elems > FOLD_MAX_GROWTH_ELEMS && out_elems > in_elems {
            return None;
        }
        Some(out)
    }
}

fn pack(vs: Vec<ValueId>, n_out: usize) -> Emitted {
    if n_out == 1 {
        Emitted::One(Some(vs[0]))
    } else {
        Emitted::Many(vs)
    }
}

/// Rebuilds a graph with `iface`'s inputs and outputs from an extraction's choice.
pub fn emit(
    egraph: &EG,
    iface: &Interface,
    choice: &HashMap<Id, Node>,
) -> Result<Graph, RewriteError> {
    let mut e = Emitter {
        egraph,
        choice,
        g: Graph::new(iface.name.clone()),
        done: HashMap::new(),
        names: HashSet::new(),
        node_names_used: HashSet::new(),
        counter: 0,
        node_names: iface
            .node_names
            .iter()
            .map(|(c, k, n)| ((egraph.find(*c), k.clone()), n.as_str()))
            .collect(),
    };
    for (name, _) in &iface.outputs {
        e.names.insert(name.clone());
    }
    for (name, ty) in &iface.inputs {
        e.names.insert(name.clone());
        e.g.add_input(name.clone(), ty.clone());
    }
    for (_, root) in &iface.outputs {
        e.emit(*root)?;
    }
    let mut used: HashSet<ValueId> = HashSet::new();
    for (name, root) in &iface.outputs {
        let v = e.one(*root)?.ok_or_else(|| {
            RewriteError::Extraction(format!("graph output '{name}' is an omitted value"))
        })?;
        let renamable = matches!(e.g.value(v).source, Source::Node { .. })
            && e.g.value(v).name.is_empty()
            && used.insert(v);
        let out = if e.g.value(v).name == *name {
            // A graph input passed straight through keeps its one name.
            v
        } else if renamable {
            e.g.value_mut(v).name = name.clone();
            v
        } else {
            let node_name = e.fresh("Identity");
            let n =
                e.g.add_node(node_name, Op::Identity, vec![Some(v)], vec![name.clone()]);
            e.g.node(n).outputs[0]
        };
        e.g.outputs.push(out);
    }
    let mut g = e.g;
    ir::infer::infer_graph(&mut g)?;
    Ok(g)
}
