//! `rsqrt(x) = 1/√x`, elementwise.
//!
//! VJP: `gx = -0.5 * gy * y³` (from the output, as TensorFlow's `RsqrtGrad`). Shape: `x`'s.
//! Gradient checks: `x` uniform on [0.5, 2].

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `1/√x`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Rsqrt;

impl<F: Scalar> UnaryElementwise<F> for Rsqrt {
    const NAME: &'static str = "rsqrt";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.sqrt().recip()
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * (y * y * y) * F::of(-0.5))
    }
}

/// `1/√x`, elementwise.
#[track_caller]
pub fn rsqrt<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Rsqrt), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn rsqrt_forward() {
        // 1/√4 = ½, 1/√¼ = 2, 1/√0 = inf.
        assert_forward(|g| rsqrt(g.constant_f64(&[4.0, 0.25, 0.0], [3])), &[0.5, 2.0, f64::INFINITY]);
    }

    #[test]
    fn rsqrt_grad() {
        check_grads(|_, x| rsqrt(x[0]), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
    }
}
