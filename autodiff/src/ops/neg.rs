//! `neg(x) = -x`, elementwise.
//!
//! VJP: `gx = -gy`. Domain: all reals.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// Elementwise negation.
#[derive(Debug, Clone, Copy)]
pub struct Neg;

impl<F: Scalar> UnaryElementwise<F> for Neg {
    const NAME: &'static str = "neg";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        -x
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(neg(gy))
    }
}

/// `-x`. Also available as the unary `-` operator.
#[track_caller]
pub fn neg<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Neg), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn neg_forward() {
        assert_forward(|g| neg(g.constant_f64(&[1.0, -2.0], [2])), &[-1.0, 2.0]);
    }

    #[test]
    fn neg_grad() {
        check_grads(|_, x| neg(x[0]), &[Spec::new([3, 2])], 2);
    }
}
