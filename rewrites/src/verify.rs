//! Rule verification: every rule fires on random instances of its left side, and every node
//! the e-graph then holds is evaluated with the reference interpreter and compared with the
//! value of its class. A wrong rule puts a node into a class whose value it does not compute,
//! so this checks both sides of every application, at every place the rule fired.

use crate::analysis::EG;
use crate::build::build;
use crate::lang::Node;
use crate::rules::Rule;
use egg::{Id, Runner};
use ir::{DType, Graph, Op, Tensor, TensorType};
use std::collections::HashMap;
use std::sync::Arc;

/// Relative (normwise) error allowed between two ways of computing one class: `max|a - b|`
/// over `max|b|`. Exact rewrites only reassociate f32 sums of random normal data.
pub const VERIFY_RTOL: f64 = 1e-4;

/// A small deterministic generator (SplitMix64) for shapes and data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    pub fn normals(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.normal()).collect()
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.range(0, xs.len() - 1)]
    }
}

/// Random f32 data of a static shape.
pub fn random_tensor(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_f64(DType::F32, shape.to_vec(), &rng.normals(n)).expect("data fits its shape")
}

/// Random feeds for every input of a graph with static input shapes.
pub fn random_feeds(rng: &mut Rng, g: &Graph) -> Option<Vec<Tensor>> {
    g.inputs
        .iter()
        .map(|&i| {
            let ty = g.value(i).ty.as_ref()?;
            let shape = ir::shape::concrete(ty.shape.as_deref()?)?;
            let n: usize = shape.iter().product();
            Tensor::from_f64(ty.dtype, shape, &rng.normals(n)).ok()
        })
        .collect()
}

/// Builds random instance graphs for rules.
pub struct GraphBuilder {
    pub g: Graph,
    counter: usize,
}

impl GraphBuilder {
    pub fn new(name: &str) -> GraphBuilder {
        GraphBuilder {
            g: Graph::new(name),
            counter: 0,
        }
    }

    fn fresh(&mut self, base: &str) -> String {
        self.counter += 1;
        format!("{base}{}", self.counter)
    }

    /// An f32 graph input.
    pub fn input(&mut self, shape: &[usize]) -> ir::ValueId {
        let name = self.fresh("x");
        self.g.add_input(
            name,
            TensorType::new(DType::F32, ir::shape::static_shape(shape)),
        )
    }

    /// An f32 graph input of any shape (symbolic dims included).
    pub fn input_shape(&mut self, shape: ir::shape::Shape) -> ir::ValueId {
        let name = self.fresh("x");
        self.g.add_input(name, TensorType::new(DType::F32, shape))
    }

    /// A constant.
    pub fn constant(&mut self, t: Tensor) -> ir::ValueId {
        let name = self.fresh("w");
        self.g.add_constant(name, t)
    }

    /// A random f32 constant.
    pub fn random_const(&mut self, rng: &mut Rng, shape: &[usize]) -> ir::ValueId {
        let t = random_tensor(rng, shape);
        self.constant(t)
    }

    /// An i64 vector constant.
    pub fn i64s(&mut self, v: &[i64]) -> ir::ValueId {
        self.constant(Tensor::from_i64(vec![v.len()], v.to_vec()).expect("vector"))
    }

    /// A single-output node.
    pub fn op(&mut self, op: Op, inputs: &[ir::ValueId]) -> ir::ValueId {
        let name = self.fresh("n");
        let n = self.g.add_node(
            name,
            op,
            inputs.iter().map(|&v| Some(v)).collect(),
            vec![String::new()],
        );
        self.g.node(n).outputs[0]
    }

    /// Marks the graph's outputs and returns it.
    pub fn finish(mut self, outputs: &[ir::ValueId]) -> Graph {
        for (k, &o) in outputs.iter().enumerate() {
            self.g.value_mut(o).name = format!("y{k}");
            self.g.outputs.push(o);
        }
        self.g
    }
}

/// The outcome of verifying one rule.
#[derive(Clone, Debug, Default)]
pub struct RuleCheck {
    pub instances: usize,
    /// Instances on which the rule fired.
    pub fired: usize,
    /// Nodes evaluated against their class's value.
    pub nodes_checked: usize,
    pub max_rel_err: f64,
    pub failures: Vec<String>,
}

impl RuleCheck {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.fired == self.instances && self.instances > 0
    }
}

/// Runs `rule` alone on `instances` random instances and checks every class of the result.
pub fn verify_rule(rule: &Rule, seed: u64, instances: usize) -> RuleCheck {
    let mut out = RuleCheck::default();
    for k in 0..instances {
        let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(k as u64));
        out.instances += 1;
        let mut g = (rule.instance)(&mut rng);
        if let Err(e) = ir::infer::infer_graph(&mut g) {
            out.failures
                .push(format!("instance {k}: the instance does not type: {e}"));
            continue;
        }
        let (egraph, _) = match build(&g) {
            Ok(x) => x,
            Err(e) => {
                out.failures.push(format!("instance {k}: {e}"));
                continue;
            }
        };
        let runner = Runner::default()
            .with_egraph(egraph)
            .with_iter_limit(3)
            .with_node_limit(20_000)
            .run(std::iter::once(&rule.rewrite));
        let fired: usize = runner
            .iterations
            .iter()
            .filter_map(|it| it.applied.get(&egg::Symbol::from(rule.name)))
            .sum();
        if fired > 0 {
            out.fired += 1;
        }
        let Some(feeds) = random_feeds(&mut rng, &g) else {
            out.failures
                .push(format!("instance {k}: inputs need static shapes"));
            continue;
        };
        match check_egraph(&runner.egraph, &feeds) {
            Ok((n, err)) => {
                out.nodes_checked += n;
                out.max_rel_err = out.max_rel_err.max(err);
                if err > VERIFY_RTOL {
                    out.failures.push(format!(
                        "instance {k}: relative error {err:.3e} over {VERIFY_RTOL:.0e}"
                    ));
                }
            }
            Err(e) => out.failures.push(format!("instance {k}: {e}")),
        }
    }
    out
}

type ClassValue = Option<Arc<Vec<Option<Tensor>>>>;

fn eval_node(
    egraph: &EG,
    node: &Node,
    values: &HashMap<Id, ClassValue>,
    feeds: &[Tensor],
) -> Result<Option<Vec<Option<Tensor>>>, String> {
    let child = |c: Id| values.get(&egraph.find(c)).cloned().flatten();
    Ok(Some(match node {
        Node::Input(i) => vec![Some(feeds[*i as usize].clone())],
        Node::Const(c) => vec![Some((**egraph.analysis.pool.get(*c)).clone())],
        Node::Absent => vec![None],
        Node::Output(k, [t]) => {
            let Some(tv) = child(*t) else { return Ok(None) };
            vec![tv.get(*k as usize).cloned().flatten()]
        }
        Node::Op(key, ch) => {
            let mut ins: Vec<Arc<Vec<Option<Tensor>>>> = Vec::with_capacity(ch.len());
            for &c in ch {
                match child(c) {
                    Some(v) => ins.push(v),
                    None => return Ok(None),
                }
            }
            let refs: Vec<Option<&Tensor>> = ins.iter().map(|v| v[0].as_ref()).collect();
            let out = ir::interp::eval(key.op(), &refs, key.outputs())
                .map_err(|e| format!("{} fails in the interpreter: {e}", key.op().name()))?;
            out.into_iter().map(Some).collect()
        }
    }))
}

/// Relative error of `a` against `b` (normwise; exact for non-float dtypes).
pub fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    if a.shape() != b.shape() || a.dtype() != b.dtype() {
        return f64::INFINITY;
    }
    let (x, y) = (a.to_f64_vec(), b.to_f64_vec());
    let scale = y.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    let diff = x.iter().zip(&y).fold(0.0f64, |m, (p, q)| {
        if p.is_nan() && q.is_nan() {
            m
        } else {
            m.max((p - q).abs())
        }
    });
    diff / scale
}

/// Evaluates every class from its nodes and compares each node with its class's value.
/// Returns the number of nodes compared and the largest relative error.
pub fn check_egraph(egraph: &EG, feeds: &[Tensor]) -> Result<(usize, f64), String> {
    let mut values: HashMap<Id, ClassValue> = HashMap::new();
    loop {
        let mut progress = false;
        for class in egraph.classes() {
            if values.contains_key(&class.id) {
                continue;
            }
            for n in &class.nodes {
                if let Some(v) = eval_node(egraph, n, &values, feeds)? {
                    values.insert(class.id, Some(Arc::new(v)));
                    progress = true;
                    break;
                }
            }
        }
        if !progress {
            break;
        }
    }
    let mut checked = 0;
    let mut worst = 0.0f64;
    for class in egraph.classes() {
        let Some(Some(expect)) = values.get(&class.id) else {
            continue;
        };
        for n in &class.nodes {
            let Some(got) = eval_node(egraph, n, &values, feeds)? else {
                continue;
            };
            checked += 1;
            for (g, e) in got.iter().zip(expect.iter()) {
                if let (Some(g), Some(e)) = (g, e) {
                    worst = worst.max(rel_err(g, e));
                }
            }
        }
    }
    Ok((checked, worst))
}

/// Runs two graphs with the same interface on the same feeds (in input order) and returns the
/// largest relative error of `b`'s outputs against `a`'s. Fails when either does not run, the
/// outputs differ in names or number, or an output of `a` is not finite (NaN would compare
/// equal and prove nothing).
pub fn compare_graphs_on(a: &Graph, b: &Graph, feeds: Vec<Tensor>) -> Result<f64, String> {
    let named: HashMap<String, Tensor> = a
        .inputs
        .iter()
        .zip(feeds)
        .map(|(&i, t)| (a.value(i).name.clone(), t))
        .collect();
    let ra = ir::interp::run(a, &named).map_err(|e| format!("the original fails: {e}"))?;
    let rb = ir::interp::run(b, &named).map_err(|e| format!("the rewritten fails: {e}"))?;
    if ra.len() != rb.len() {
        return Err(format!("{} outputs against {}", ra.len(), rb.len()));
    }
    let mut worst = 0.0f64;
    for ((na, ta), (nb, tb)) in ra.iter().zip(&rb) {
        if na != nb {
            return Err(format!("output '{na}' is now named '{nb}'"));
        }
        if ta.to_f64_vec().iter().any(|v| !v.is_finite()) {
            return Err(format!("output '{na}' is not finite"));
        }
        worst = worst.max(rel_err(tb, ta));
    }
    Ok(worst)
}

/// [`compare_graphs_on`] with seeded random feeds of the graphs' static input shapes.
pub fn compare_graphs(a: &Graph, b: &Graph, seed: u64) -> Result<f64, String> {
    let mut rng = Rng::new(seed);
    let feeds = random_feeds(&mut rng, a).ok_or("inputs need static shapes")?;
    compare_graphs_on(a, b, feeds)
}

/// Checks a rewrite of a one-input graph with a symbolic batch: `b`'s first output must still
/// start with the symbolic dim `dim`, and both graphs must agree on random inputs of each of
/// `shapes` (concrete sizes for that dim). Returns the largest relative error.
pub fn compare_symbolic(
    a: &Graph,
    b: &Graph,
    dim: &str,
    shapes: &[Vec<usize>],
    seed: u64,
) -> Result<f64, String> {
    let out = b.outputs.first().ok_or("no outputs")?;
    let first = b
        .value(*out)
        .ty
        .as_ref()
        .and_then(|t| t.shape.as_ref()?.first().cloned());
    if first != Some(ir::shape::Dim::Symbolic(dim.to_string())) {
        return Err(format!(
            "the output starts with {first:?}, not the symbolic '{dim}'"
        ));
    }
    let mut rng = Rng::new(seed);
    let mut worst = 0.0f64;
    for shape in shapes {
        let feed = random_tensor(&mut rng, shape);
        worst = worst.max(compare_graphs_on(a, b, vec![feed])?);
    }
    Ok(worst)
}

/// `y = x · W` with x an input [rows, k] and W a seeded random dense constant [k, n]: a weight
/// with no structure, which structure rules must leave alone.
pub fn random_dense_matmul(rows: usize, k: usize, n: usize, seed: u64) -> Graph {
    let mut rng = Rng::new(seed);
    let mut g = GraphBuilder::new("dense");
    let x = g.input(&[rows, k]);
    let w = g.constant(random_tensor(&mut rng, &[k, n]));
    let y = g.op(Op::MatMul, &[x, w]);
    g.finish(&[y])
}

/// How many nodes of `g` have an op satisfying `pred`.
pub fn count_ops(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    g.nodes.iter().filter(|n| pred(&n.op)).count()
}
