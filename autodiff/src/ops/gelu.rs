//! `gelu(x) = x Φ(x) = ½ x erfc(-x/√2)`, elementwise: the exact Gaussian error linear unit
//! (TensorFlow's `tf.nn.gelu` with its default `approximate=False`).
//!
//! VJP: `gx = gy * (Φ(x) + x φ(x))` with `Φ(x) = ½ erfc(-x/√2)` and
//! `φ(x) = exp(-x²/2)/√(2π)`, from `erfc`, `exp` and `square` so it differentiates again (and
//! keeps its relative precision in the lower tail, where `Φ` is a part of the sum).
//! Shape: `x`'s. Gradient checks: standard normal inputs and a few in the tails.
//!
//! The forward pass uses `erfc(-x/√2)` rather than `1 + erf(x/√2)`, which loses relative
//! precision as `x` decreases and cancels to exactly 0 below `x ≈ -8.4`, while the true value
//! is still a normal number (`gelu(-10) ≈ -7.6e-23`).

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::kernels::special;
use crate::ops::{erfc, exp, square};
use crate::scalar::Scalar;

/// `x Φ(x)` with `Φ` the standard normal CDF, elementwise (exact, not the tanh approximation).
#[derive(Debug, Clone, Copy)]
pub struct Gelu;

impl<F: Scalar> UnaryElementwise<F> for Gelu {
    const NAME: &'static str = "gelu";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        F::of(0.5) * x * special::erfc(-x * F::of(FRAC_1_SQRT_2))
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        let cdf = erfc(x * F::of(-FRAC_1_SQRT_2)) * F::of(0.5);
        // 1/√(2π) = (1/√2) (2/√π) / 2.
        let pdf = exp(square(x) * F::of(-0.5)) * F::of(FRAC_1_SQRT_2 * FRAC_2_SQRT_PI * 0.5);
        Some(gy * (cdf + x * pdf))
    }
}

/// `x Φ(x)` with `Φ` the standard normal CDF, elementwise (exact, not the tanh approximation).
#[track_caller]
pub fn gelu<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Gelu), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn gelu_forward() {
        // x Φ(x) with Φ(0) = ½, Φ(1) = 0.8413447460685429 and Φ(-1) = 1 - Φ(1) (standard normal
        // table values); Φ(40) = 1 and 40 Φ(-40) is below the smallest subnormal.
        assert_forward(
            |g| gelu(g.constant_f64(&[0.0, 1.0, -1.0, 40.0, -40.0, 1000.0], [6])),
            &[0.0, 0.8413447460685429, -0.15865525393145705, 40.0, 0.0, 1000.0],
        );
        // Φ(-10) = 7.619853024160526e-24: the tail keeps its relative precision.
        let got = eval(|g| gelu(g.constant_f64(&[-10.0], [1])))[0];
        assert!((got / -7.619853024160526e-23 - 1.0).abs() <= 1e-14, "{got:e}");
    }

    #[test]
    fn gelu_grad() {
        check_grads(|_, x| gelu(x[0]), &[Spec::new([3, 2])], 2);
        check_grads(|_, x| gelu(x[0]), &[Spec::new([4]).values(vec![-5.0, -2.5, 2.5, 5.0])], 2);
    }

    #[test]
    fn gelu_grad_keeps_relative_precision_in_the_lower_tail() {
        // Φ(x) + x φ(x) (mpmath, 40 digits): Φ is ~1/x² of the sum, so a Φ computed as
        // ½(1 + erf(x/√2)), which is 0 from x ≈ −8.3, would be 1% off at x = −10.
        let x = [-6.0, -8.5, -10.0];
        let want = [-3.5468709453902015e-8, -6.846504938697084e-16, -7.618400096464814e-22];
        let got = eval(|g| {
            let x = g.constant_f64(&x, [3]);
            crate::grad(gelu(x).sum_all(), &[x])[0]
        });
        for k in 0..3 {
            assert!((got[k] / want[k] - 1.0).abs() < 1e-13, "gelu'({}) = {:e}, want {:e}", x[k], got[k], want[k]);
        }
    }
}
