//! The element type of a graph: `f32` or `f64`.
//!
//! `unsafe` here only declares and forwards matrixmultiply's raw GEMM entry points; the safe,
//! bounds-checked wrapper is `kernels::matmul`.
#![allow(unsafe_code)]

use std::fmt::{Debug, Display};
use std::iter::Sum;

use num_traits::{Float, FromPrimitive, ToPrimitive};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type. Sealed: implemented for `f32` and `f64` only, because the
/// kernels dispatch to type-specific GEMM routines.
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
