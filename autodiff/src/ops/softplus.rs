//! `softplus(x) = ln(1 + eˣ)`, elementwise.
//!
//! VJP: `gx = gy * sigmoid(x)`, one fused [`softplus_grad`](crate::ops::softplus_grad) pass. Shape: `x`'s. Gradient checks: standard normal inputs and a
//! few in the tails.
//!
//! Evaluated as `max(x, 0) + log1p(e^(-|x|))`: `exp` never overflows, so `softplus(1000) = 1000`
//! and `softplus(-1000) = 0`, and the negative tail (`≈ eˣ`) keeps its relative precision
//! ([`Scalar::softplus_v`], which vectorizes in `f32`).

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::softplus_grad;
use crate::scalar::Scalar;

/// `ln(1 + eˣ)`, elementwise, computed stably.
#[derive(Debug, Clone, Copy)]
pub struct Softplus;

impl<F: Scalar> UnaryElementwise<F> for Softplus {
    const NAME: &'static str = "softplus";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.softplus_v()
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(softplus_grad(x, gy))
    }
}

/// `ln(1 + eˣ)`, elementwise, computed stably.
#[track_caller]
pub fn softplus<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Softplus), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`softplus`](fn@softplus).
    #[track_caller]
    pub fn softplus(self) -> Self {
        softplus(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn softplus_forward() {
        // ln(1 + 1) = ln 2; ln(1 + 3) = ln 4; ln(1 + ⅓) = ln(4/3); the linear and vanishing ends.
        let ln3 = 3f64.ln();
        assert_forward(
            |g| softplus(g.constant_f64(&[0.0, ln3, -ln3, 1000.0, -1000.0], [5])),
            &[std::f64::consts::LN_2, 4f64.ln(), (4.0f64 / 3.0).ln(), 1000.0, 0.0],
        );
        // ln(1 + e⁻⁴⁰) = e⁻⁴⁰ (1 - e⁻⁴⁰/2 + …) at full relative precision.
        let got = eval(|g| g.constant_f64(&[-40.0], [1]).softplus())[0];
        assert!((got / (-40f64).exp() - 1.0).abs() <= 1e-15, "{got:e}");
    }

    #[test]
    fn softplus_grad() {
        check_grads(|_, x| softplus(x[0]), &[Spec::new([3, 2])], 2);
        check_grads(|_, x| softplus(x[0]), &[Spec::new([2]).values(vec![-8.0, 8.0])], 2);
    }
}
