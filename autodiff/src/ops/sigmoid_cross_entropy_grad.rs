//! `sigmoid_cross_entropy_grad(x, z) = σ(x) - z`, elementwise with broadcasting: the derivative
//! of `sigmoid_cross_entropy_with_logits` with respect to its logits.
//!
//! `σ(x)` is evaluated as `1 / (1 + e⁻ˣ)` for `x ≥ 0` and `eˣ / (1 + eˣ)` for `x < 0`, so the
//! exponent is never positive: `σ(1000) = 1` and `σ(-1000) = 0` without overflow or NaN.
//!
//! VJP: with `s = σ(x) = y + z`, `g_x = g * s (1 - s)` and `g_z = -g`. Recovering `s` from the
//! output costs an absolute error of about `eps · |z|` in `s`, i.e. in the second derivative of
//! the loss, which is negligible next to its scale `1/4`. Domain: `x` all reals, `z` `Unit`.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::ops::neg;
use crate::scalar::Scalar;

/// `σ(x) - z`.
#[derive(Debug, Clone, Copy)]
pub struct SigmoidCrossEntropyGrad;

impl<F: Scalar> BinaryElementwise<F> for SigmoidCrossEntropyGrad {
    const NAME: &'static str = "sigmoid_cross_entropy_grad";
    #[inline(always)]
    fn f(&self, x: F, z: F) -> F {
        x.sigmoid_v() - z
    }
    fn vjp<'g>(
        &self,
        _x: Tensor<'g, F>,
        z: Tensor<'g, F>,
        y: Tensor<'g, F>,
        g: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        let s = y + z;
        (Some(g * s * (s.scalar(1.0) - s)), Some(neg(g)))
    }
}

/// `sigmoid(logits) - labels`, elementwise with broadcasting (the logits' gradient of
/// `sigmoid_cross_entropy_with_logits`).
#[track_caller]
pub fn sigmoid_cross_entropy_grad<'g, F: Scalar>(logits: Tensor<'g, F>, labels: Tensor<'g, F>) -> Tensor<'g, F> {
    logits.graph().apply(Binary(SigmoidCrossEntropyGrad), &[logits, labels])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sigmoid_cross_entropy_grad_forward() {
        // σ(0) = 1/2; σ(log 3) = 3/4; σ(-log 3) = 1/4.
        let l3 = 3f64.ln();
        assert_forward(
            |g| {
                let x = g.constant_f64(&[0.0, l3, -l3], [3]);
                sigmoid_cross_entropy_grad(x, g.constant_f64(&[0.25, 0.0, 1.0], [3]))
            },
            &[0.25, 0.75, -0.75],
        );
    }

    #[test]
    fn sigmoid_cross_entropy_grad_forward_extreme_logits() {
        // σ(1000) = 1 and σ(-1000) = 0 exactly (e⁻¹⁰⁰⁰ underflows), never NaN.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1e3, -1e3, 1e3, -1e3], [4]);
                sigmoid_cross_entropy_grad(x, g.constant_f64(&[1.0, 0.0, 0.0, 1.0], [4]))
            },
            &[0.0, 0.0, 1.0, -1.0],
        );
    }

    #[test]
    fn sigmoid_cross_entropy_grad_grad() {
        check_grads(
            |_, x| sigmoid_cross_entropy_grad(x[0], x[1]),
            &[Spec::new([3, 4]), Spec::new([3, 4]).domain(Domain::Unit)],
            2,
        );
        check_grads(
            |_, x| sigmoid_cross_entropy_grad(x[0], x[1]),
            &[Spec::new([2, 3]), Spec::new([3]).domain(Domain::Unit)],
            2,
        );
    }

    #[test]
    fn sigmoid_cross_entropy_grad_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let _ = sigmoid_cross_entropy_grad(g.input("x", [2, 3]), g.input("z", [4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("sigmoid_cross_entropy_grad") && msg.contains("[2, 3]") && msg.contains("[4]"), "{msg}");
    }
}
