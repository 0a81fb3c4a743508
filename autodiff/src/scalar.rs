//! The element type of a graph: `f32` or `f64`.
//!
//! `unsafe` here only declares and forwards matrixmultiply's raw GEMM entry points; the safe,
//! bounds-checked wrapper is `kernels::matmul`.
#![allow(unsafe_code)]

use std::fmt::{Debug, Display};
use std::iter::Sum;

use num_traits::{Float, FromPrimitive, ToPrimitive};

use crate::kernels::fastmath;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type. Sealed: implemented for `f32` and `f64` only, because the
/// kernels dispatch to type-specific GEMM routines and elementwise math.
pub trait Scalar:
    Float + FromPrimitive + ToPrimitive + Default + Debug + Display + Sum + Send + Sync + 'static + sealed::Sealed
{
    /// `"f32"` or `"f64"`, used in error messages and checkpoint headers.
    const NAME: &'static str;
    /// Machine epsilon, the smallest `e` with `1 + e != 1` (TFP's `np.finfo(dtype).eps`).
    const EPS: Self;

    /// Converts an `f64` constant. Constants in kernels are written as `f64` literals.
    #[inline(always)]
    fn of(x: f64) -> Self {
        <Self as FromPrimitive>::from_f64(x).expect("invariant: f64 converts to every Scalar")
    }

    /// Converts to `f64` (lossless for both implementors).
    #[inline(always)]
    fn to_f64_lossless(self) -> f64 {
        ToPrimitive::to_f64(&self).expect("invariant: every Scalar converts to f64")
    }

    // Elementwise math for kernels. The `_v` ("vectorizable") methods are what forward kernels
    // call in their loops: for `f32` they are the branch-free polynomials of
    // `kernels::fastmath` (within about 1 ulp), which inline and vectorize where libm's `expf`
    // and `logf` are opaque scalar calls; for `f64` they are std's functions, so gradient checks
    // compare against libm's values.

    /// `eˣ`.
    fn exp_v(self) -> Self;
    /// `eˣ - 1`, accurate near 0.
    fn exp_m1_v(self) -> Self;
    /// `ln x`.
    fn ln_v(self) -> Self;
    /// `ln(1 + x)`, accurate near 0.
    fn ln_1p_v(self) -> Self;
    /// `tanh x`.
    fn tanh_v(self) -> Self;

    /// The logistic sigmoid `1/(1 + e⁻ˣ)`, as `e/(1 + e)` below 0 with `e = exp(-|x|)`, so it
    /// neither overflows nor loses the relative precision of its tail.
    fn sigmoid_v(self) -> Self;
    /// softplus `ln(1 + eˣ)`, as `max(x, 0) + ln(1 + e^(-|x|))` so that `exp` never overflows
    /// and the negative tail (`≈ eˣ`) keeps its relative precision.
    fn softplus_v(self) -> Self;
    /// `self * a + b`, rounded once where the target has FMA (the hardware instruction), and as
    /// a multiply and an add otherwise (where `mul_add` would be a slow library call).
    #[inline(always)]
    fn mul_add_v(self, a: Self, b: Self) -> Self {
        #[cfg(target_feature = "fma")]
        {
            self.mul_add(a, b)
        }
        #[cfg(not(target_feature = "fma"))]
        {
            self * a + b
        }
    }

    /// General matrix multiply `C = alpha * A @ B + beta * C` with arbitrary strides.
    ///
    /// # Safety
    /// Pointers and strides must describe valid, non-overlapping (for `c`) memory regions of
    /// sizes `m×k`, `k×n` and `m×n`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";
    const EPS: Self = f32::EPSILON;
    #[inline(always)]
    fn exp_v(self) -> Self {
        fastmath::exp(self)
    }
    #[inline(always)]
    fn exp_m1_v(self) -> Self {
        fastmath::exp_m1(self)
    }
    #[inline(always)]
    fn ln_v(self) -> Self {
        fastmath::ln(self)
    }
    #[inline(always)]
    fn ln_1p_v(self) -> Self {
        fastmath::ln_1p(self)
    }
    #[inline(always)]
    fn tanh_v(self) -> Self {
        fastmath::tanh(self)
    }
    #[inline(always)]
    fn sigmoid_v(self) -> Self {
        fastmath::sigmoid(self)
    }
    #[inline(always)]
    fn softplus_v(self) -> Self {
        fastmath::softplus(self)
    }
    #[allow(unsafe_code)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded contract of `gemm_raw`.
        unsafe { matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";
    const EPS: Self = f64::EPSILON;
    #[inline(always)]
    fn exp_v(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn exp_m1_v(self) -> Self {
        self.exp_m1()
    }
    #[inline(always)]
    fn ln_v(self) -> Self {
        self.ln()
    }
    #[inline(always)]
    fn ln_1p_v(self) -> Self {
        self.ln_1p()
    }
    #[inline(always)]
    fn tanh_v(self) -> Self {
        self.tanh()
    }
    #[inline(always)]
    fn sigmoid_v(self) -> Self {
        let e = (-self.abs()).exp();
        let num = if self >= 0.0 { 1.0 } else { e };
        num / (1.0 + e)
    }
    #[inline(always)]
    fn softplus_v(self) -> Self {
        let pos = if self > 0.0 { self } else { 0.0 };
        pos + (-self.abs()).exp().ln_1p()
    }
    #[allow(unsafe_code)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded contract of `gemm_raw`.
        unsafe { matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}
