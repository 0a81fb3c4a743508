//! `digamma(x) = ψ(x) = d/dx ln Γ(x)`, elementwise (TensorFlow's `tf.math.digamma`).
//!
//! VJP: `gx = gy * trigamma(x)`. Shape: `x`'s. Gradient checks (order 2, through `trigamma`'s
//! VJP `polygamma(x, 2)`): `x` uniform on [0.5, 2] and points on both sides of the series
//! threshold (10) and between negative poles.
//!
//! The kernel (`kernels::special::digamma`) shifts `x` up to at least 10 with
//! `ψ(x) = ψ(x + 1) - 1/x`, applies the asymptotic series there, and uses the reflection
//! `ψ(1-x) - ψ(x) = π cot(πx)` for `x <= 0`. Relative error ~1.5e-15 in `f64`, except next
//! to the zeros (≈ 1.4616 and one between each pair of negative poles), where it is ~1e-15
//! absolute. NaN at the poles (0, -1, -2, …), where the one-sided limits are ±inf.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::kernels::special;
use crate::ops::trigamma;
use crate::scalar::Scalar;

/// `ψ(x)`, the logarithmic derivative of `Γ`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Digamma;

impl<F: Scalar> UnaryElementwise<F> for Digamma {
    const NAME: &'static str = "digamma";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        special::digamma(x)
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * trigamma(x))
    }
}

/// `ψ(x)`, the logarithmic derivative of `Γ`, elementwise.
#[track_caller]
pub fn digamma<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Digamma), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    /// The Euler–Mascheroni constant γ = -ψ(1).
    const EULER_GAMMA: f64 = 0.5772156649015329;

    #[test]
    fn digamma_forward() {
        let (eg, ln2) = (EULER_GAMMA, std::f64::consts::LN_2);
        let harmonic = |n: u32| (1..=n).map(|k| 1.0 / k as f64).sum::<f64>();
        // ψ(1) = -γ; ψ(½) = -γ - 2 ln 2; ψ(n+1) = -γ + H_n; ψ(x+1) = ψ(x) + 1/x; by reflection
        // ψ(-½) = ψ(3/2) and ψ(-3/2) = ψ(5/2) (cot vanishes at half-integers); poles at 0 and -2.
        let x = [1.0, 0.5, 11.0, 100.0, -0.5, -1.5, 0.0, -2.0];
        let psi_half = -eg - 2.0 * ln2;
        let want = [
            -eg,
            psi_half,
            -eg + harmonic(10),
            -eg + harmonic(99),
            psi_half + 2.0,
            psi_half + 2.0 + 2.0 / 3.0,
            f64::NAN,
            f64::NAN,
        ];
        assert_forward(|g| digamma(g.constant_f64(&x, [8])), &want);
        let got = eval(|g| digamma(g.constant_f64(&x, [8])));
        for (k, (&a, &b)) in got.iter().zip(&want).enumerate().take(6) {
            assert!((a - b).abs() <= 2e-15 * b.abs().max(1.0), "digamma({}) = {a:e}, want {b:e}", x[k]);
        }
        // The constant named in the op's specification.
        assert_forward(|g| digamma(g.constant_f64(&[1.0], [1])), &[-0.5772156649015329]);
    }

    #[test]
    fn digamma_grad() {
        check_grads(|_, x| digamma(x[0]), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
        let x = vec![-2.7, -0.4, 0.05, 0.3, 1.5, 3.0, 9.9, 10.1, 25.0];
        check_grads(|_, x| digamma(x[0]), &[Spec::new([9]).values(x)], 2);
    }
}
