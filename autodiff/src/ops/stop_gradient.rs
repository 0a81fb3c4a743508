//! `stop_gradient(x) = x`, elementwise, treated as a constant by differentiation (TensorFlow's
//! `tf.stop_gradient`).
//!
//! VJP: none. Shape: `x`'s. Tests compare gradients with closed forms rather than finite
//! differences, which see the identity.

// no-gradient: its purpose is to block gradients.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// The identity in the forward pass, a constant to the gradient.
#[derive(Debug, Clone, Copy)]
pub struct StopGradient;

impl<F: Scalar> UnaryElementwise<F> for StopGradient {
    const NAME: &'static str = "stop_gradient";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, _y: Tensor<'g, F>, _gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        None
    }
}

/// The identity in the forward pass, a constant to the gradient.
#[track_caller]
pub fn stop_gradient<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(StopGradient), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    use crate::grad;

    #[test]
    fn stop_gradient_forward() {
        assert_forward(|g| stop_gradient(g.constant_f64(&[1.5, -2.0], [2])), &[1.5, -2.0]);
    }

    #[test]
    fn stop_gradient_has_no_grad() {
        // d/dx Σ stop_gradient(x) = 0, and d/dx Σ x stop_gradient(x) = stop_gradient(x) = x.
        let v = [1.5, -2.0, 0.25];
        assert_forward(
            |g| {
                let x = g.constant_f64(&v, [3]);
                grad(stop_gradient(x).sum_all(), &[x])[0]
            },
            &[0.0, 0.0, 0.0],
        );
        assert_forward(
            |g| {
                let x = g.constant_f64(&v, [3]);
                grad((x * stop_gradient(x)).sum_all(), &[x])[0]
            },
            &v,
        );
    }
}
