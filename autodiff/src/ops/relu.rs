//! `relu(x) = max(x, 0)`, elementwise; NaN propagates.
//!
//! VJP: `gx = relu_grad(x, gy) = gy * [x > 0]` in one pass (0 at the kink `x = 0`, as
//! TensorFlow). Shape: `x`'s.
//! Gradient checks: standard normal inputs at least 0.1 away from the kink at 0.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::relu_grad;
use crate::scalar::Scalar;

/// `max(x, 0)`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Relu;

impl<F: Scalar> UnaryElementwise<F> for Relu {
    const NAME: &'static str = "relu";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        if x > F::zero() || x.is_nan() {
            x
        } else {
            F::zero()
        }
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(relu_grad(x, gy))
    }
}

/// `max(x, 0)`, elementwise.
#[track_caller]
pub fn relu<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Relu), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`relu`](fn@relu).
    #[track_caller]
    pub fn relu(self) -> Self {
        relu(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn relu_forward() {
        assert_forward(|g| relu(g.constant_f64(&[-1.0, 0.0, 2.0, f64::NAN], [4])), &[0.0, 0.0, 2.0, f64::NAN]);
        assert_forward(|g| g.constant_f64(&[-3.0, 3.0], [2]).relu(), &[0.0, 3.0]);
    }

    #[test]
    fn relu_grad() {
        check_grads(|_, x| relu(x[0]), &[Spec::new([3, 2]).domain(Domain::AwayFrom(0.0, 0.1))], 2);
    }
}
