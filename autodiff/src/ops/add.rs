//! `add(a, b) = a + b`, elementwise with broadcasting.
//!
//! VJP: `ga = gy`, `gb = gy` (summed back to each input's shape by the gradient driver).
//! Domain: all reals.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// Elementwise sum.
#[derive(Debug, Clone, Copy)]
pub struct Add;

impl<F: Scalar> BinaryElementwise<F> for Add {
    const NAME: &'static str = "add";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        a + b
    }
    fn vjp<'g>(
        &self,
        _a: Tensor<'g, F>,
        _b: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        (Some(gy), Some(gy))
    }
}

/// `a + b` with broadcasting. Also available as the `+` operator.
#[track_caller]
pub fn add<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(Add), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn add_forward_broadcasts() {
        assert_forward(
            |g| add(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), g.constant_f64(&[10.0, 20.0], [2])),
            &[11.0, 22.0, 13.0, 24.0],
        );
    }

    #[test]
    fn add_grad() {
        check_grads(|_, x| add(x[0], x[1]), &[Spec::new([2, 3]), Spec::new([3])], 2);
        check_grads(|_, x| add(x[0], x[1]), &[Spec::new([4, 1]), Spec::new([1, 5])], 2);
    }
}
