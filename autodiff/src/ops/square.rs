//! `square(x) = x²`, elementwise.
//!
//! VJP: `gx = 2 x gy`. Shape: `x`'s. Gradient checks: standard normal inputs.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `x²`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Square;

impl<F: Scalar> UnaryElementwise<F> for Square {
    const NAME: &'static str = "square";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x * x
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * x * F::of(2.0))
    }
}

/// `x²`, elementwise.
#[track_caller]
pub fn square<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Square), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`square`](fn@square).
    #[track_caller]
    pub fn square(self) -> Self {
        square(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn square_forward() {
        assert_forward(|g| square(g.constant_f64(&[3.0, -1.5, 0.0], [3])), &[9.0, 2.25, 0.0]);
        assert_forward(|g| g.constant_f64(&[-4.0], [1]).square(), &[16.0]);
    }

    #[test]
    fn square_grad() {
        check_grads(|_, x| square(x[0]), &[Spec::new([3, 2])], 2);
    }
}
