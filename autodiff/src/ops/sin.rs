//! `sin(x)`, elementwise.
//!
//! VJP: `gx = gy * cos(x)`. Shape: `x`'s. Gradient checks: standard normal inputs.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::cos;
use crate::scalar::Scalar;

/// The sine, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Sin;

impl<F: Scalar> UnaryElementwise<F> for Sin {
    const NAME: &'static str = "sin";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.sin()
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * cos(x))
    }
}

/// The sine, elementwise.
#[track_caller]
pub fn sin<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Sin), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sin_forward() {
        let pi = std::f64::consts::PI;
        assert_forward(|g| sin(g.constant_f64(&[0.0, pi / 6.0, pi / 2.0, -pi / 2.0], [4])), &[0.0, 0.5, 1.0, -1.0]);
    }

    #[test]
    fn sin_grad() {
        check_grads(|_, x| sin(x[0]), &[Spec::new([3, 2])], 2);
    }
}
