//! `pow(a, b) = a^b`, elementwise with broadcasting (TensorFlow's `tf.math.pow` for floats).
//!
//! VJP: `ga = gy * b * a^(b-1)`, `gb = gy * y * ln a` where `a > 0` and 0 elsewhere (as
//! TensorFlow). The logarithm is taken of `select(a > 0, a, 1)` rather than masked afterwards,
//! so neither `gb` nor its derivative is NaN at `a <= 0` (the "double where" trick).
//! Shape rule: the broadcast of the two shapes. Gradient checks: `a` uniform on [0.5, 2], `b`
//! standard normal.
//!
//! The forward pass is `powf`: `0^0 = 1`, and a negative base with a non-integer exponent is
//! NaN.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::ops::{greater, log, select};
use crate::scalar::Scalar;

/// Elementwise power.
#[derive(Debug, Clone, Copy)]
pub struct Pow;

impl<F: Scalar> BinaryElementwise<F> for Pow {
    const NAME: &'static str = "pow";
    #[inline(always)]
    fn f(&self, a: F, b: F) -> F {
        a.powf(b)
    }
    fn vjp<'g>(
        &self,
        a: Tensor<'g, F>,
        b: Tensor<'g, F>,
        y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        let ga = gy * b * pow(a, b - F::one());
        let safe_a = select(greater(a, a.scalar(0.0)), a, a.scalar(1.0));
        let gb = gy * y * log(safe_a);
        (Some(ga), Some(gb))
    }
}

/// `a^b` with broadcasting.
#[track_caller]
pub fn pow<'g, F: Scalar>(a: Tensor<'g, F>, b: Tensor<'g, F>) -> Tensor<'g, F> {
    a.graph().apply(Binary(Pow), &[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::testing::*;

    #[test]
    fn pow_forward() {
        // 2³, 4^½, 2⁻¹, 0⁰ = 1, (-2)², (-8)^⅓ is NaN for a real power function.
        assert_forward(
            |g| {
                pow(
                    g.constant_f64(&[2.0, 4.0, 2.0, 0.0, -2.0, -8.0], [6]),
                    g.constant_f64(&[3.0, 0.5, -1.0, 0.0, 2.0, 1.0 / 3.0], [6]),
                )
            },
            &[8.0, 2.0, 0.5, 1.0, 4.0, f64::NAN],
        );
        // Broadcast: [2, 1] bases against [3] exponents.
        assert_forward(
            |g| pow(g.constant_f64(&[2.0, 3.0], [2, 1]), g.constant_f64(&[0.0, 1.0, 2.0], [3])),
            &[1.0, 2.0, 4.0, 1.0, 3.0, 9.0],
        );
    }

    #[test]
    fn pow_grad() {
        let specs = [Spec::new([2, 3]).domain(Domain::Positive), Spec::new([2, 3])];
        check_grads(|_, x| pow(x[0], x[1]), &specs, 2);
        check_grads(|_, x| pow(x[0], x[1]), &[Spec::new([3, 2]).domain(Domain::Positive), Spec::new([2])], 2);
    }

    #[test]
    fn pow_grad_at_zero_base_is_finite() {
        // y = 0² = 0: ga = 2·0¹ = 0, and gb = y ln(a) is taken as 0 where a <= 0.
        fn both(g: &Graph<f64>) -> Tensor<'_, f64> {
            let (a, b) = (g.constant_f64(&[0.0], [1]), g.constant_f64(&[2.0], [1]));
            let gs = grad(pow(a, b).sum_all(), &[a, b]);
            gs[0] + gs[1] * 10.0
        }
        assert_forward(both, &[0.0]);
    }

    #[test]
    fn pow_shape_error() {
        let g = Graph::<f64>::new();
        let _ = pow(g.input("a", [2, 3]), g.input("b", [4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("pow") && msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
    }
}
