//! `cos(x)`, elementwise.
//!
//! VJP: `gx = -gy * sin(x)`. Shape: `x`'s. Gradient checks: standard normal inputs.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::{neg, sin};
use crate::scalar::Scalar;

/// The cosine, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Cos;

impl<F: Scalar> UnaryElementwise<F> for Cos {
    const NAME: &'static str = "cos";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.cos()
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(neg(gy * sin(x)))
    }
}

/// The cosine, elementwise.
#[track_caller]
pub fn cos<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Cos), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn cos_forward() {
        let pi = std::f64::consts::PI;
        assert_forward(|g| cos(g.constant_f64(&[0.0, pi / 3.0, pi], [3])), &[1.0, 0.5, -1.0]);
    }

    #[test]
    fn cos_grad() {
        check_grads(|_, x| cos(x[0]), &[Spec::new([3, 2])], 2);
    }
}
