//! `leaky_relu(x, alpha) = x` for `x > 0`, `alpha x` otherwise, elementwise. TensorFlow's
//! `tf.nn.leaky_relu` defaults to `alpha = 0.2`.
//!
//! VJP: `gx = gy` for `x > 0`, `alpha gy` otherwise. Shape: `x`'s. Gradient checks: standard
//! normal inputs at least 0.1 away from the kink at 0.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::{greater, select};
use crate::scalar::Scalar;

/// `x` for `x > 0`, else `alpha x`, elementwise (TensorFlow's default is `alpha = 0.2`).
#[derive(Debug, Clone, Copy)]
pub struct LeakyRelu {
    /// The slope for negative inputs (TensorFlow: 0.2).
    pub alpha: f64,
}

impl<F: Scalar> UnaryElementwise<F> for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        if x > F::zero() {
            x
        } else {
            F::of(self.alpha) * x
        }
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        let positive = greater(x, x.scalar(0.0));
        Some(select(positive, gy, gy * F::of(self.alpha)))
    }
}

/// `x` for `x > 0`, else `alpha x`, elementwise (TensorFlow's default is `alpha = 0.2`).
#[track_caller]
pub fn leaky_relu<F: Scalar>(x: Tensor<'_, F>, alpha: f64) -> Tensor<'_, F> {
    x.graph().apply(Unary(LeakyRelu { alpha }), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn leaky_relu_forward() {
        assert_forward(|g| leaky_relu(g.constant_f64(&[-1.0, 0.0, 2.0, -1000.0], [4]), 0.2), &[-0.2, 0.0, 2.0, -200.0]);
    }

    #[test]
    fn leaky_relu_grad() {
        check_grads(|_, x| leaky_relu(x[0], 0.2), &[Spec::new([3, 2]).domain(Domain::AwayFrom(0.0, 0.1))], 2);
    }
}
