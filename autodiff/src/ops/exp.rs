//! `exp(x) = eˣ`, elementwise.
//!
//! VJP: `gx = gy * y` (reuses the output instead of recomputing `eˣ`). Shape: `x`'s.
//! Gradient checks: standard normal inputs.
//!
//! Overflows to `+inf` above ln(max) (≈ 709.78 in `f64`, 88.72 in `f32`), where the true value
//! is not representable either; underflows to 0 far below zero. Evaluated by
//! [`Scalar::exp_v`]: a vectorizable polynomial within 1 ulp in `f32`, std's `exp` in `f64`.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `eˣ`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Exp;

impl<F: Scalar> UnaryElementwise<F> for Exp {
    const NAME: &'static str = "exp";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.exp_v()
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * y)
    }
}

/// `eˣ`, elementwise.
#[track_caller]
pub fn exp<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Exp), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`exp`](fn@exp).
    #[track_caller]
    pub fn exp(self) -> Self {
        exp(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn exp_forward() {
        // e⁰ = 1, e¹ = e, e^(ln 2) = 2, e^(-1000) is below the smallest subnormal.
        assert_forward(
            |g| exp(g.constant_f64(&[0.0, 1.0, std::f64::consts::LN_2, -1000.0], [4])),
            &[1.0, std::f64::consts::E, 2.0, 0.0],
        );
        assert_forward(|g| g.constant_f64(&[-1.0], [1]).exp(), &[1.0 / std::f64::consts::E]);
    }

    #[test]
    fn exp_grad() {
        check_grads(|_, x| exp(x[0]), &[Spec::new([3, 2])], 2);
    }
}
