//! `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`, elementwise.
//!
//! VJP: `gx = gy * 2/√π * exp(-x²)`. Shape: `x`'s. Gradient checks: standard normal inputs and
//! points in each of the kernel's three ranges.
//!
//! The kernel is W. J. Cody's rational Chebyshev approximation (`kernels::special::erf`), within
//! 3 ulps in `f64`; `erf(±inf) = ±1`.

use std::f64::consts::FRAC_2_SQRT_PI;

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::kernels::special;
use crate::ops::{exp, neg, square};
use crate::scalar::Scalar;

/// The error function, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Erf;

impl<F: Scalar> UnaryElementwise<F> for Erf {
    const NAME: &'static str = "erf";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        special::erf(x)
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * exp(neg(square(x))) * F::of(FRAC_2_SQRT_PI))
    }
}

/// The error function, elementwise.
#[track_caller]
pub fn erf<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Erf), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn erf_forward() {
        // Reference values (30-digit evaluation rounded to f64) in all three ranges of the kernel
        // (|x| <= 0.46875, <= 4, > 4); erf(30) rounds to 1.
        let x = [0.5, 1.0, -2.0, 0.1, 3.0, 5.0, 0.0, 30.0, f64::INFINITY, f64::NEG_INFINITY];
        let want = [
            0.5204998778130465,
            0.8427007929497149,
            -0.9953222650189527,
            0.1124629160182849,
            0.9999779095030014,
            0.9999999999984626,
            0.0,
            1.0,
            1.0,
            -1.0,
        ];
        assert_forward(|g| erf(g.constant_f64(&x, [10])), &want);
        let got = eval(|g| erf(g.constant_f64(&x, [10])));
        for (k, (&a, &b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 2.5e-16 * b.abs(), "erf({}) = {a:e}, want {b:e}", x[k]);
        }
    }

    #[test]
    fn erf_grad() {
        check_grads(|_, x| erf(x[0]), &[Spec::new([3, 2])], 2);
        let x = vec![-4.5, -3.0, -0.3, 0.2, 0.46, 0.5, 2.5, 4.2];
        check_grads(|_, x| erf(x[0]), &[Spec::new([8]).values(x)], 2);
    }
}
