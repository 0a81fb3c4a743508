//! `softplus(x) = ln(1 + eˣ)`, elementwise, and `softplus_low(x, low) = low + softplus(x)`.
//!
//! The shifted form is TFP's `Softplus(low=…)` bijector: a positive scale bounded away from
//! zero, `eps + softplus(ρ)`, which every mean-field weight computes on every step. Adding the
//! bound as the value is stored saves a pass over all the weights.
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

/// `low + ln(1 + eˣ)`, elementwise, computed stably (`low` is 0 for plain softplus).
#[derive(Debug, Clone, Copy)]
pub struct Softplus<F> {
    /// The lower bound added to every value.
    pub low: F,
}

impl<F: Scalar> UnaryElementwise<F> for Softplus<F> {
    const NAME: &'static str = "softplus";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.softplus_v() + self.low
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(softplus_grad(x, gy))
    }
}

/// `ln(1 + eˣ)`, elementwise, computed stably.
#[track_caller]
pub fn softplus<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    softplus_low(x, F::zero())
}

/// `low + ln(1 + eˣ)`, elementwise, in one pass (TFP's `Softplus(low=low)` bijector).
#[track_caller]
pub fn softplus_low<F: Scalar>(x: Tensor<'_, F>, low: F) -> Tensor<'_, F> {
    x.graph().apply(Unary(Softplus { low }), &[x])
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

    #[test]
    fn softplus_low_adds_the_bound_once() {
        // low + ln 2 at 0; the bound alone far in the negative tail, where softplus is e⁻¹⁰⁰⁰ = 0;
        // x + low far in the positive one.
        let low = 1e-3;
        assert_forward(
            |g| softplus_low(g.constant_f64(&[0.0, -1000.0, 1000.0], [3]), low),
            &[low + std::f64::consts::LN_2, low, 1000.0 + low],
        );
        // The bound leaves the gradient as it is: sigmoid(x), and its derivative to second order.
        check_grads(|_, x| softplus_low(x[0], 0.25), &[Spec::new([3, 2])], 2);
        // Equal to the two-node form it replaces, to the bit, in f32 at the f32 epsilon.
        let g = crate::Graph::<f32>::new();
        let xs: Vec<f32> = (-40..40).map(|i| i as f32 * 0.37).collect();
        let x = g.constant(xs, [80]);
        let plan = g.compile(&[softplus_low(x, f32::EPSILON), softplus(x) + f32::EPSILON]).unwrap();
        let opts = crate::SessionOptions { threads: Some(1), check_finite: false };
        let mut s = crate::Session::with_options(plan, 0, opts);
        let out = s.run(&crate::ParamStore::new(0), &[]).unwrap();
        assert_eq!(out.get(0), out.get(1));
    }
}
