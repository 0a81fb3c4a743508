//! `abs(x) = |x|`, elementwise.
//!
//! VJP: `gx = gy * sign(x)` (0 at the kink `x = 0`, as TensorFlow). Shape: `x`'s.
//! Gradient checks: standard normal inputs at least 0.1 away from the kink at 0.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::sign;
use crate::scalar::Scalar;

/// `|x|`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Abs;

impl<F: Scalar> UnaryElementwise<F> for Abs {
    const NAME: &'static str = "abs";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.abs()
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * sign(x))
    }
}

/// `|x|`, elementwise.
#[track_caller]
pub fn abs<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Abs), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`abs`](fn@abs).
    #[track_caller]
    pub fn abs(self) -> Self {
        abs(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn abs_forward() {
        assert_forward(|g| abs(g.constant_f64(&[-2.0, 0.0, 3.5], [3])), &[2.0, 0.0, 3.5]);
        assert_forward(|g| g.constant_f64(&[-0.25], [1]).abs(), &[0.25]);
    }

    #[test]
    fn abs_grad() {
        check_grads(|_, x| abs(x[0]), &[Spec::new([3, 2]).domain(Domain::AwayFrom(0.0, 0.1))], 2);
    }
}
