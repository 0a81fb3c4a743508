//! `tanh(x)`, elementwise.
//!
//! VJP: `gx = gy * (1 - y²)` (from the output). Shape: `x`'s. Gradient checks: standard normal
//! inputs. Saturates to ±1 without overflow. Evaluated by [`Scalar::tanh_v`]: vectorizable and
//! within 1.02 ulp in `f32`, std's `tanh` in `f64`.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// The hyperbolic tangent, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Tanh;

impl<F: Scalar> UnaryElementwise<F> for Tanh {
    const NAME: &'static str = "tanh";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        x.tanh_v()
    }
    fn vjp<'g>(&self, _x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * (y.scalar(1.0) - y * y))
    }
}

/// The hyperbolic tangent, elementwise.
#[track_caller]
pub fn tanh<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(Unary(Tanh), &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Method form of [`tanh`](fn@tanh).
    #[track_caller]
    pub fn tanh(self) -> Self {
        tanh(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn tanh_forward() {
        // tanh(ln 2) = (4 - 1)/(4 + 1) = 0.6; odd; saturates at ±1.
        let ln2 = std::f64::consts::LN_2;
        assert_forward(|g| tanh(g.constant_f64(&[0.0, ln2, -ln2, 1000.0, -1000.0], [5])), &[0.0, 0.6, -0.6, 1.0, -1.0]);
        assert_forward(|g| g.constant_f64(&[ln2], [1]).tanh(), &[0.6]);
    }

    #[test]
    fn tanh_grad() {
        check_grads(|_, x| tanh(x[0]), &[Spec::new([3, 2])], 2);
    }
}
