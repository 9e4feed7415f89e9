//! Kernels of the recurrent ops RNN, GRU and LSTM, computed in f64.

use super::{opt, req};
use crate::error::OpError;
use crate::op::{RnnAttrs, RnnCell, RnnDirection};
use crate::tensor::{Tensor, checked_numel};
use crate::{op_bail, op_err};

/// Sizes of one recurrent op's problem, checked against every input.
struct Dims {
    batch: usize,
    hidden: usize,
    dirs: usize,
}

/// Reads a `[dirs, batch, hidden]` state (or `[batch, dirs, hidden]` when batch-first) into
/// `[dirs][batch * hidden]` order.
fn read_state(
    t: Option<&Tensor>,
    name: &str,
    d: &Dims,
    batch_first: bool,
) -> Result<Vec<f64>, OpError> {
    let n = d.dirs * d.batch * d.hidden;
    let Some(t) = t else {
        return Ok(vec![0.0; n]);
    };
    let want = if batch_first {
        [d.batch, d.dirs, d.hidden]
    } else {
        [d.dirs, d.batch, d.hidden]
    };
    if t.shape() != want {
        op_bail!("{name} has shape {:?}, expected {:?}", t.shape(), want);
    }
    let v = t.to_f64_vec();
    if !batch_first {
        return Ok(v);
    }
    let mut out = vec![0.0; n];
    for b in 0..d.batch {
        for dir in 0..d.dirs {
            for h in 0..d.hidden {
                out[(dir * d.batch + b) * d.hidden + h] = v[(b * d.dirs + dir) * d.hidden + h];
            }
        }
    }
    Ok(out)
}

/// Writes `[dirs][batch][hidden]` states in the output layout.
fn write_state(v: &[f64], d: &Dims, batch_first: bool) -> (Vec<usize>, Vec<f64>) {
    if !batch_first {
        return (vec![d.dirs, d.batch, d.hidden], v.to_vec());
    }
    let mut out = vec![0.0; v.len()];
    for dir in 0..d.dirs {
        for b in 0..d.batch {
            for h in 0..d.hidden {
                out[(b * d.dirs + dir) * d.hidden + h] = v[(dir * d.batch + b) * d.hidden + h];
            }
        }
    }
    (vec![d.batch, d.dirs, d.hidden], out)
}

/// `acc[g] += sum_k a[k] * m[g, k]` for a row-major `[rows, k]` matrix `m`.
fn mat_vec_acc(acc: &mut [f64], m: &[f64], a: &[f64]) {
    let k = a.len();
    for (g, out) in acc.iter_mut().enumerate() {
        let row = &m[g * k..(g + 1) * k];
        *out += row.iter().zip(a).map(|(w, x)| w * x).sum::<f64>();
    }
}

/// RNN, GRU and LSTM. Inputs: X, W, R, B?, sequence_lens?, initial_h?, and for LSTM
/// initial_c?, P?. Outputs: Y, Y_h, and for LSTM Y_c.
pub fn recurrent(
    attrs: &RnnAttrs,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
) -> Result<Vec<Tensor>, OpError> {
    let x = req(inputs, 0)?;
    let w = req(inputs, 1)?;
    let r = req(inputs, 2)?;
    let dtype = x.dtype();
    if !dtype.is_float() {
        op_bail!("X must be a floating-point tensor, got {dtype:?}");
    }
    if x.rank() != 3 {
        op_bail!("X must have rank 3, got shape {:?}", x.shape());
    }
    let (seq, batch) = if attrs.batch_first {
        (x.shape()[1], x.shape()[0])
    } else {
        (x.shape()[0], x.shape()[1])
    };
    let input = x.shape()[2];
    let dirs = attrs.direction.count();
    let gates = attrs.cell.gates();
    if r.rank() != 3 {
        op_bail!("R must have rank 3, got shape {:?}", r.shape());
    }
    let hidden = r.shape()[2];
    if let Some(hs) = attrs.hidden_size
        && hs != hidden
    {
        op_bail!("hidden_size is {hs} but R has shape {:?}", r.shape());
    }
    // Every size product below stays in range once these do.
    checked_numel(&[seq, dirs, batch, hidden])?;
    checked_numel(&[dirs, 2 * gates, hidden, hidden.max(input)])?;
    let d = Dims {
        batch,
        hidden,
        dirs,
    };
    if w.shape() != [dirs, gates * hidden, input] {
        op_bail!(
            "W has shape {:?}, expected {:?}",
            w.shape(),
            [dirs, gates * hidden, input]
        );
    }
    if r.shape() != [dirs, gates * hidden, hidden] {
        op_bail!(
            "R has shape {:?}, expected {:?}",
            r.shape(),
            [dirs, gates * hidden, hidden]
        );
    }
    let per_dir = attrs.cell.activations();
    if attrs.activations.len() != per_dir * dirs {
        op_bail!(
            "{} activations given, expected {}",
            attrs.activations.len(),
            per_dir * dirs
        );
    }
    let bias = match opt(inputs, 3) {
        Some(b) => {
            if b.shape() != [dirs, 2 * gates * hidden] {
                op_bail!(
                    "B has shape {:?}, expected {:?}",
                    b.shape(),
                    [dirs, 2 * gates * hidden]
                );
            }
            b.to_f64_vec()
        }
        None => vec![0.0; dirs * 2 * gates * hidden],
    };
    let seq_lens = match opt(inputs, 4) {
        Some(s) => {
            if s.shape() != [batch] {
                op_bail!(
                    "sequence_lens has shape {:?}, expected [{batch}]",
                    s.shape()
                );
            }
            s.to_i64_vec()?
                .iter()
                .map(|&l| {
                    usize::try_from(l)
                        .ok()
                        .filter(|&l| l <= seq)
                        .ok_or_else(|| {
                            op_err!(
                                "sequence_lens value {l} is out of range for sequence length {seq}"
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        None => vec![seq; batch],
    };
    let is_lstm = matches!(attrs.cell, RnnCell::Lstm { .. });
    let n_max = if is_lstm { 3 } else { 2 };
    if n_outputs > n_max {
        op_bail!("{n_outputs} outputs requested, the op has at most {n_max}");
    }
    let mut h_state = read_state(opt(inputs, 5), "initial_h", &d, attrs.batch_first)?;
    let mut c_state = if is_lstm {
        read_state(opt(inputs, 6), "initial_c", &d, attrs.batch_first)?
    } else {
        Vec::new()
    };
    let peep = match opt(inputs, 7).filter(|_| is_lstm) {
        Some(p) => {
            if p.shape() != [dirs, 3 * hidden] {
                op_bail!(
                    "P has shape {:?}, expected {:?}",
                    p.shape(),
                    [dirs, 3 * hidden]
                );
            }
            p.to_f64_vec()
        }
        None => vec![0.0; dirs * 3 * hidden],
    };
    let xv = x.to_f64_vec();
    let wv = w.to_f64_vec();
    let rv = r.to_f64_vec();
    // Y in `[seq, dirs, batch, hidden]` order; steps past a sequence's length stay zero.
    let mut y = vec![0.0; seq * dirs * batch * hidden];
    let gh = gates * hidden;
    for dir in 0..dirs {
        let reverse = attrs.direction == RnnDirection::Reverse || dir == 1;
        let w_d = &wv[dir * gh * input..(dir + 1) * gh * input];
        let r_d = &rv[dir * gh * hidden..(dir + 1) * gh * hidden];
        let wb = &bias[dir * 2 * gh..dir * 2 * gh + gh];
        let rb = &bias[dir * 2 * gh + gh..(dir + 1) * 2 * gh];
        let acts = &attrs.activations[dir * per_dir..(dir + 1) * per_dir];
        let clip = |v: f64| match attrs.clip {
            Some(c) => v.clamp(-(c as f64), c as f64),
            None => v,
        };
        for (b, &len) in seq_lens.iter().enumerate() {
            let state = (dir * batch + b) * hidden..(dir * batch + b + 1) * hidden;
            let mut h = h_state[state.clone()].to_vec();
            let mut c = if is_lstm {
                c_state[state.clone()].to_vec()
            } else {
                Vec::new()
            };
            for step in 0..len {
                let t = if reverse { len - 1 - step } else { step };
                let x_off = if attrs.batch_first {
                    (b * seq + t) * input
                } else {
                    (t * batch + b) * input
                };
                let xt = &xv[x_off..x_off + input];
                // x_part = X W^T + Wb, h_part = H R^T + Rb, both [gates * hidden].
                let mut x_part = wb.to_vec();
                mat_vec_acc(&mut x_part, w_d, xt);
                let mut h_part = rb.to_vec();
                mat_vec_acc(&mut h_part, r_d, &h);
                h = match attrs.cell {
                    RnnCell::Simple => (0..hidden)
                        .map(|k| acts[0].apply(clip(x_part[k] + h_part[k])))
                        .collect(),
                    RnnCell::Gru {
                        linear_before_reset,
                    } => {
                        let z: Vec<f64> = (0..hidden)
                            .map(|k| acts[0].apply(clip(x_part[k] + h_part[k])))
                            .collect();
                        let rg: Vec<f64> = (0..hidden)
                            .map(|k| acts[0].apply(clip(x_part[hidden + k] + h_part[hidden + k])))
                            .collect();
                        let candidate: Vec<f64> = if linear_before_reset {
                            (0..hidden)
                                .map(|k| x_part[2 * hidden + k] + rg[k] * h_part[2 * hidden + k])
                                .collect()
                        } else {
                            let reset_h: Vec<f64> = (0..hidden).map(|k| rg[k] * h[k]).collect();
                            let mut acc = rb[2 * hidden..3 * hidden].to_vec();
                            mat_vec_acc(&mut acc, &r_d[2 * hidden * hidden..], &reset_h);
                            (0..hidden)
                                .map(|k| x_part[2 * hidden + k] + acc[k])
                                .collect()
                        };
                        (0..hidden)
                            .map(|k| {
                                let ht = acts[1].apply(clip(candidate[k]));
                                (1.0 - z[k]) * ht + z[k] * h[k]
                            })
                            .collect()
                    }
                    RnnCell::Lstm { input_forget } => {
                        let p = &peep[dir * 3 * hidden..(dir + 1) * 3 * hidden];
                        let pre =
                            |g: usize, k: usize| x_part[g * hidden + k] + h_part[g * hidden + k];
                        let mut new_h = vec![0.0; hidden];
                        for k in 0..hidden {
                            let f = acts[0].apply(clip(pre(2, k) + p[2 * hidden + k] * c[k]));
                            let i = if input_forget {
                                1.0 - f
                            } else {
                                acts[0].apply(clip(pre(0, k) + p[k] * c[k]))
                            };
                            let cand = acts[1].apply(clip(pre(3, k)));
                            c[k] = f * c[k] + i * cand;
                            let o = acts[0].apply(clip(pre(1, k) + p[hidden + k] * c[k]));
                            new_h[k] = o * acts[2].apply(c[k]);
                        }
                        new_h
                    }
                };
                let y_off = ((t * dirs + dir) * batch + b) * hidden;
                y[y_off..y_off + hidden].copy_from_slice(&h);
            }
            h_state[state.clone()].copy_from_slice(&h);
            if is_lstm {
                c_state[state].copy_from_slice(&c);
            }
        }
    }
    let (y_shape, y) = if attrs.batch_first {
        let mut out = vec![0.0; y.len()];
        for t in 0..seq {
            for dir in 0..dirs {
                for b in 0..batch {
                    let src = ((t * dirs + dir) * batch + b) * hidden;
                    let dst = ((b * seq + t) * dirs + dir) * hidden;
                    out[dst..dst + hidden].copy_from_slice(&y[src..src + hidden]);
                }
            }
        }
        (vec![batch, seq, dirs, hidden], out)
    } else {
        (vec![seq, dirs, batch, hidden], y)
    };
    let mut outputs = vec![Tensor::from_f64(dtype, y_shape, &y)?];
    let (h_shape, h) = write_state(&h_state, &d, attrs.batch_first);
    outputs.push(Tensor::from_f64(dtype, h_shape, &h)?);
    if is_lstm {
        let (c_shape, c) = write_state(&c_state, &d, attrs.batch_first);
        outputs.push(Tensor::from_f64(dtype, c_shape, &c)?);
    }
    outputs.truncate(n_outputs.max(1));
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::RnnActivation;

    fn simple(direction: RnnDirection) -> RnnAttrs {
        RnnAttrs {
            cell: RnnCell::Simple,
            direction,
            hidden_size: None,
            activations: vec![RnnActivation::Relu; direction.count()],
            clip: None,
            batch_first: false,
        }
    }

    /// With `H = relu(x + h)` the hidden state is a running sum of the inputs.
    #[test]
    fn simple_rnn_accumulates_and_honours_sequence_lens() {
        let x = Tensor::from_f32(vec![3, 2, 1], vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 1], vec![1.0]).unwrap();
        let r = Tensor::from_f32(vec![1, 1, 1], vec![1.0]).unwrap();
        let lens = Tensor::from_i64(vec![2], vec![3, 2]).unwrap();
        let inputs = [Some(&x), Some(&w), Some(&r), None, Some(&lens)];
        let out = recurrent(&simple(RnnDirection::Forward), &inputs, 2).unwrap();
        assert_eq!(out[0].to_f64_vec(), [1.0, 10.0, 3.0, 30.0, 6.0, 0.0]);
        assert_eq!(out[1].to_f64_vec(), [6.0, 30.0]);
        let out = recurrent(&simple(RnnDirection::Reverse), &inputs, 2).unwrap();
        assert_eq!(out[0].to_f64_vec(), [6.0, 30.0, 5.0, 20.0, 3.0, 0.0]);
    }

    #[test]
    fn mismatched_weights_are_errors() {
        let x = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 2.0]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 1], vec![1.0]).unwrap();
        let r = Tensor::from_f32(vec![1, 1, 1], vec![1.0]).unwrap();
        let err = recurrent(
            &simple(RnnDirection::Forward),
            &[Some(&x), Some(&w), Some(&r)],
            2,
        )
        .unwrap_err();
        assert!(err.to_string().contains("W has shape"), "{err}");
        let x = Tensor::from_f32(vec![1, 1, 1], vec![1.0]).unwrap();
        let lens = Tensor::from_i64(vec![1], vec![5]).unwrap();
        let inputs = [Some(&x), Some(&w), Some(&r), None, Some(&lens)];
        let err = recurrent(&simple(RnnDirection::Forward), &inputs, 2).unwrap_err();
        assert!(err.to_string().contains("sequence_lens value 5"), "{err}");
    }
}
