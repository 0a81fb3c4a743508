//! `elu(x, alpha) = x` for `x > 0`, `alpha (eˣ - 1)` otherwise, elementwise. TensorFlow's
//! `tf.nn.elu` is `alpha = 1` (also Keras' default).
//!
//! VJP: `gx = gy` for `x > 0`, `gy * (y + alpha)` otherwise (`= gy * alpha eˣ`, from the output).
//! Shape: `x`'s. Gradient checks: standard normal inputs at least 0.1 away from 0, where the
//! derivative jumps unless `alpha = 1` and the second derivative jumps always.
//!
//! Uses `expm1` so small negative inputs keep their relative precision; tends to `-alpha`
//! without overflow as `x → -inf`.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::{greater, select};
use crate::scalar::Scalar;

/// The exponential linear unit.
#[derive(Debug, Clone, Copy)]
pub struct Elu {
    /// The scale of the negative part (TensorFlow: 1).
    pub alpha: f64,
}

impl<F: Scalar> UnaryElementwise<F> for Elu {
    const NAME: &'static str = "elu";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        if x > F::zero() {
            x
        } else {
            F::of(self.alpha) * x.exp_m1_v()
        }
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        let positive = greater(x, x.scalar(0.0));
        Some(select(positive, gy, gy * (y + F::of(self.alpha))))
    }
}

/// `x` for `x > 0`, else `alpha (eˣ - 1)`, elementwise (TensorFlow's default is
/// `alpha = 1`).
#[track_caller]
pub fn elu<F: Scalar>(x: Tensor<'_, F>, alpha: f64) -> Tensor<'_, F> {
    x.graph().apply(Unary(Elu { alpha }), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn elu_forward() {
        // alpha (e⁻¹ - 1) at -1; alpha (e⁻¹⁰⁰⁰ - 1) = -alpha at -1000.
        let e1 = 1.0 / std::f64::consts::E - 1.0;
        assert_forward(|g| elu(g.constant_f64(&[-1.0, 0.0, 2.0, -1000.0], [4]), 1.0), &[e1, 0.0, 2.0, -1.0]);
        assert_forward(|g| elu(g.constant_f64(&[-1.0, -1000.0, 0.5], [3]), 0.5), &[0.5 * e1, -0.5, 0.5]);
    }

    #[test]
    fn elu_grad() {
        let spec = [Spec::new([3, 2]).domain(Domain::AwayFrom(0.0, 0.1))];
        check_grads(|_, x| elu(x[0], 1.0), &spec, 2);
        check_grads(|_, x| elu(x[0], 0.5), &spec, 2);
    }
}
