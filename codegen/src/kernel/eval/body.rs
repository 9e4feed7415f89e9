//! Evaluation of a [`Body`] over a chunk of an iteration space, column by column: every
//! instruction is computed at all points of the chunk before the next one, then the stores
//! write their dense ranges.

use super::column::{self, Col};
use super::memory::Buf;
use crate::kernel::access::Access;
use crate::kernel::body::{Body, Inst, InstId, UnaryFn};

/// Points evaluated at once: bounds the memory of the columns.
pub const CHUNK: usize = 4096;

/// A run of consecutive points, in row-major order, of an iteration space.
pub struct Chunk {
    /// Linear index of the first point.
    pub start: usize,
    /// Number of points.
    pub n: usize,
    /// Per dim, the coordinate of every point.
    pub coords: Vec<Vec<i64>>,
}

impl Chunk {
    /// Points `start..start + n` of `shape`.
    pub fn new(shape: &[usize], start: usize, n: usize) -> Chunk {
        let rank = shape.len();
        let mut coords = vec![Vec::with_capacity(n); rank];
        let mut cur = vec![0usize; rank];
        let mut rest = start;
        for d in (0..rank).rev() {
            let e = shape[d].max(1);
            cur[d] = rest % e;
            rest /= e;
        }
        for _ in 0..n {
            for d in 0..rank {
                coords[d].push(cur[d] as i64);
            }
            for d in (0..rank).rev() {
                cur[d] += 1;
                if cur[d] < shape[d] {
                    break;
                }
                cur[d] = 0;
            }
        }
        Chunk { start, n, coords }
    }
}

/// The chunks covering a space of `total` points.
pub fn chunks(total: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..total)
        .step_by(CHUNK)
        .map(move |s| (s, CHUNK.min(total - s)))
}

/// Evaluates every instruction of `body` at the points of `chunk`; `anchor` supplies the
/// values of `Inst::Anchor` (only epilogues have one).
pub fn eval_insts(
    body: &Body,
    bufs: &[Buf],
    chunk: &Chunk,
    anchor: Option<&Col>,
) -> Result<Vec<Col>, String> {
    let mut cols: Vec<Col> = Vec::with_capacity(body.insts.len());
    for (i, inst) in body.insts.iter().enumerate() {
        let operand = |id: InstId| -> Result<&Col, String> {
            cols.get(id.index())
                .filter(|_| id.index() < i)
                .ok_or_else(|| format!("instruction {i} uses %{} before it is defined", id.0))
        };
        let col = match inst {
            Inst::Load(access) => load(access, bufs, chunk, &cols, i)?,
            Inst::Const { value, ty } => Col::splat(*value, *ty, chunk.n),
            Inst::Unary(UnaryFn::Erf, x) => erf(operand(*x)?)?,
            Inst::Unary(f, x) => column::unary(*f, operand(*x)?)?,
            Inst::Binary(f, a, b) => column::binary(*f, operand(*a)?, operand(*b)?)?,
            Inst::Select(c, a, b) => column::select(operand(*c)?, operand(*a)?, operand(*b)?)?,
            Inst::Cast(x, to) => column::cast(operand(*x)?, *to),
            Inst::Anchor => match anchor {
                Some(a) if a.len() == chunk.n => a.clone(),
                Some(_) => return Err("anchor column of the wrong length".into()),
                None => return Err(format!("instruction {i}: Anchor outside an epilogue")),
            },
            Inst::Index(d) => match chunk.coords.get(*d) {
                Some(c) => Col::I64(c.clone()),
                None => {
                    return Err(format!(
                        "Index({d}) in a space of rank {}",
                        chunk.coords.len()
                    ));
                }
            },
        };
        cols.push(col);
    }
    Ok(cols)
}

/// Writes the body's stores for `chunk`: densely, at the chunk's linear range.
pub fn apply_stores(
    body: &Body,
    cols: &[Col],
    bufs: &mut [Buf],
    chunk: &Chunk,
) -> Result<(), String> {
    for s in &body.stores {
        let value = cols
            .get(s.value.index())
            .ok_or_else(|| format!("store of undefined %{}", s.value.0))?;
        let buf = bufs
            .get_mut(s.arg)
            .ok_or_else(|| format!("store to arg {} of a kernel with fewer", s.arg))?;
        buf.write(chunk.start, value)?;
    }
    Ok(())
}

/// Checks that a dense store of a space of `total` points fits each stored buffer exactly.
pub fn check_store_sizes(body: &Body, bufs: &[Buf], total: usize) -> Result<(), String> {
    for s in &body.stores {
        let buf = bufs
            .get(s.arg)
            .ok_or_else(|| format!("store to arg {} of a kernel with fewer", s.arg))?;
        if buf.len() != total {
            return Err(format!(
                "dense store of {total} points into arg {} of {} elements",
                s.arg,
                buf.len()
            ));
        }
    }
    Ok(())
}

/// Runs `body` over the whole space `shape`, with `anchor` (if any) holding one value per
/// point in row-major order. Returns the values of `keep` (converted to f32) at every point.
pub fn run_body(
    body: &Body,
    bufs: &mut [Buf],
    shape: &[usize],
    anchor: Option<&[f32]>,
    keep: Option<InstId>,
) -> Result<Vec<f32>, String> {
    let total: usize = shape.iter().product();
    check_store_sizes(body, bufs, total)?;
    if let Some(a) = anchor
        && a.len() != total
    {
        return Err(format!("anchor of {} values over {total} points", a.len()));
    }
    let mut kept = Vec::with_capacity(if keep.is_some() { total } else { 0 });
    for (start, n) in chunks(total) {
        let chunk = Chunk::new(shape, start, n);
        let a = anchor.map(|a| Col::F32(a[start..start + n].to_vec()));
        let cols = eval_insts(body, bufs, &chunk, a.as_ref())?;
        apply_stores(body, &cols, bufs, &chunk)?;
        if let Some(k) = keep {
            let col = cols
                .get(k.index())
                .ok_or_else(|| format!("the row/reduce input %{} is not defined", k.0))?;
            kept.extend(col.to_f32());
        }
    }
    Ok(kept)
}

/// Reads an access at every point of the chunk.
fn load(
    access: &Access,
    bufs: &[Buf],
    chunk: &Chunk,
    cols: &[Col],
    at: usize,
) -> Result<Col, String> {
    let buf = bufs
        .get(access.arg)
        .ok_or_else(|| format!("load from arg {} of a kernel with fewer", access.arg))?;
    if access.strides.len() != chunk.coords.len() {
        return Err(format!(
            "access with {} strides in a space of rank {}",
            access.strides.len(),
            chunk.coords.len()
        ));
    }
    let mut addr = vec![access.offset; chunk.n];
    for (s, c) in access.strides.iter().zip(&chunk.coords) {
        for (a, &i) in addr.iter_mut().zip(c) {
            *a = a.wrapping_add(s.wrapping_mul(i));
        }
    }
    if let Some(ind) = &access.indirect {
        if ind.index.index() >= at {
            return Err(format!(
                "indirect index %{} is not defined yet",
                ind.index.0
            ));
        }
        let idx = cols[ind.index.index()]
            .as_indices()
            .ok_or("indirect index is not an integer")?;
        for (a, j) in addr.iter_mut().zip(idx) {
            if j < -ind.extent || j >= ind.extent {
                return Err(format!(
                    "index {j} outside [-{e}, {e}) (unchecked)",
                    e = ind.extent
                ));
            }
            let j = if j < 0 { j + ind.extent } else { j };
            *a = a.wrapping_add(ind.stride.wrapping_mul(j));
        }
    }
    let mut addrs = Vec::with_capacity(chunk.n);
    for a in addr {
        addrs.push(usize::try_from(a).map_err(|_| format!("read of element {a}"))?);
    }
    buf.read(&addrs)
}

/// erf as `ir::interp` computes it (f64, rounded once to f32).
fn erf(x: &Col) -> Result<Col, String> {
    let Col::F32(v) = x else {
        return Err(format!("Erf takes F32, got {:?}", x.scalar()));
    };
    let t = ir::Tensor::from_f32(vec![v.len()], v.clone()).map_err(|e| e.0)?;
    let op = ir::Op::Unary(ir::op::UnaryOp::Erf);
    let out = ir::interp::eval(&op, &[Some(&t)], 1).map_err(|e| e.0)?;
    match out.first().and_then(|t| t.as_f32()) {
        Some(r) => Ok(Col::F32(r.to_vec())),
        None => Err("erf gave no f32 result".into()),
    }
}
