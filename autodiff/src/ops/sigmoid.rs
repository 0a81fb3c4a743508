//! `sigmoid(x) = 1 / (1 + e⁻ˣ)`, elementwise.
//!
//! VJP: `gx = gy * y * (1 - y)` (from the output). Shape: `x`'s. Gradient checks: standard
//! normal inputs and a few in the tails.
//!
//! Evaluated as `1/(1 + e)` for `x >= 0` and `e/(1 + e)` for `x < 0` with `e = e^(-|x|)`, so
//! `exp` never overflows: `sigmoid(-1000) = 0` and `sigmoid(1000) = 1` without NaN, and the
//! negative tail keeps its relative precision ([`Scalar::sigmoid_v`], which vectorizes in `f32`).

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// The logistic function `1 / (1 + e⁻ˣ)`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Sigmoid;

impl<F: Scalar> UnaryElementwise<F> for Sigmoid {
    const NAME: &'static str = "sigmoid";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.sigmoid_v()
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * y * (y.scalar(1.0) - y))
    }
}

/// The logistic function `1 / (1 + e⁻ˣ)`, elementwise.
#[track_caller]
pub fn sigmoid<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Sigmoid), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`sigmoid`](fn@sigmoid).
    #[track_caller]
    pub fn sigmoid(self) -> Self {
        sigmoid(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sigmoid_forward() {
        // σ(0) = ½, σ(ln 3) = 1/(1 + ⅓) = ¾, σ(-ln 3) = ¼, and the saturated ends.
        let ln3 = 3f64.ln();
        assert_forward(
            |g| sigmoid(g.constant_f64(&[0.0, ln3, -ln3, 1000.0, -1000.0], [5])),
            &[0.5, 0.75, 0.25, 1.0, 0.0],
        );
        // σ(-40) = e⁻⁴⁰ / (1 + e⁻⁴⁰) at full relative precision.
        let got = eval(|g| g.constant_f64(&[-40.0], [1]).sigmoid())[0];
        let e = (-40f64).exp();
        assert!((got / (e / (1.0 + e)) - 1.0).abs() <= 1e-15, "{got:e}");
    }

    #[test]
    fn sigmoid_grad() {
        check_grads(|_, x| sigmoid(x[0]), &[Spec::new([3, 2])], 2);
        check_grads(|_, x| sigmoid(x[0]), &[Spec::new([2]).values(vec![-8.0, 8.0])], 2);
    }
}
