//! `not_equal(a, b)`: `1` where `a != b`, else `0`, elementwise with NumPy broadcasting
//! (TensorFlow's `tf.math.not_equal`, returning the element type instead of booleans
//! so the result can be used as a mask).
//!
//! VJP: none. Shape rule: the broadcast of the two shapes.
//! NaN compares unequal to everything, so `not_equal` is 1 where either input is NaN.
//! Gradient checks: standard normal inputs (ties have probability zero).

// no-gradient: a step function of its inputs; its derivative is zero wherever it exists.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// Elementwise `a != b` as `0`/`1`.
#[derive(Debug, Clone, Copy)]
pub struct NotEqual;

impl<F: Scalar> BinaryElementwise<F> for NotEqual {
    const NAME: &'static str = "not_equal";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        if a != b {
            F::one()
        } else {
            F::zero()
        }
    }
    fn vjp<'g>(
        &self,
        _a: Tensor<'g, F>,
        _b: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        _gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        (None, None)
    }
}

/// `1.0` where `a != b`, else `0.0`, with broadcasting.
#[track_caller]
pub fn not_equal<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(NotEqual), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn not_equal_forward_broadcasts() {
        // Rows a = 1, 2, 3, NaN against columns b = 2, NaN.
        assert_forward(
            |g| not_equal(g.constant_f64(&[1.0, 2.0, 3.0, f64::NAN], [4, 1]), g.constant_f64(&[2.0, f64::NAN], [2])),
            &[1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        );
    }

    #[test]
    fn not_equal_has_no_grad() {
        // The mask is a constant to the gradient: d/da (a * m(a, b)) = m and d/db = 0. Order 1:
        // the second-order check would differentiate d/db = 0, which does not depend on `a`,
        // and check_grads cannot feed an input its graph does not use.
        check_grads(|_, x| x[0] * not_equal(x[0], x[1]), &[Spec::new([2, 3]), Spec::new([3])], 1);
        check_grads(|_, x| not_equal(x[0], x[1]), &[Spec::new([4]), Spec::new([4])], 1);
    }

    #[test]
    fn not_equal_shape_error() {
        let g = Graph::<f64>::new();
        let _ = not_equal(g.input("a", [2, 3]), g.input("b", [4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("not_equal") && msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
    }
}
