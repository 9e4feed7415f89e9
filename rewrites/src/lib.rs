//! Equality saturation over the IR with `egg`: the rule families (algebra, sharing, low-rank,
//! Kronecker, Monarch, attention, FP8 scale propagation), the e-class analysis and extraction by
//! a target cost. Deterministic: it never measures time.
