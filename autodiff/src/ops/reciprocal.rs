//! `reciprocal(x) = 1/x`, elementwise.
//!
//! VJP: `gx = -gy * y²` (from the output). Shape: `x`'s. Gradient checks: `x` uniform on
//! [0.5, 2] and on [-2, -0.5] (the pole at 0 is excluded).

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::neg;
use crate::scalar::Scalar;

/// `1/x`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Reciprocal;

impl<F: Scalar> UnaryElementwise<F> for Reciprocal {
    const NAME: &'static str = "reciprocal";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.recip()
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(neg(gy * y * y))
    }
}

/// `1/x`, elementwise.
#[track_caller]
pub fn reciprocal<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Reciprocal), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn reciprocal_forward() {
        assert_forward(|g| reciprocal(g.constant_f64(&[2.0, -0.25, 0.0], [3])), &[0.5, -4.0, f64::INFINITY]);
    }

    #[test]
    fn reciprocal_grad() {
        check_grads(|_, x| reciprocal(x[0]), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
        check_grads(|_, x| reciprocal(x[0]), &[Spec::new([4]).domain(Domain::Range(-2.0, -0.5))], 2);
    }
}
