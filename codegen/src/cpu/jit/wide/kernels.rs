//! The loops and functions of the wide helpers, written once over a vector type: each width's
//! module (`avx512.rs`, `avx2.rs`) defines `V` and the primitive wrappers (`splat`, `load`,
//! `store`, `add`, `sub`, `mul`, `div`, `fma`, `vmax`, `abs`, `copysign`, `lt_select`, `hsum`,
//! `hmax`) and its own `exp`, then invokes `wide_kernels!`.

/// The row max and exp sum, tanh, erf and sigmoid on top of the module's `exp`, and the
/// in-place unary loop: `$lanes` elements a step, tails padded in a stack copy (-inf for the
/// row statistics: a zero term, and neutral for the max).
macro_rules! wide_kernels {
    ($feature:literal, $lanes:literal) => {
        /// # Safety
        /// `p` is valid for reads of `n` f32.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn max(p: *const f32, n: usize) -> f32 {
            let (mut a, mut b) = (splat(f32::NEG_INFINITY), splat(f32::NEG_INFINITY));
            let mut i = 0;
            while i + 2 * $lanes <= n {
                // SAFETY: i + 2·lanes ≤ n.
                a = vmax(a, unsafe { load(p.add(i)) });
                b = vmax(b, unsafe { load(p.add(i + $lanes)) });
                i += 2 * $lanes;
            }
            if i + $lanes <= n {
                a = vmax(a, unsafe { load(p.add(i)) });
                i += $lanes;
            }
            if i < n {
                let mut pad = [f32::NEG_INFINITY; $lanes];
                // SAFETY: n - i < lanes elements remain.
                unsafe { std::ptr::copy_nonoverlapping(p.add(i), pad.as_mut_ptr(), n - i) };
                b = vmax(b, unsafe { load(pad.as_ptr()) });
            }
            hmax(vmax(a, b))
        }

        /// # Safety
        /// `src` readable and `dst` (if not null) writable for `n` f32; equal or disjoint.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn exp_sum(src: *const f32, dst: *mut f32, n: usize, shift: f32) -> f32 {
            let sh = splat(shift);
            let (mut a, mut b) = (splat(0.0), splat(0.0));
            let mut i = 0;
            while i + 2 * $lanes <= n {
                // SAFETY: i + 2·lanes ≤ n.
                let e0 = exp(sub(unsafe { load(src.add(i)) }, sh));
                let e1 = exp(sub(unsafe { load(src.add(i + $lanes)) }, sh));
                if !dst.is_null() {
                    unsafe {
                        store(dst.add(i), e0);
                        store(dst.add(i + $lanes), e1);
                    }
                }
                a = add(a, e0);
                b = add(b, e1);
                i += 2 * $lanes;
            }
            while i < n {
                let rest = (n - i).min($lanes);
                let mut pad = [f32::NEG_INFINITY; $lanes];
                // SAFETY: `rest` elements remain from i.
                unsafe { std::ptr::copy_nonoverlapping(src.add(i), pad.as_mut_ptr(), rest) };
                let e = exp(sub(unsafe { load(pad.as_ptr()) }, sh));
                if !dst.is_null() {
                    unsafe {
                        store(pad.as_mut_ptr(), e);
                        std::ptr::copy_nonoverlapping(pad.as_ptr(), dst.add(i), rest);
                    }
                }
                // Pad lanes hold e^(-inf - shift) = 0 unless shift is -inf or NaN, when every
                // real term is NaN too.
                a = add(a, e);
                i += rest;
            }
            hsum(add(a, b))
        }

        /// tanh per lane: [`math::tanh`]'s steps.
        #[target_feature(enable = $feature)]
        fn tanh(x: V) -> V {
            let a = abs(x);
            let z = mul(x, x);
            let mut p = splat(TANH_POLY[0]);
            for &k in &TANH_POLY[1..] {
                p = fma(p, z, splat(k));
            }
            let small = fma(mul(p, z), x, x);
            let e = exp(add(a, a));
            let q = div(splat(2.0), add(e, splat(1.0)));
            let large = copysign(sub(splat(1.0), q), x);
            lt_select(a, splat(TANH_SMALL), small, large)
        }

        /// erf per lane: [`math::erf`]'s steps.
        #[target_feature(enable = $feature)]
        fn erf(x: V) -> V {
            let a = abs(x);
            let z = mul(x, x);
            let mut p = splat(ERF_TAYLOR[0]);
            for &k in &ERF_TAYLOR[1..] {
                p = fma(p, z, splat(k));
            }
            let small = mul(p, x);
            let one = splat(1.0);
            let t = div(one, fma(a, splat(ERF_P), one));
            let mut q = splat(ERF_Q[0]);
            for &k in &ERF_Q[1..] {
                q = fma(q, t, splat(k));
            }
            let g = exp(sub(splat(0.0), z));
            let large = copysign(sub(one, mul(mul(q, t), g)), x);
            lt_select(a, splat(ERF_SMALL), small, large)
        }

        /// 1 / (1 + e^-x) per lane.
        #[target_feature(enable = $feature)]
        fn sigmoid(x: V) -> V {
            let one = splat(1.0);
            div(one, add(exp(sub(splat(0.0), x)), one))
        }

        #[target_feature(enable = $feature)]
        fn apply(f: WideFn, x: V) -> V {
            match f {
                WideFn::Exp => exp(x),
                WideFn::Tanh => tanh(x),
                WideFn::Erf => erf(x),
                WideFn::Sigmoid => sigmoid(x),
            }
        }

        /// `p[i] = f(p[i])` for `i < n`.
        ///
        /// # Safety
        /// `p` is valid for reads and writes of `n` f32.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn unary(f: WideFn, p: *mut f32, n: usize) {
            let mut i = 0;
            while i + $lanes <= n {
                // SAFETY: i + lanes ≤ n.
                unsafe { store(p.add(i), apply(f, load(p.add(i)))) };
                i += $lanes;
            }
            if i < n {
                let rest = n - i;
                let mut pad = [0.0f32; $lanes];
                // SAFETY: `rest` elements remain from i; pad lanes are computed and dropped.
                unsafe {
                    std::ptr::copy_nonoverlapping(p.add(i), pad.as_mut_ptr(), rest);
                    store(pad.as_mut_ptr(), apply(f, load(pad.as_ptr())));
                    std::ptr::copy_nonoverlapping(pad.as_ptr(), p.add(i), rest);
                }
            }
        }
    };
}
