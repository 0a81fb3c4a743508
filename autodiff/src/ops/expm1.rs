//! `expm1(x) = eˣ - 1`, elementwise, accurate for small `|x|` where `exp(x) - 1` cancels.
//!
//! VJP: `gx = gy * (y + 1)` (`= gy * eˣ`, from the output). Shape: `x`'s.
//! Gradient checks: standard normal inputs.
//!
//! Evaluated by [`Scalar::exp_m1_v`]: a vectorizable polynomial within 1 ulp in `f32`, std's
//! `exp_m1` in `f64`.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `eˣ - 1`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Expm1;

impl<F: Scalar> UnaryElementwise<F> for Expm1 {
    const NAME: &'static str = "expm1";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.exp_m1_v()
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * (y + F::one()))
    }
}

/// `eˣ - 1`, elementwise.
#[track_caller]
pub fn expm1<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Expm1), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn expm1_forward() {
        // e⁰ - 1 = 0, e^(ln 2) - 1 = 1, e^(-1000) - 1 = -1.
        assert_forward(|g| expm1(g.constant_f64(&[0.0, std::f64::consts::LN_2, -1000.0], [3])), &[0.0, 1.0, -1.0]);
        // expm1(x) = x + x²/2 + O(x³): full relative precision where exp(x) - 1 would keep 6 digits.
        let got = eval(|g| expm1(g.constant_f64(&[1e-10], [1])))[0];
        assert!((got - 1.00000000005e-10).abs() <= 1e-25, "{got:e}");
    }

    #[test]
    fn expm1_grad() {
        check_grads(|_, x| expm1(x[0]), &[Spec::new([3, 2])], 2);
    }
}
