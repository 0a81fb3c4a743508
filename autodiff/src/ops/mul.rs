//! `mul(a, b) = a * b`, elementwise with broadcasting.
//!
//! VJP: `ga = gy * b`, `gb = gy * a`. Domain: all reals.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// Elementwise product.
#[derive(Debug, Clone, Copy)]
pub struct Mul;

impl<F: Scalar> BinaryElementwise<F> for Mul {
    const NAME: &'static str = "mul";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        a * b
    }
    fn vjp<'g>(
        &self,
        a: Tensor<'g, F>,
        b: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        (Some(mul(gy, b)), Some(mul(gy, a)))
    }
}

/// `a * b` with broadcasting. Also available as the `*` operator.
#[track_caller]
pub fn mul<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(Mul), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn mul_forward() {
        assert_forward(
            |g| mul(g.constant_f64(&[1.0, -2.0, 3.0], [3, 1]), g.constant_f64(&[2.0, 4.0], [2])),
            &[2.0, 4.0, -4.0, -8.0, 6.0, 12.0],
        );
    }

    #[test]
    fn mul_grad() {
        check_grads(|_, x| mul(x[0], x[1]), &[Spec::new([3, 4]), Spec::new([4])], 2);
        check_grads(|_, x| mul(x[0], x[0]), &[Spec::new([5])], 2);
    }
}
