//! `squared_difference(a, b) = (a - b)²`, elementwise with broadcasting (TensorFlow's
//! `tf.math.squared_difference`).
//!
//! VJP: `ga = 2 gy (a - b)`, `gb = -ga`. Shape rule: the broadcast of the two shapes.
//! Gradient checks: standard normal inputs, including broadcast pairs.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::ops::neg;
use crate::scalar::Scalar;

/// Elementwise squared difference.
#[derive(Debug, Clone, Copy)]
pub struct SquaredDifference;

impl<F: Scalar> BinaryElementwise<F> for SquaredDifference {
    const NAME: &'static str = "squared_difference";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        let d = a - b;
        d * d
    }
    fn vjp<'g>(
        &self,
        a: Tensor<'g, F>,
        b: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        let ga = gy * (a - b) * F::of(2.0);
        (Some(ga), Some(neg(ga)))
    }
}

/// `(a - b)²` with broadcasting.
#[track_caller]
pub fn squared_difference<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(SquaredDifference), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn squared_difference_forward() {
        // Rows a = 3, -1 against columns b = 1, 0.5, -2.
        assert_forward(
            |g| squared_difference(g.constant_f64(&[3.0, -1.0], [2, 1]), g.constant_f64(&[1.0, 0.5, -2.0], [3])),
            &[4.0, 6.25, 25.0, 4.0, 2.25, 1.0],
        );
    }

    #[test]
    fn squared_difference_grad() {
        check_grads(|_, x| squared_difference(x[0], x[1]), &[Spec::new([2, 3]), Spec::new([3])], 2);
        check_grads(|_, x| squared_difference(x[0], x[1]), &[Spec::new([4, 1]), Spec::new([1, 3])], 2);
    }

    #[test]
    fn squared_difference_shape_error() {
        let g = Graph::<f64>::new();
        let _ = squared_difference(g.input("a", [2, 3]), g.input("b", [4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("squared_difference") && msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
    }
}
