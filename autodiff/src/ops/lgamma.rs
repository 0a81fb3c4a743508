//! `lgamma(x) = ln |Γ(x)|`, elementwise (TensorFlow's `tf.math.lgamma`).
//!
//! VJP: `gx = gy * digamma(x)`; derivatives of every order follow through `trigamma` and
//! `polygamma`. Shape: `x`'s. Gradient checks (order 2, through `digamma`'s VJP `trigamma`):
//! `x` uniform on [0.5, 2], and points on both sides of the series threshold (10) and between the
//! negative poles; the third and fourth derivatives are checked against closed forms.
//!
//! The kernel (`kernels::special::lgamma`) shifts `x` up to at least 10 with
//! `ln Γ(x) = ln Γ(x + n) - ln(x (x+1) … (x+n-1))`, applies Stirling's series there, and uses the
//! reflection `Γ(x) Γ(1-x) = π / sin(πx)` for `x < 0`. Relative error below 1e-14 in `f64`,
//! except next to the zeros (1, 2, and between negative poles), where it is ~4e-15 absolute.
//! `+inf` at the poles (0, -1, -2, …) and at ±inf.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::kernels::special;
use crate::ops::digamma;
use crate::scalar::Scalar;

/// `ln |Γ(x)|`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Lgamma;

impl<F: Scalar> UnaryElementwise<F> for Lgamma {
    const NAME: &'static str = "lgamma";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        special::lgamma(x)
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * digamma(x))
    }
}

/// `ln |Γ(x)|`, elementwise.
#[track_caller]
pub fn lgamma<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Lgamma), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn lgamma_forward() {
        let pi = std::f64::consts::PI;
        let ln_factorial = |n: u32| (1..=n).map(|k| (k as f64).ln()).sum::<f64>();
        // ln Γ(½) = ln √π; ln Γ(1) = ln Γ(2) = 0; ln Γ(n) = ln (n-1)!; Γ(-½) = -2√π and
        // Γ(-5/2) = Γ(½) / ((-½)(-3/2)(-5/2)) = -8√π/15; poles at 0 and -1.
        let x = [0.5, 1.0, 2.0, 10.0, 100.0, -0.5, -2.5, 0.0, -1.0];
        let want = [
            pi.sqrt().ln(),
            0.0,
            0.0,
            362880f64.ln(),
            ln_factorial(99),
            (2.0 * pi.sqrt()).ln(),
            (8.0 * pi.sqrt() / 15.0).ln(),
            f64::INFINITY,
            f64::INFINITY,
        ];
        assert_forward(|g| lgamma(g.constant_f64(&x, [9])), &want);
        let got = eval(|g| lgamma(g.constant_f64(&x, [9])));
        for (k, (&a, &b)) in got.iter().zip(&want).enumerate() {
            assert!(a == b || (a - b).abs() <= 2e-15 * b.abs().max(1.0), "lgamma({}) = {a:e}, want {b:e}", x[k]);
        }
        // The constants named in the op's specification.
        assert_forward(|g| lgamma(g.constant_f64(&[0.5, 10.0], [2])), &[0.5723649429247001, 12.801827480081469]);
    }

    #[test]
    fn lgamma_grad() {
        check_grads(|_, x| lgamma(x[0]), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
        let x = vec![-2.7, -0.4, 0.05, 0.3, 1.5, 3.0, 9.9, 10.1, 25.0];
        check_grads(|_, x| lgamma(x[0]), &[Spec::new([9]).values(x)], 2);
    }

    #[test]
    fn lgamma_higher_derivatives() {
        // dᵏ/dxᵏ ln Γ(x) = ψₖ₋₁(x). At 3/2 (with ζ(3) = 1.2020569031595942854…):
        // third: ψ₂(3/2) = ψ₂(½) + 2/(½)³ = -14ζ(3) + 16 = -0.828796644234320 (ψ₂(x+1) = ψ₂(x) + 2/x³);
        // fourth: ψ₃(3/2) = ψ₃(½) - 6/(½)⁴ = π⁴ - 96, as ψ₃(½) = 6·(2⁴ - 1)ζ(4) = π⁴.
        fn d<'g>(y: Tensor<'g, f64>, x: Tensor<'g, f64>) -> Tensor<'g, f64> {
            crate::grad(y.sum_all(), &[x])[0]
        }
        let zeta3 = 1.202_056_903_159_594_2;
        let third = 16.0 - 14.0 * zeta3;
        let fourth = std::f64::consts::PI.powi(4) - 96.0;
        let got = eval(|g| {
            let x = g.constant_f64(&[1.5], [1]);
            d(d(d(lgamma(x), x), x), x)
        });
        assert!((got[0] - third).abs() <= 4e-15 * third.abs(), "{got:?} vs {third}");
        // The constant named in the specification.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.5], [1]);
                d(d(d(lgamma(x), x), x), x)
            },
            &[-0.828796644234320],
        );
        let got = eval(|g| {
            let x = g.constant_f64(&[1.5], [1]);
            d(d(d(d(lgamma(x), x), x), x), x)
        });
        // π⁴ ≈ 97.4 is rounded (with π) to ~3e-14 absolute, which π⁴ - 96 keeps.
        assert!((got[0] - fourth).abs() <= 5e-14, "{got:?} vs {fourth}");
    }
}
