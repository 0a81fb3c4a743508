//! `sign(x)`: -1, 0 or 1 by the sign of `x`, elementwise; NaN stays NaN (TensorFlow's
//! `tf.math.sign`).
//!
//! VJP: none. Shape: `x`'s. Gradient checks: standard normal inputs at least 0.1 away from the
//! jump at 0.

// no-gradient: piecewise constant; its derivative is zero wherever it exists.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// The sign of `x` (-1, 0 or 1), elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Sign;

impl<F: Scalar> UnaryElementwise<F> for Sign {
    const NAME: &'static str = "sign";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        if x > F::zero() {
            F::one()
        } else if x < F::zero() {
            -F::one()
        } else {
            // ±0 and NaN map to themselves.
            x
        }
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, _y: Tensor<'g, F>, _gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        None
    }
}

/// The sign of `x` (-1, 0 or 1), elementwise.
#[track_caller]
pub fn sign<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Sign), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sign_forward() {
        assert_forward(|g| sign(g.constant_f64(&[-2.0, 0.0, 3.5, f64::NAN], [4])), &[-1.0, 0.0, 1.0, f64::NAN]);
    }

    #[test]
    fn sign_has_no_grad() {
        // sign is treated as a constant: d/dx (x * sign(x)) = sign(x), and d/dx sign(x) = 0.
        check_grads(|_, x| x[0] * sign(x[0]), &[Spec::new([5]).domain(Domain::AwayFrom(0.0, 0.1))], 2);
        check_grads(|_, x| sign(x[0]), &[Spec::new([5]).domain(Domain::AwayFrom(0.0, 0.1))], 1);
    }
}
