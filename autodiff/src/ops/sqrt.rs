//! `sqrt(x) = √x`, elementwise.
//!
//! VJP: `gx = gy * 0.5 / y` (reuses the output). Shape: `x`'s.
//! Gradient checks: `x` uniform on [0.5, 2] (the derivative is infinite at 0).

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `√x`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Sqrt;

impl<F: Scalar> UnaryElementwise<F> for Sqrt {
    const NAME: &'static str = "sqrt";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.sqrt()
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * F::of(0.5) / y)
    }
}

/// `√x`, elementwise.
#[track_caller]
pub fn sqrt<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Sqrt), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`sqrt`](fn@sqrt).
    #[track_caller]
    pub fn sqrt(self) -> Self {
        sqrt(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sqrt_forward() {
        assert_forward(|g| sqrt(g.constant_f64(&[4.0, 2.0, 0.0], [3])), &[2.0, std::f64::consts::SQRT_2, 0.0]);
        assert_forward(|g| g.constant_f64(&[0.25], [1]).sqrt(), &[0.5]);
    }

    #[test]
    fn sqrt_grad() {
        check_grads(|_, x| sqrt(x[0]), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
    }
}
