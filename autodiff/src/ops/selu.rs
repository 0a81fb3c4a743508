//! `selu(x) = scale * x` for `x > 0`, `scale * alpha (eˣ - 1)` otherwise, elementwise, with
//! Klambauer et al.'s `alpha ≈ 1.6733` and `scale ≈ 1.0507` (TensorFlow's `tf.nn.selu`).
//!
//! VJP: `gx = scale gy` for `x > 0`, `gy * (y + scale alpha)` otherwise (from the output).
//! Shape: `x`'s. Gradient checks: standard normal inputs at least 0.1 away from the kink at 0.
//!
//! Uses `expm1`; tends to `-scale alpha` without overflow as `x → -inf`.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::{greater, select};
use crate::scalar::Scalar;

// Klambauer et al. (2017), "Self-normalizing neural networks"; the values TensorFlow uses.
const SELU_ALPHA: f64 = 1.6732632423543772;
const SELU_SCALE: f64 = 1.0507009873554805;

/// Scaled exponential linear unit, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Selu;

impl<F: Scalar> UnaryElementwise<F> for Selu {
    const NAME: &'static str = "selu";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        if x > F::zero() {
            F::of(SELU_SCALE) * x
        } else {
            F::of(SELU_SCALE * SELU_ALPHA) * x.exp_m1_v()
        }
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        let positive = greater(x, x.scalar(0.0));
        Some(select(positive, gy * F::of(SELU_SCALE), gy * (y + F::of(SELU_SCALE * SELU_ALPHA))))
    }
}

/// Scaled exponential linear unit, elementwise.
#[track_caller]
pub fn selu<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Selu), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn selu_forward() {
        let (a, s) = (SELU_ALPHA, SELU_SCALE);
        // scale at 1, scale alpha (e⁻¹ - 1) at -1, -scale alpha at -1000.
        assert_forward(
            |g| selu(g.constant_f64(&[1.0, -1.0, 0.0, -1000.0], [4])),
            &[s, s * a * (1.0 / std::f64::consts::E - 1.0), 0.0, -s * a],
        );
    }

    #[test]
    fn selu_grad() {
        check_grads(|_, x| selu(x[0]), &[Spec::new([3, 2]).domain(Domain::AwayFrom(0.0, 0.1))], 2);
    }
}
