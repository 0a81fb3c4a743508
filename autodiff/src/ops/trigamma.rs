//! `trigamma(x) = ψ₁(x) = d²/dx² ln Γ(x)`, elementwise (TensorFlow's `tf.math.polygamma(1, x)`).
//!
//! VJP: `gx = gy * polygamma(x, 2)` (the tetragamma function `ψ₂`, which differentiates again
//! through higher orders of `polygamma`). Shape: `x`'s. Gradient checks (order 2): `x` uniform
//! on [0.5, 2], and points on both sides of the series threshold (10) and between negative
//! poles (`lgamma`'s tests check its third derivative, `ψ₂`, against a closed form).
//!
//! The kernel (`kernels::special::trigamma`) shifts `x` up to at least 10 with
//! `ψ₁(x) = ψ₁(x + 1) + 1/x²`, applies the asymptotic series there, and uses the reflection
//! `ψ₁(1-x) + ψ₁(x) = π² / sin²(πx)` for `x <= 0`. Relative error below 1e-15 in `f64`;
//! `+inf` at the poles (0, -1, -2, …).

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::kernels::special;
use crate::ops::polygamma;
use crate::scalar::Scalar;

/// `ψ₁(x)`, the derivative of the digamma function, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Trigamma;

impl<F: Scalar> UnaryElementwise<F> for Trigamma {
    const NAME: &'static str = "trigamma";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        special::trigamma(x)
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * polygamma(x, 2))
    }
}

/// `ψ₁(x)`, the derivative of the digamma function, elementwise.
#[track_caller]
pub fn trigamma<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Trigamma), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    use crate::grad;

    #[test]
    fn trigamma_forward() {
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        let zeta2_partial = |n: u32| (1..=n).map(|k| 1.0 / (k as f64 * k as f64)).sum::<f64>();
        // ψ₁(1) = π²/6; ψ₁(½) = π²/2; ψ₁(x+1) = ψ₁(x) - 1/x²; by reflection
        // ψ₁(-½) = π² - ψ₁(3/2) = π²/2 + 4; ψ₁(25) = π²/6 - Σ_{k=1}^{24} 1/k²; pole at 0.
        let x = [1.0, 0.5, 2.0, -0.5, 25.0, 0.0];
        let want =
            [pi2 / 6.0, pi2 / 2.0, pi2 / 6.0 - 1.0, pi2 / 2.0 + 4.0, pi2 / 6.0 - zeta2_partial(24), f64::INFINITY];
        assert_forward(|g| trigamma(g.constant_f64(&x, [6])), &want);
        let got = eval(|g| trigamma(g.constant_f64(&x, [6])));
        for (k, (&a, &b)) in got.iter().zip(&want).enumerate() {
            // 1e-14: the reference for ψ₁(25) itself loses a digit to cancellation.
            assert!(a == b || (a - b).abs() <= 1e-14 * b.abs(), "trigamma({}) = {a:e}, want {b:e}", x[k]);
        }
    }

    #[test]
    fn trigamma_grad() {
        check_grads(|_, x| trigamma(x[0]), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
        let x = vec![-2.7, -0.4, 0.3, 1.5, 3.0, 9.9, 10.1, 25.0];
        check_grads(|_, x| trigamma(x[0]), &[Spec::new([8]).values(x)], 2);
    }

    #[test]
    fn trigamma_grad_is_tetragamma() {
        // d/dx ψ₁(x) = ψ₂(x): ψ₂(1) = -2ζ(3), ψ₂(½) = -14ζ(3) (ζ(3) = 1.2020569031595942854…).
        // d/dx x ψ₁(x) = ψ₁(x) + x ψ₂(x): at ½, π²/2 - 7ζ(3); at 1, π²/6 - 2ζ(3).
        let zeta3 = 1.202_056_903_159_594_2;
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 0.5], [2]);
                grad(trigamma(x).sum_all(), &[x])[0]
            },
            &[-2.0 * zeta3, -14.0 * zeta3],
        );
        assert_forward(
            |g| {
                let x = g.constant_f64(&[0.5, 1.0], [2]);
                grad((x * trigamma(x)).sum_all(), &[x])[0]
            },
            &[pi2 / 2.0 - 7.0 * zeta3, pi2 / 6.0 - 2.0 * zeta3],
        );
    }
}
