//! `sigmoid_cross_entropy_with_logits(x, z)`: the elementwise binary cross-entropy of labels
//! `z` against `sigmoid(x)`, with NumPy broadcasting:
//! `-z log σ(x) - (1 - z) log(1 - σ(x)) = max(x, 0) - x z + log1p(exp(-|x|))`
//! (TensorFlow's formulation). The exponent is `≤ 0`, so nothing overflows: `x = ±1e3` gives
//! exact, finite losses (`1000` for a wrong confident label, `0` for a right one).
//!
//! VJP: `g_x = gy * (σ(x) - z)` (by `sigmoid_cross_entropy_grad`), `g_z = -gy * x`.
//! Labels need not be in `[0, 1]` (the formula and gradients hold for any `z`).
//! Domain: `x` all reals, `z` `Unit`.

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::ops::{neg, sigmoid_cross_entropy_grad};
use crate::scalar::Scalar;

/// Binary cross-entropy from logits.
#[derive(Debug, Clone, Copy)]
pub struct SigmoidCrossEntropyWithLogits;

impl<F: Scalar> BinaryElementwise<F> for SigmoidCrossEntropyWithLogits {
    const NAME: &'static str = "sigmoid_cross_entropy_with_logits";
    #[inline(always)]
    fn f(&self, x: F, z: F) -> F {
        x.max(F::zero()) - x * z + (-x.abs()).exp_v().ln_1p_v()
    }
    fn vjp<'g>(
        &self,
        x: Tensor<'g, F>,
        z: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        (Some(gy * sigmoid_cross_entropy_grad(x, z)), Some(neg(gy * x)))
    }
}

/// Elementwise `-z log σ(x) - (1 - z) log(1 - σ(x))`, computed stably, with broadcasting.
#[track_caller]
pub fn sigmoid_cross_entropy_with_logits<'g, F: Scalar>(logits: Tensor<'g, F>, labels: Tensor<'g, F>) -> Tensor<'g, F> {
    logits.graph().apply(Binary(SigmoidCrossEntropyWithLogits), &[logits, labels])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::testing::*;

    #[test]
    fn sigmoid_cross_entropy_with_logits_forward() {
        // x = 0: log 2 for any z. x = 2, z = 1: -log σ(2) = log(1 + e⁻²). x = -3, z = 0.25:
        // 0 + 0.75 + log(1 + e⁻³).
        let l2 = 2f64.ln();
        assert_forward(
            |g| {
                let x = g.constant_f64(&[0.0, 0.0, 2.0, -3.0], [4]);
                sigmoid_cross_entropy_with_logits(x, g.constant_f64(&[0.0, 0.7, 1.0, 0.25], [4]))
            },
            &[l2, l2, (-2f64).exp().ln_1p(), 0.75 + (-3f64).exp().ln_1p()],
        );
        // Broadcasting logits [2, 1] against labels [2]: x = 0 rows give log 2; x = 1 with z = 1
        // gives log(1 + e⁻¹) and with z = 0 gives 1 + log(1 + e⁻¹).
        let s1 = (-1f64).exp().ln_1p();
        assert_forward(
            |g| {
                let x = g.constant_f64(&[0.0, 1.0], [2, 1]);
                sigmoid_cross_entropy_with_logits(x, g.constant_f64(&[1.0, 0.0], [2]))
            },
            &[l2, l2, s1, 1.0 + s1],
        );
    }

    #[test]
    fn sigmoid_cross_entropy_with_logits_forward_extreme_logits() {
        // log1p(e⁻¹⁰⁰⁰) = 0: right labels cost exactly 0, wrong ones exactly 1000.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1e3, -1e3, 1e3, -1e3], [4]);
                sigmoid_cross_entropy_with_logits(x, g.constant_f64(&[1.0, 0.0, 0.0, 1.0], [4]))
            },
            &[0.0, 0.0, 1000.0, 1000.0],
        );
    }

    #[test]
    fn sigmoid_cross_entropy_with_logits_grad_at_extreme_logits_is_finite() {
        // g_x = σ(x) - z with σ(±1000) = 1, 0 exactly; g_z = -x.
        let (gx, gz) = {
            let gx = eval(|g| {
                let x = g.constant_f64(&[1e3, -1e3, 1e3, -1e3], [4]);
                let z = g.constant_f64(&[1.0, 0.0, 0.0, 1.0], [4]);
                grad(sigmoid_cross_entropy_with_logits(x, z).sum_all(), &[x])[0]
            });
            let gz = eval(|g| {
                let x = g.constant_f64(&[1e3, -1e3, 1e3, -1e3], [4]);
                let z = g.constant_f64(&[1.0, 0.0, 0.0, 1.0], [4]);
                grad(sigmoid_cross_entropy_with_logits(x, z).sum_all(), &[z])[0]
            });
            (gx, gz)
        };
        assert_eq!(gx, [0.0, 0.0, 1.0, -1.0]);
        assert_eq!(gz, [-1e3, 1e3, -1e3, 1e3]);
    }

    #[test]
    fn sigmoid_cross_entropy_with_logits_grad() {
        check_grads(
            |_, x| sigmoid_cross_entropy_with_logits(x[0], x[1]),
            &[Spec::new([3, 4]), Spec::new([3, 4]).domain(Domain::Unit)],
            2,
        );
        check_grads(
            |_, x| sigmoid_cross_entropy_with_logits(x[0], x[1]),
            &[Spec::new([3, 1]), Spec::new([4]).domain(Domain::Unit)],
            2,
        );
    }

    #[test]
    fn sigmoid_cross_entropy_with_logits_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let _ = sigmoid_cross_entropy_with_logits(g.input("x", [4, 3]), g.input("z", [2]));
        let msg = g.check().unwrap_err().to_string();
        assert!(
            msg.contains("sigmoid_cross_entropy_with_logits") && msg.contains("[4, 3]") && msg.contains("[2]"),
            "{msg}"
        );
    }
}
