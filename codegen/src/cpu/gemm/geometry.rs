//! The shape of a plan's work: phases of items of `m × n × k` products, where each operand of
//! each item lives, and the checks that make running it safe.

use crate::cpu::gemm::conv::ConvGeo;
use crate::error::CodegenError;
use crate::kernel::{ConvKernel, GemmKernel};
use crate::runtime::pool::Pool;
use ir::DType;

/// Where an operand's elements live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    Arg(usize),
    Scratch,
}

/// An f32 matrix addressed by element strides from `offset` (plus the item's offset).
#[derive(Clone, Copy, Debug)]
pub(super) struct Operand {
    pub src: Source,
    pub offset: i64,
    pub rs: i64,
    pub cs: i64,
}

/// How items map to memory.
#[derive(Clone, Debug)]
pub(super) enum Items {
    /// Batched contraction: items are the row-major points of `dims`.
    Batch {
        dims: Vec<usize>,
        a: Vec<i64>,
        b: Vec<i64>,
        /// Where `b` really lives when each item's `b` is staged into scratch as dense rows
        /// (see `stage.rs`); the batch strides `b` above address this operand.
        staged_b: Option<Operand>,
    },
    /// Convolution: phases are images, items are groups.
    Conv(ConvGeo),
}

/// Element offsets of one item, and where its rows sit in the epilogue's space.
#[derive(Clone, Copy, Debug)]
pub(super) struct ItemOffsets {
    pub a: i64,
    pub b: i64,
    pub c: i64,
    /// The flat index over the epilogue's sliced-off leading dims.
    pub epi_item: usize,
    /// The item's first row in the epilogue's row dim.
    pub epi_row0: usize,
}

/// All of a plan's products.
///
/// Invariant: the accumulator of item `(phase, item)` is dense `[m, n]` at element
/// `item_offsets(..).c` of `c_arg`, and `c_arg` is read by neither operand.
#[derive(Clone, Debug)]
pub(super) struct Geometry {
    pub phases: usize,
    pub items: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Operand,
    pub b: Operand,
    pub c_arg: usize,
    pub alpha: f32,
    pub layout: Items,
    /// The epilogue's iteration space, and how many of its leading dims are sliced off per
    /// item (the remaining first dim is the row dim).
    pub out_shape: Vec<usize>,
    pub epi_batch_dims: usize,
}

/// Checks that arg `arg` exists and is f32.
pub(super) fn check_f32(arg: usize, arg_dtypes: &[DType], what: &str) -> Result<(), CodegenError> {
    match arg_dtypes.get(arg) {
        Some(DType::F32) => Ok(()),
        Some(d) => Err(CodegenError::Unsupported(format!(
            "{what} is {d}: contractions are f32 only"
        ))),
        None => Err(CodegenError::Unsupported(format!(
            "{what}: arg {arg} out of range"
        ))),
    }
}

/// The accumulator's arg: the first store of the epilogue.
pub(super) fn acc_arg(epilogue: &crate::kernel::Body) -> Result<usize, CodegenError> {
    epilogue
        .stores
        .first()
        .map(|s| s.arg)
        .ok_or_else(|| CodegenError::Unsupported("contraction epilogue stores nothing".into()))
}

impl Geometry {
    pub fn gemm(kernel: &GemmKernel, arg_dtypes: &[DType]) -> Result<Geometry, CodegenError> {
        let c_arg = acc_arg(&kernel.epilogue)?;
        check_f32(kernel.a.arg, arg_dtypes, "gemm operand a")?;
        check_f32(kernel.b.arg, arg_dtypes, "gemm operand b")?;
        check_f32(c_arg, arg_dtypes, "gemm accumulator")?;
        if c_arg == kernel.a.arg || c_arg == kernel.b.arg {
            return Err(CodegenError::Unsupported(
                "gemm accumulator aliases an operand".into(),
            ));
        }
        let nb = kernel.batch.len();
        if kernel.a.batch_strides.len() != nb || kernel.b.batch_strides.len() != nb {
            return Err(CodegenError::Unsupported(
                "gemm operand batch strides do not match the batch rank".into(),
            ));
        }
        let items = kernel.batch.iter().product();
        let out_shape = kernel
            .batch
            .iter()
            .copied()
            .chain([kernel.m, kernel.n])
            .collect();
        let op = |o: &crate::kernel::GemmOperand| Operand {
            src: Source::Arg(o.arg),
            offset: o.offset,
            rs: o.row_stride,
            cs: o.col_stride,
        };
        let (b, staged_b) = if super::stage::worth_staging(&op(&kernel.b), kernel.k, kernel.n) {
            let dense = Operand {
                src: Source::Scratch,
                offset: 0,
                rs: kernel.n as i64,
                cs: 1,
            };
            (dense, Some(op(&kernel.b)))
        } else {
            (op(&kernel.b), None)
        };
        Ok(Geometry {
            phases: 1,
            items,
            m: kernel.m,
            n: kernel.n,
            k: kernel.k,
            a: op(&kernel.a),
            b,
            c_arg,
            alpha: kernel.alpha,
            layout: Items::Batch {
                dims: kernel.batch.clone(),
                a: kernel.a.batch_strides.clone(),
                b: kernel.b.batch_strides.clone(),
                staged_b,
            },
            out_shape,
            epi_batch_dims: nb,
        })
    }

    pub fn conv(kernel: &ConvKernel, arg_dtypes: &[DType]) -> Result<Geometry, CodegenError> {
        let c_arg = acc_arg(&kernel.epilogue)?;
        check_f32(kernel.input, arg_dtypes, "conv input")?;
        check_f32(kernel.weight, arg_dtypes, "conv weight")?;
        check_f32(c_arg, arg_dtypes, "conv accumulator")?;
        if c_arg == kernel.input || c_arg == kernel.weight {
            return Err(CodegenError::Unsupported(
                "conv accumulator aliases an operand".into(),
            ));
        }
        let g = ConvGeo::new(kernel)?;
        let kdim = g.kdim() as i64;
        let s_out = g.s_out as i64;
        let b = if g.direct {
            Operand {
                src: Source::Arg(kernel.input),
                offset: 0,
                rs: g.s_in as i64,
                cs: 1,
            }
        } else {
            Operand {
                src: Source::Scratch,
                offset: 0,
                rs: s_out,
                cs: 1,
            }
        };
        let out_shape = [g.batch, g.c_out]
            .into_iter()
            .chain(g.out_spatial.iter().copied())
            .collect();
        Ok(Geometry {
            phases: g.batch,
            items: g.group,
            m: g.cout_g,
            n: g.s_out,
            k: g.kdim(),
            a: Operand {
                src: Source::Arg(kernel.weight),
                offset: 0,
                rs: kdim,
                cs: 1,
            },
            b,
            c_arg,
            alpha: 1.0,
            layout: Items::Conv(g),
            out_shape,
            epi_batch_dims: 1,
        })
    }

    /// Offsets of item `item` of phase `phase`.
    pub fn item_offsets(&self, phase: usize, item: usize) -> ItemOffsets {
        match &self.layout {
            Items::Batch { staged_b, .. } => {
                let (oa, ob) = self.batch_offsets(item);
                ItemOffsets {
                    a: oa,
                    b: match staged_b {
                        Some(_) => (item * self.k * self.n) as i64,
                        None => ob,
                    },
                    c: (item * self.m * self.n) as i64,
                    epi_item: item,
                    epi_row0: 0,
                }
            }
            Items::Conv(g) => {
                let b = if g.direct {
                    (phase * g.c_in + item * g.cin_g) * g.s_in
                } else {
                    item * g.kdim() * g.s_out
                };
                ItemOffsets {
                    a: (item * g.cout_g * g.kdim()) as i64,
                    b: b as i64,
                    c: ((phase * g.c_out + item * g.cout_g) * g.s_out) as i64,
                    epi_item: phase,
                    epi_row0: item * g.cout_g,
                }
            }
        }
    }

    /// The element offsets of item `item`'s `a` and `b` in their args (a batched contraction).
    pub fn batch_offsets(&self, item: usize) -> (i64, i64) {
        let Items::Batch { dims, a, b, .. } = &self.layout else {
            return (0, 0);
        };
        let (mut oa, mut ob, mut rest) = (0i64, 0i64, item);
        for d in (0..dims.len()).rev() {
            let i = (rest % dims[d].max(1)) as i64;
            rest /= dims[d].max(1);
            oa += a[d] * i;
            ob += b[d] * i;
        }
        (oa, ob)
    }

    /// Scratch floats a run needs.
    pub fn scratch_floats(&self) -> usize {
        match &self.layout {
            Items::Batch { staged_b: None, .. } => 0,
            Items::Batch {
                staged_b: Some(_), ..
            } => self.items * self.k * self.n,
            Items::Conv(g) => g.cols_floats(),
        }
    }

    /// Work done at the start of a phase: a convolution's im2col of image `phase`, or the
    /// staging of a contraction's `b`.
    ///
    /// # Safety
    /// As [`super::GemmPlan::run`].
    pub unsafe fn prepare_phase(
        &self,
        args: &[*mut u8],
        scratch: *mut u8,
        phase: usize,
        threads: usize,
        pool: &Pool,
    ) {
        match &self.layout {
            Items::Conv(g) if !g.direct => {
                // SAFETY: forwarded contract.
                unsafe { g.im2col(args, scratch as *mut f32, phase, threads, pool) };
            }
            Items::Batch {
                staged_b: Some(src),
                ..
            } => {
                // SAFETY: forwarded contract; scratch holds `items · k · n` floats.
                unsafe {
                    super::stage::stage_b(self, src, args, scratch as *mut f32, threads, pool)
                };
            }
            Items::Conv(_) | Items::Batch { .. } => {}
        }
    }
}
