//! `div(a, b) = a / b`, elementwise with broadcasting.
//!
//! VJP: `ga = gy / b`, `gb = -gy * a / b² = -gy * y / b`. Domain: `b` away from 0.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::ops::neg;
use crate::scalar::Scalar;

/// Elementwise quotient.
#[derive(Debug, Clone, Copy)]
pub struct Div;

impl<F: Scalar> BinaryElementwise<F> for Div {
    const NAME: &'static str = "div";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        a / b
    }
    fn vjp<'g>(
        &self,
        _a: Tensor<'g, F>,
        b: Tensor<'g, F>,
        y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        let ga = div(gy, b);
        (Some(ga), Some(neg(ga * y)))
    }
}

/// `a / b` with broadcasting. Also available as the `/` operator.
#[track_caller]
pub fn div<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(Div), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn div_forward() {
        assert_forward(|g| div(g.constant_f64(&[1.0, 6.0], [2]), g.constant_f64(&[4.0, -3.0], [2])), &[0.25, -2.0]);
    }

    #[test]
    fn div_grad() {
        check_grads(|_, x| div(x[0], x[1]), &[Spec::new([2, 3]), Spec::new([3]).domain(Domain::Positive)], 2);
    }
}
