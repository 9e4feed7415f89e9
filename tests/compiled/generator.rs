//! A seeded generator of small random graphs for the compiled-path property test: elementwise,
//! broadcasting, comparison/Where, casts, reductions, layout, indexing, MatMul/Gemm, Softmax and
//! LayerNormalization over random static shapes, built through `ir::Graph` and checked by shape
//! inference node by node.
//!
//! Invariants: the same seed always gives the same graph and feeds; every value operands are
//! drawn from is f32; every node's output is non-empty and at most `MAX_NUMEL` elements.

use ir::shape::{concrete, static_shape};
use ir::{DType, Graph, Op, Source, Tensor, TensorType, ValueId};
use std::collections::HashMap;

const MAX_NUMEL: usize = 2048;
const MAX_RANK: usize = 5;

/// splitmix64: a tiny seeded generator (no dependency), good enough to pick ops and shapes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i + 1));
        }
    }
}

/// A place where a rounding difference of one ulp would change the result discontinuously:
/// a comparison against a threshold, or a float-to-integer cast.
pub enum Fragile {
    Compare { x: ValueId, threshold: f32 },
    Cast { x: ValueId },
}

/// A generated graph with its feeds.
pub struct Generated {
    pub graph: Graph,
    pub feeds: HashMap<String, Tensor>,
    pub fragile: Vec<Fragile>,
}

pub(crate) struct Builder {
    pub(crate) rng: Rng,
    pub(crate) graph: Graph,
    pub(crate) feeds: HashMap<String, Tensor>,
    /// The f32 values operands are drawn from, in creation order.
    pub(crate) pool: Vec<ValueId>,
    pub(crate) fragile: Vec<Fragile>,
    names: usize,
}

/// Builds the graph of `seed`: one or two inputs, then 3 to 12 nodes.
pub fn generate(seed: u64) -> Generated {
    let mut b = Builder {
        rng: Rng::new(seed),
        graph: Graph::new(format!("g{seed:x}")),
        feeds: HashMap::new(),
        pool: Vec::new(),
        fragile: Vec::new(),
        names: 0,
    };
    let shape = b.random_shape(1, 4);
    let x = b.input(&shape);
    b.pool.push(x);
    let target = b.rng.range(3, 12) as usize;
    for _ in 0..200 {
        if b.graph.nodes.len() >= target {
            break;
        }
        let saved = (
            b.graph.clone(),
            b.pool.len(),
            b.feeds.clone(),
            b.fragile.len(),
        );
        if b.family().is_none() {
            b.graph = saved.0;
            b.pool.truncate(saved.1);
            b.feeds = saved.2;
            b.fragile.truncate(saved.3);
        }
    }
    // Outputs: every value nothing reads, plus some intermediates that fused code must
    // still store.
    let mut read = vec![false; b.graph.values.len()];
    for n in &b.graph.nodes {
        for v in n.inputs.iter().flatten() {
            read[v.index()] = true;
        }
    }
    let candidates: Vec<ValueId> = b
        .pool
        .iter()
        .copied()
        .filter(|&v| matches!(b.graph.value(v).source, Source::Node { .. }))
        .collect();
    for v in candidates {
        if !read[v.index()] || b.rng.chance(0.15) {
            b.graph.outputs.push(v);
        }
    }
    Generated {
        graph: b.graph,
        feeds: b.feeds,
        fragile: b.fragile,
    }
}

impl Builder {
    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    pub(crate) fn shape(&self, v: ValueId) -> Vec<usize> {
        self.graph
            .value(v)
            .ty
            .as_ref()
            .and_then(|t| concrete(t.shape.as_deref()?))
            .expect("generated values have static shapes")
    }

    /// Dims 1..9 of a rank in `lo..=hi`, at most `MAX_NUMEL / 2` elements.
    pub(crate) fn random_shape(&mut self, lo: i64, hi: i64) -> Vec<usize> {
        let rank = self.rng.range(lo, hi) as usize;
        loop {
            let s: Vec<usize> = (0..rank).map(|_| self.rng.range(1, 9) as usize).collect();
            if s.iter().product::<usize>() <= MAX_NUMEL / 2 {
                return s;
            }
        }
    }

    pub(crate) fn values(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.rng.uniform(lo, hi)).collect()
    }

    /// A new f32 graph input fed with values in [-2, 2].
    pub(crate) fn input(&mut self, shape: &[usize]) -> ValueId {
        let name = self.fresh("in");
        let data = self.values(shape.iter().product(), -2.0, 2.0);
        let t = Tensor::from_f32(shape.to_vec(), data).expect("sizes match");
        self.feeds.insert(name.clone(), t);
        let ty = TensorType::new(DType::F32, static_shape(shape));
        self.graph.add_input(name, ty)
    }

    pub(crate) fn const_f32(&mut self, shape: &[usize], lo: f32, hi: f32) -> ValueId {
        let data = self.values(shape.iter().product(), lo, hi);
        self.const_data(shape, data)
    }

    pub(crate) fn const_data(&mut self, shape: &[usize], data: Vec<f32>) -> ValueId {
        let name = self.fresh("c");
        let t = Tensor::from_f32(shape.to_vec(), data).expect("sizes match");
        self.graph.add_constant(name, t)
    }

    pub(crate) fn const_i64(&mut self, v: Vec<i64>) -> ValueId {
        let name = self.fresh("c");
        let t = Tensor::from_i64(vec![v.len()], v).expect("sizes match");
        self.graph.add_constant(name, t)
    }

    /// Adds `op` if shape inference accepts it and its first output is static, non-empty and
    /// small; returns that output.
    pub(crate) fn node(&mut self, op: Op, inputs: Vec<Option<ValueId>>) -> Option<ValueId> {
        let mut g = self.graph.clone();
        let name = self.fresh("v");
        g.add_node(name.clone(), op, inputs, vec![name]);
        ir::infer::infer_graph(&mut g).ok()?;
        let out = *g.nodes.last()?.outputs.first()?;
        let shape = concrete(g.value(out).ty.as_ref()?.shape.as_deref()?)?;
        let numel: usize = shape.iter().product();
        if numel == 0 || numel > MAX_NUMEL || shape.len() > MAX_RANK {
            return None;
        }
        self.graph = g;
        Some(out)
    }

    /// Like `node`, and the output joins the operand pool.
    pub(crate) fn pooled(&mut self, op: Op, inputs: Vec<Option<ValueId>>) -> Option<ValueId> {
        let v = self.node(op, inputs)?;
        self.pool.push(v);
        Some(v)
    }

    /// An operand: usually the newest value, so that graphs grow deep rather than wide.
    pub(crate) fn operand(&mut self) -> ValueId {
        if self.rng.chance(0.6) {
            *self.pool.last().expect("the pool starts with an input")
        } else {
            self.pool[self.rng.below(self.pool.len())]
        }
    }

    /// A shape that broadcasts with `s` (numpy rules): dims kept, set to 1, grown from 1, new
    /// leading dims, or leading dims dropped.
    pub(crate) fn partner_shape(&mut self, s: &[usize]) -> Vec<usize> {
        let r = s.len() as i64;
        let rank = (r + self.rng.range(-2, 1)).clamp(0, 4);
        (0..rank)
            .map(|i| {
                let j = r - rank + i;
                if j < 0 {
                    return self.rng.range(1, 3) as usize;
                }
                let d = s[j as usize];
                match self.rng.below(4) {
                    0 => 1,
                    1 if d == 1 => self.rng.range(2, 4) as usize,
                    _ => d,
                }
            })
            .collect()
    }

    /// A second operand that broadcasts with `x`: a pool value, a new input or a constant.
    pub(crate) fn partner(&mut self, x: ValueId) -> ValueId {
        let s = self.shape(x);
        let compatible: Vec<ValueId> = self
            .pool
            .iter()
            .copied()
            .filter(|&v| ir::shape::broadcast(&self.shape(v), &s).is_ok())
            .collect();
        match self.rng.below(4) {
            0 if !compatible.is_empty() => compatible[self.rng.below(compatible.len())],
            1 => {
                let p = self.partner_shape(&s);
                self.input(&p)
            }
            _ => {
                let p = self.partner_shape(&s);
                self.const_f32(&p, -2.0, 2.0)
            }
        }
    }

    /// A constant or (sometimes) a new graph input of this shape, values in [-1, 1].
    pub(crate) fn weight(&mut self, shape: &[usize]) -> ValueId {
        if self.rng.chance(0.3) {
            self.input(shape)
        } else {
            self.const_f32(shape, -1.0, 1.0)
        }
    }

    /// An axis of a rank-`r` tensor, written negative half of the time.
    pub(crate) fn axis(&mut self, r: usize) -> (usize, i64) {
        let a = self.rng.below(r);
        let written = if self.rng.chance(0.5) {
            a as i64 - r as i64
        } else {
            a as i64
        };
        (a, written)
    }

    pub(crate) fn family(&mut self) -> Option<()> {
        const WEIGHTS: [usize; 16] = [3, 3, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1];
        let mut k = self.rng.below(WEIGHTS.iter().sum());
        let mut family = 0;
        while k >= WEIGHTS[family] {
            k -= WEIGHTS[family];
            family += 1;
        }
        let x = self.operand();
        match family {
            0 => self.unary(x),
            1 => self.binary(x),
            2 => self.select(x),
            3 => self.cast(x),
            4 => self.reduce(x),
            5 => self.transpose(x),
            6 => self.reshape(x),
            7 => self.unsqueeze_or_squeeze(x),
            8 => self.slice(x),
            9 => self.expand(x),
            10 => self.concat(x),
            11 => self.gather(x),
            12 => self.matmul(x),
            13 => self.gemm(x),
            14 => self.softmax(x),
            _ => self.layer_norm(x),
        }
    }
}
