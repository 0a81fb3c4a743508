//! `softsign(x) = x / (1 + |x|)`, elementwise.
//!
//! VJP: `gx = gy / (1 + |x|)²`. Shape: `x`'s. Gradient checks: standard normal inputs at least
//! 0.1 away from 0, where the second derivative jumps (`∓2` from either side).

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::ops::{abs, square};
use crate::scalar::Scalar;

/// `x / (1 + |x|)`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Softsign;

impl<F: Scalar> UnaryElementwise<F> for Softsign {
    const NAME: &'static str = "softsign";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x / (F::one() + x.abs())
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy / square(abs(x) + F::one()))
    }
}

/// `x / (1 + |x|)`, elementwise.
#[track_caller]
pub fn softsign<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Softsign), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn softsign_forward() {
        // 1/2, -3/4, 0, and 1e300/(1 + 1e300) rounds to 1.
        assert_forward(|g| softsign(g.constant_f64(&[1.0, -3.0, 0.0, 1e300], [4])), &[0.5, -0.75, 0.0, 1.0]);
    }

    #[test]
    fn softsign_grad() {
        check_grads(|_, x| softsign(x[0]), &[Spec::new([3, 2]).domain(Domain::AwayFrom(0.0, 0.1))], 2);
    }
}
