//! `log(x) = ln x`, elementwise (natural logarithm).
//!
//! VJP: `gx = gy / x`. Shape: `x`'s. Gradient checks: `x` uniform on [0.5, 2].
//!
//! `log(0) = -inf` and `log(x < 0) = NaN`, as in TensorFlow. Evaluated by [`Scalar::ln_v`]: a
//! vectorizable polynomial within 1 ulp in `f32` (subnormal inputs included), std's `ln` in `f64`.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `ln x`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Log;

impl<F: Scalar> UnaryElementwise<F> for Log {
    const NAME: &'static str = "log";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.ln_v()
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy / x)
    }
}

/// `ln x`, elementwise.
#[track_caller]
pub fn log<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Log), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`log`](fn@log).
    #[track_caller]
    pub fn log(self) -> Self {
        log(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn log_forward() {
        // ln 1 = 0, ln e = 1, ln ½ = -ln 2, ln 0 = -inf.
        assert_forward(
            |g| log(g.constant_f64(&[1.0, std::f64::consts::E, 0.5, 0.0], [4])),
            &[0.0, 1.0, -std::f64::consts::LN_2, f64::NEG_INFINITY],
        );
        assert_forward(|g| g.constant_f64(&[-1.0], [1]).log(), &[f64::NAN]);
    }

    #[test]
    fn log_grad() {
        check_grads(|_, x| log(x[0]), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
    }
}
