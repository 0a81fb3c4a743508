//! `sub(a, b) = a - b`, elementwise with broadcasting.
//!
//! VJP: `ga = gy`, `gb = -gy`. Domain: all reals.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::ops::neg;
use crate::scalar::Scalar;

/// Elementwise difference.
#[derive(Debug, Clone, Copy)]
pub struct Sub;

impl<F: Scalar> BinaryElementwise<F> for Sub {
    const NAME: &'static str = "sub";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        a - b
    }
    fn vjp<'g>(
        &self,
        _a: Tensor<'g, F>,
        _b: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        (Some(gy), Some(neg(gy)))
    }
}

/// `a - b` with broadcasting. Also available as the `-` operator.
#[track_caller]
pub fn sub<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(Sub), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sub_forward() {
        assert_forward(|g| sub(g.constant_f64(&[1.0, 5.0], [2]), g.scalar(2.0)), &[-1.0, 3.0]);
    }

    #[test]
    fn sub_grad() {
        check_grads(|_, x| sub(x[0], x[1]), &[Spec::new([2, 3]), Spec::new([2, 1])], 2);
    }
}
