//! The op families of the random-graph generator: each adds one op (with the constants and
//! helper nodes it needs) on an operand, or returns `None` when the draw does not fit.

use crate::generator::{Builder, Fragile, Rng};
use ir::op::{BinaryOp, GemmAttrs, ReduceKind, SoftmaxKind, UnaryOp};
use ir::shape::static_shape;
use ir::{DType, Op, Tensor, TensorType, ValueId};

impl Builder {
    pub(crate) fn unary(&mut self, x: ValueId) -> Option<()> {
        let ops = [
            UnaryOp::Relu,
            UnaryOp::Exp,
            UnaryOp::Tanh,
            UnaryOp::Sigmoid,
            UnaryOp::Neg,
            UnaryOp::Abs,
            UnaryOp::Erf,
            UnaryOp::Gelu { tanh: false },
            UnaryOp::Gelu { tanh: true },
        ];
        let k = self.rng.below(ops.len() + 1);
        if k == ops.len() {
            // Sqrt of Abs: defined everywhere.
            let a = self.pooled(Op::Unary(UnaryOp::Abs), vec![Some(x)])?;
            self.pooled(Op::Unary(UnaryOp::Sqrt), vec![Some(a)])?;
        } else {
            self.pooled(Op::Unary(ops[k]), vec![Some(x)])?;
        }
        Some(())
    }

    pub(crate) fn binary(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        match self.rng.below(7) {
            5 => {
                // Div by a constant away from zero.
                let p = self.partner_shape(&s);
                let data = (0..p.iter().product())
                    .map(|_| {
                        let m = self.rng.uniform(0.5, 2.0);
                        if self.rng.chance(0.5) { -m } else { m }
                    })
                    .collect();
                let c = self.const_data(&p, data);
                self.pooled(Op::Binary(BinaryOp::Div), vec![Some(x), Some(c)])?;
            }
            6 => {
                let shape: &[usize] = if self.rng.chance(0.5) { &[] } else { &[1] };
                let two = self.const_data(shape, vec![2.0]);
                self.pooled(Op::Binary(BinaryOp::Pow), vec![Some(x), Some(two)])?;
            }
            k => {
                let op = [
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Max,
                    BinaryOp::Min,
                ][k];
                let y = self.partner(x);
                let (a, b) = if self.rng.chance(0.5) { (x, y) } else { (y, x) };
                self.pooled(Op::Binary(op), vec![Some(a), Some(b)])?;
            }
        }
        Some(())
    }

    /// Where(x <cmp> threshold, x or another value, a broadcast partner).
    pub(crate) fn select(&mut self, x: ValueId) -> Option<()> {
        let threshold = self.rng.uniform(-1.5, 1.5);
        let t = self.const_data(&[], vec![threshold]);
        let cmp = self.rng.pick(&[
            BinaryOp::Greater,
            BinaryOp::Less,
            BinaryOp::GreaterOrEqual,
            BinaryOp::LessOrEqual,
        ]);
        let cond = self.node(Op::Binary(cmp), vec![Some(x), Some(t)])?;
        self.fragile.push(Fragile::Compare { x, threshold });
        let a = if self.rng.chance(0.5) {
            x
        } else {
            self.operand()
        };
        let b = self.partner(x);
        self.pooled(Op::Where, vec![Some(cond), Some(a), Some(b)])?;
        Some(())
    }

    /// Cast f32 -> i64 -> f32 of `x * c + d`, the constants moving integer boundaries away from
    /// the values activations saturate to (0, ±1, 0.5).
    pub(crate) fn cast(&mut self, x: ValueId) -> Option<()> {
        let c = self.rng.uniform(1.5, 4.5);
        let c = self.const_data(&[], vec![c]);
        let d = self.rng.uniform(-0.5, 0.5);
        let d = self.const_data(&[], vec![d]);
        let scaled = self.pooled(Op::Binary(BinaryOp::Mul), vec![Some(x), Some(c)])?;
        let shifted = self.pooled(Op::Binary(BinaryOp::Add), vec![Some(scaled), Some(d)])?;
        let i = self.node(
            Op::Cast {
                to: DType::I64,
                saturate: true,
            },
            vec![Some(shifted)],
        )?;
        self.fragile.push(Fragile::Cast { x: shifted });
        self.pooled(
            Op::Cast {
                to: DType::F32,
                saturate: true,
            },
            vec![Some(i)],
        )?;
        Some(())
    }

    pub(crate) fn reduce(&mut self, x: ValueId) -> Option<()> {
        let r = self.shape(x).len();
        if r == 0 {
            return None;
        }
        let kind = self
            .rng
            .pick(&[ReduceKind::Sum, ReduceKind::Mean, ReduceKind::Max]);
        let op = Op::Reduce {
            kind,
            keepdims: self.rng.chance(0.5),
            noop_with_empty_axes: false,
        };
        if self.rng.chance(0.15) {
            self.pooled(op, vec![Some(x)])?;
            return Some(());
        }
        let mut axes: Vec<i64> = Vec::new();
        for a in 0..r {
            if self.rng.chance(0.4) {
                axes.push(if self.rng.chance(0.3) {
                    a as i64 - r as i64
                } else {
                    a as i64
                });
            }
        }
        if axes.is_empty() {
            axes.push(self.axis(r).1);
        }
        self.rng.shuffle(&mut axes);
        let axes = self.const_i64(axes);
        self.pooled(op, vec![Some(x), Some(axes)])?;
        Some(())
    }

    pub(crate) fn transpose(&mut self, x: ValueId) -> Option<()> {
        let r = self.shape(x).len();
        if r < 2 {
            return None;
        }
        let perm = if self.rng.chance(0.15) {
            None
        } else {
            let mut p: Vec<usize> = (0..r).collect();
            self.rng.shuffle(&mut p);
            Some(p)
        };
        self.pooled(Op::Transpose { perm }, vec![Some(x)])?;
        Some(())
    }

    pub(crate) fn reshape(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        let mut rem: usize = s.iter().product();
        let rank = self.rng.range(1, 4) as usize;
        let mut dims: Vec<i64> = Vec::new();
        for _ in 1..rank {
            let divisors: Vec<usize> = (1..=rem.min(9))
                .filter(|d| rem.is_multiple_of(*d))
                .collect();
            let d = divisors[self.rng.below(divisors.len())];
            dims.push(d as i64);
            rem /= d;
        }
        dims.push(rem as i64);
        self.rng.shuffle(&mut dims);
        if self.rng.chance(0.3) {
            let i = self.rng.below(dims.len());
            dims[i] = -1;
        } else if self.rng.chance(0.3) {
            // 0 copies the input's dim at the same position (allowzero off).
            if let Some(i) = (0..dims.len()).find(|&i| s.get(i) == Some(&(dims[i] as usize))) {
                dims[i] = 0;
            }
        }
        let shape = self.const_i64(dims);
        self.pooled(Op::Reshape { allowzero: false }, vec![Some(x), Some(shape)])?;
        Some(())
    }

    pub(crate) fn unsqueeze_or_squeeze(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        let ones: Vec<usize> = (0..s.len()).filter(|&i| s[i] == 1).collect();
        if !ones.is_empty() && self.rng.chance(0.5) {
            if self.rng.chance(0.3) {
                self.pooled(Op::Squeeze, vec![Some(x)])?;
                return Some(());
            }
            let mut axes: Vec<i64> = Vec::new();
            for &a in &ones {
                if self.rng.chance(0.6) {
                    let neg = self.rng.chance(0.4);
                    axes.push(if neg {
                        a as i64 - s.len() as i64
                    } else {
                        a as i64
                    });
                }
            }
            let axes = if axes.is_empty() {
                vec![ones[0] as i64]
            } else {
                axes
            };
            let axes = self.const_i64(axes);
            self.pooled(Op::Squeeze, vec![Some(x), Some(axes)])?;
            return Some(());
        }
        let out_rank = s.len() + self.rng.range(1, 2) as usize;
        let mut all: Vec<usize> = (0..out_rank).collect();
        self.rng.shuffle(&mut all);
        let axes: Vec<i64> = all[..out_rank - s.len()]
            .iter()
            .map(|&a| {
                if self.rng.chance(0.4) {
                    a as i64 - out_rank as i64
                } else {
                    a as i64
                }
            })
            .collect();
        let axes = self.const_i64(axes);
        self.pooled(Op::Unsqueeze, vec![Some(x), Some(axes)])?;
        Some(())
    }

    /// Slice with random steps (negative too) and out-of-range or sentinel bounds; never empty.
    pub(crate) fn slice(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        if s.is_empty() {
            return None;
        }
        let (mut starts, mut ends, mut axes, mut steps) = (vec![], vec![], vec![], vec![]);
        for (a, &d) in s.iter().enumerate() {
            if !self.rng.chance(0.6) {
                continue;
            }
            let d = d as i64;
            let step = self.rng.pick(&[1, 1, 2, 3, -1, -2]);
            let first = self.rng.range(0, d - 1);
            let (start, end) = if step > 0 {
                let end = self.rng.range(first + 1, d);
                let start = match self.rng.below(3) {
                    0 => first - d,
                    1 if first == 0 => -1000,
                    _ => first,
                };
                let end = match self.rng.below(3) {
                    0 if end == d => self.rng.pick(&[1000, i64::MAX]),
                    1 if end < d => end - d,
                    _ => end,
                };
                (start, end)
            } else {
                // Exclusive end below `first`; -1 here means "before index 0".
                let end = self.rng.range(-1, first - 1);
                let start = match self.rng.below(3) {
                    0 => first - d,
                    1 if first == d - 1 => self.rng.pick(&[1000, i64::MAX]),
                    _ => first,
                };
                let end = if end == -1 {
                    self.rng.pick(&[-1000, i64::MIN])
                } else if self.rng.chance(0.4) {
                    end - d
                } else {
                    end
                };
                (start, end)
            };
            starts.push(start);
            ends.push(end);
            axes.push(if self.rng.chance(0.3) {
                a as i64 - s.len() as i64
            } else {
                a as i64
            });
            steps.push(step);
        }
        if axes.is_empty() {
            return None;
        }
        let n = axes.len();
        let mut order: Vec<usize> = (0..n).collect();
        self.rng.shuffle(&mut order);
        let by = |v: &[i64]| order.iter().map(|&i| v[i]).collect::<Vec<i64>>();
        let (starts, ends, axes, steps) = (by(&starts), by(&ends), by(&axes), by(&steps));
        let starts = self.const_i64(starts);
        let ends = self.const_i64(ends);
        let axes = self.const_i64(axes);
        let steps = self.const_i64(steps);
        self.pooled(
            Op::Slice,
            vec![Some(x), Some(starts), Some(ends), Some(axes), Some(steps)],
        )?;
        Some(())
    }

    pub(crate) fn expand(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        let mut target: Vec<i64> = Vec::new();
        if self.rng.chance(0.4) {
            target.push(self.rng.range(1, 3));
        }
        for &d in &s {
            target.push(match (d, self.rng.below(2)) {
                (1, 0) => self.rng.range(2, 4),
                (_, 0) => 1,
                _ => d as i64,
            });
        }
        let shape = self.const_i64(target);
        self.pooled(Op::Expand, vec![Some(x), Some(shape)])?;
        Some(())
    }

    pub(crate) fn concat(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        if s.is_empty() {
            return None;
        }
        let (a, written) = self.axis(s.len());
        let mut inputs = vec![Some(x)];
        for _ in 0..self.rng.range(1, 2) {
            let fits: Vec<ValueId> = self
                .pool
                .iter()
                .copied()
                .filter(|&v| {
                    let t = self.shape(v);
                    t.len() == s.len() && (0..s.len()).all(|i| i == a || t[i] == s[i])
                })
                .collect();
            let other = if !fits.is_empty() && self.rng.chance(0.5) {
                fits[self.rng.below(fits.len())]
            } else {
                let mut t = s.clone();
                t[a] = self.rng.range(1, 4) as usize;
                self.weight(&t)
            };
            let at = self.rng.below(inputs.len() + 1);
            inputs.insert(at, Some(other));
        }
        self.pooled(Op::Concat { axis: written }, inputs)?;
        Some(())
    }

    /// Gather with indices in [-d, d): a constant, or an i64 graph input.
    pub(crate) fn gather(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        if s.is_empty() {
            return None;
        }
        let (a, written) = self.axis(s.len());
        let d = s[a] as i64;
        let ishape: Vec<usize> = (0..self.rng.range(0, 2))
            .map(|_| self.rng.range(1, 4) as usize)
            .collect();
        let idx: Vec<i64> = (0..ishape.iter().product())
            .map(|_| self.rng.range(-d, d - 1))
            .collect();
        let t = Tensor::from_i64(ishape.clone(), idx).expect("sizes match");
        let indices = if self.rng.chance(0.3) {
            let name = self.fresh("idx");
            self.feeds.insert(name.clone(), t);
            let ty = TensorType::new(DType::I64, static_shape(&ishape));
            self.graph.add_input(name, ty)
        } else {
            let name = self.fresh("c");
            self.graph.add_constant(name, t)
        };
        self.pooled(Op::Gather { axis: written }, vec![Some(x), Some(indices)])?;
        Some(())
    }

    /// numpy MatMul with `x` as either operand: batched, broadcasting batch dims, 1-D operands.
    pub(crate) fn matmul(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        let r = s.len();
        if r == 0 {
            return None;
        }
        let n = self.rng.range(1, 9) as usize;
        let batch = if r > 2 {
            self.partner_shape(&s[..r - 2])
        } else if self.rng.chance(0.3) {
            vec![self.rng.range(1, 3) as usize]
        } else {
            vec![]
        };
        if self.rng.chance(0.7) {
            let k = s[r - 1];
            let mut shape = batch;
            match self.rng.below(3) {
                0 => shape = vec![k],
                _ => shape.extend([k, n]),
            }
            let b = self.weight(&shape);
            self.pooled(Op::MatMul, vec![Some(x), Some(b)])?;
        } else {
            let k = if r == 1 { s[0] } else { s[r - 2] };
            let mut shape = batch;
            match self.rng.below(3) {
                0 => shape = vec![k],
                _ => shape.extend([n, k]),
            }
            let a = self.weight(&shape);
            self.pooled(Op::MatMul, vec![Some(a), Some(x)])?;
        }
        Some(())
    }

    pub(crate) fn gemm(&mut self, x: ValueId) -> Option<()> {
        let mut x = x;
        let mut s = self.shape(x);
        if s.is_empty() {
            return None;
        }
        if s.len() != 2 {
            // Gemm takes matrices: view x as [rows, last dim] first.
            let last = s[s.len() - 1];
            s = vec![s.iter().product::<usize>() / last, last];
            let shape = self.const_i64(vec![-1, last as i64]);
            x = self.pooled(Op::Reshape { allowzero: false }, vec![Some(x), Some(shape)])?;
        }
        let (trans_a, trans_b) = (self.rng.chance(0.5), self.rng.chance(0.5));
        let scalar = |rng: &mut Rng| {
            if rng.chance(0.5) {
                1.0
            } else {
                rng.uniform(0.5, 1.5)
            }
        };
        let attrs = GemmAttrs {
            alpha: scalar(&mut self.rng),
            beta: scalar(&mut self.rng),
            trans_a,
            trans_b,
        };
        let (a, b, m, n);
        if self.rng.chance(0.7) {
            let (rows, k) = if trans_a { (s[1], s[0]) } else { (s[0], s[1]) };
            m = rows;
            n = self.rng.range(1, 9) as usize;
            let shape = if trans_b { [n, k] } else { [k, n] };
            (a, b) = (x, self.weight(&shape));
        } else {
            let (k, cols) = if trans_b { (s[1], s[0]) } else { (s[0], s[1]) };
            n = cols;
            m = self.rng.range(1, 9) as usize;
            let shape = if trans_a { [k, m] } else { [m, k] };
            (a, b) = (self.weight(&shape), x);
        }
        let c_shape: Option<Vec<usize>> = match self.rng.below(7) {
            0 => None,
            1 => Some(vec![n]),
            2 => Some(vec![1, n]),
            3 => Some(vec![m, 1]),
            4 => Some(vec![]),
            _ => Some(vec![m, n]),
        };
        let c = c_shape.map(|cs| self.const_f32(&cs, -1.0, 1.0));
        self.pooled(Op::Gemm(attrs), vec![Some(a), Some(b), c])?;
        Some(())
    }

    pub(crate) fn softmax(&mut self, x: ValueId) -> Option<()> {
        let r = self.shape(x).len();
        if r == 0 {
            return None;
        }
        let axis = self.axis(r).1;
        self.pooled(
            Op::Softmax {
                kind: SoftmaxKind::Softmax,
                axis,
                coerce_2d: false,
            },
            vec![Some(x)],
        )?;
        Some(())
    }

    /// LayerNormalization of `x + noise`: the noise varies along the normalized dims, so no
    /// row is constant (a zero variance would make the result a ratio of rounding errors).
    pub(crate) fn layer_norm(&mut self, x: ValueId) -> Option<()> {
        let s = self.shape(x);
        if s.is_empty() {
            return None;
        }
        let (a, written) = self.axis(s.len());
        let inner = s[a..].to_vec();
        if inner.iter().product::<usize>() < 2 {
            return None;
        }
        let noise = self.const_f32(&inner, -1.0, 1.0);
        let y = self.pooled(Op::Binary(BinaryOp::Add), vec![Some(x), Some(noise)])?;
        let scale = self.const_f32(&inner, 0.5, 1.5);
        let bias = self
            .rng
            .chance(0.8)
            .then(|| self.const_f32(&inner, -0.5, 0.5));
        self.pooled(
            Op::LayerNormalization {
                axis: written,
                epsilon: 1e-5,
                stash_type: DType::F32,
            },
            vec![Some(y), Some(scale), bias],
        )?;
        Some(())
    }
}
