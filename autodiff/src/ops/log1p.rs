//! `log1p(x) = ln(1 + x)`, elementwise, accurate for small `|x|` where `1 + x` rounds.
//!
//! VJP: `gx = gy / (1 + x)`. Shape: `x`'s. Gradient checks: `x` uniform on [-0.5, 2].
//!
//! Evaluated by [`Scalar::ln_1p_v`]: a vectorizable polynomial within 1 ulp in `f32`, std's
//! `ln_1p` in `f64`.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `ln(1 + x)`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Log1p;

impl<F: Scalar> UnaryElementwise<F> for Log1p {
    const NAME: &'static str = "log1p";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.ln_1p_v()
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy / (x + F::one()))
    }
}

/// `ln(1 + x)`, elementwise.
#[track_caller]
pub fn log1p<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Log1p), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn log1p_forward() {
        // ln 1 = 0, ln e = 1, ln 0 = -inf.
        assert_forward(
            |g| log1p(g.constant_f64(&[0.0, std::f64::consts::E - 1.0, -1.0], [3])),
            &[0.0, 1.0, f64::NEG_INFINITY],
        );
        // log1p(x) = x - x²/2 + O(x³), at full relative precision.
        let got = eval(|g| log1p(g.constant_f64(&[1e-10], [1])))[0];
        assert!((got - 0.99999999995e-10).abs() <= 1e-25, "{got:e}");
    }

    #[test]
    fn log1p_grad() {
        check_grads(|_, x| log1p(x[0]), &[Spec::new([3, 2]).domain(Domain::Range(-0.5, 2.0))], 2);
    }
}
