//! `maximum(a, b)`: the larger of `a` and `b`, elementwise with broadcasting (TensorFlow's
//! `tf.math.maximum`). NaN in either input gives NaN.
//!
//! VJP (TensorFlow's rule, not a half-half split at ties): the whole gradient goes to `a` where
//! `a >= b` and to `b` elsewhere, so at a tie `a` gets all of it:
//! `ga = select(greater_equal(a, b), gy, 0)`, `gb = select(greater_equal(a, b), 0, gy)`.
//! Shape rule: the broadcast of the two shapes. Gradient checks: standard normal inputs, which
//! are never tied (ties are a kink).

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::ops::{greater_equal, select};
use crate::scalar::Scalar;

/// Elementwise larger value.
#[derive(Debug, Clone, Copy)]
pub struct Maximum;

impl<F: Scalar> BinaryElementwise<F> for Maximum {
    const NAME: &'static str = "maximum";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        // A NaN `b` fails the comparison and is returned; a NaN `a` is caught explicitly.
        if a >= b || a.is_nan() {
            a
        } else {
            b
        }
    }
    fn vjp<'g>(
        &self,
        a: Tensor<'g, F>,
        b: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        let to_a = greater_equal(a, b);
        let zero = gy.scalar(0.0);
        (Some(select(to_a, gy, zero)), Some(select(to_a, zero, gy)))
    }
}

/// The larger of `a` and `b`, elementwise with broadcasting.
#[track_caller]
pub fn maximum<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(Maximum), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::testing::strategies::broadcastable_pair;
    use crate::testing::*;
    use proptest::prelude::*;

    #[test]
    fn maximum_forward() {
        // Pairs (1, 3), (5, 2), (NaN, 1), (2, NaN), (2, 2).
        assert_forward(
            |g| {
                let a = g.constant_f64(&[1.0, 5.0, f64::NAN, 2.0, 2.0], [5]);
                maximum(a, g.constant_f64(&[3.0, 2.0, 1.0, f64::NAN, 2.0], [5]))
            },
            &[3.0, 5.0, f64::NAN, f64::NAN, 2.0],
        );
        // Broadcast against a scalar.
        assert_forward(|g| maximum(g.constant_f64(&[-1.0, 0.5, 4.0], [3]), g.scalar(0.5)), &[0.5, 0.5, 4.0]);
    }

    #[test]
    fn maximum_grad() {
        check_grads(|_, x| maximum(x[0], x[1]), &[Spec::new([2, 3]), Spec::new([2, 3])], 2);
        check_grads(|_, x| maximum(x[0], x[1]), &[Spec::new([4, 3]), Spec::new([3])], 2);
    }

    #[test]
    fn maximum_grad_at_ties_goes_to_a() {
        // a = b everywhere: TensorFlow's rule gives the whole gradient to `a`.
        fn grads_at_tie(g: &Graph<f64>, i: usize) -> Tensor<'_, f64> {
            let (a, b) = (g.constant_f64(&[1.0, -2.0], [2]), g.constant_f64(&[1.0, -2.0], [2]));
            grad(maximum(a, b).sum_all(), &[a, b])[i]
        }
        assert_forward(|g| grads_at_tie(g, 0), &[1.0, 1.0]);
        assert_forward(|g| grads_at_tie(g, 1), &[0.0, 0.0]);
    }

    #[test]
    fn maximum_shape_error() {
        let g = Graph::<f64>::new();
        let _ = maximum(g.input("a", [2, 3]), g.input("b", [4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("maximum") && msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn maximum_grad_broadcast_pairs((sa, sb) in broadcastable_pair()) {
            // First order: the gradient is summed back over the broadcast axes of either side.
            check_grads(|_, x| maximum(x[0], x[1]), &[Spec::new(sa.clone()), Spec::new(sb.clone())], 1);
        }
    }
}
