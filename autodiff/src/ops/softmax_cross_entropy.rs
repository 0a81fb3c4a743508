//! `softmax_cross_entropy(logits, probs)`: the cross-entropy of a label distribution against
//! the softmax of `logits` over the last axis, `loss = -Σᵢ pᵢ log_softmax(x)ᵢ
//! = Σᵢ pᵢ ((m - xᵢ) + log Σⱼ exp(xⱼ - m))` with `m` the row maximum (TensorFlow's
//! `softmax_cross_entropy_with_logits`). `probs` need not sum to 1.
//!
//! Shapes: `logits` and `probs` both `[..., C]`; output `[...]`.
//!
//! VJP: `g_logits = gy[..., None] * (softmax(x) * Σᵢ pᵢ - p)` and
//! `g_probs = -gy[..., None] * log_softmax(x)`.
//!
//! Stability: the exponents are `≤ 0` and the sum is in `[1, C]`, so logits of ±1e3 give exact,
//! finite losses. A zero probability on a `-inf` logit gives NaN (`0 · inf`), as in TensorFlow.
//! Domain: logits all reals, probs `Unit`.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{map_groups, max_nan, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::{log_softmax, neg, reduce_sum, reshape, softmax};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Softmax cross-entropy with a dense label distribution.
#[derive(Debug, Clone, Copy)]
pub struct SoftmaxCrossEntropy;

impl<F: Scalar> Op<F> for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (x, p) = (inputs[0], inputs[1]);
        if x.rank() == 0 {
            return Err(ShapeError::Custom("logits need a class axis (rank >= 1), got a scalar".into()));
        }
        if x != p {
            return Err(ShapeError::Custom(format!("logits {x} and probs {p} must have the same shape")));
        }
        Ok(Shape::from(&x.dims()[..x.rank() - 1]))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, p, xd) = (cx.input(0), cx.input(1), cx.input_dims(0));
        let c = xd[xd.len() - 1];
        let groups = Groups::along(xd, xd.len() - 1);
        map_groups(&groups, cx.out(), |_, base| {
            let (row, pr) = (&x[base..base + c], &p[base..base + c]);
            let m = row.iter().fold(F::neg_infinity(), |a, &v| max_nan(a, v));
            let ls = row.iter().fold(F::zero(), |s, &v| s + (v - m).exp_v()).ln_v();
            row.iter().zip(pr).fold(F::zero(), |acc, (&v, &q)| acc + q * ((m - v) + ls))
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, p, gy) = (cx.input(0), cx.input(1), cx.grad_output());
        let s = x.shape();
        let gy = reshape(gy, s.with_dim(s.rank() - 1, Dim::Fixed(1)));
        let gx = gy * (softmax(x, -1) * reduce_sum(p, &[-1], true) - p);
        let gp = neg(gy * log_softmax(x, -1));
        grads([Some(gx), Some(gp)])
    }
}

/// `-Σ probs * log_softmax(logits)` over the last axis.
#[track_caller]
pub fn softmax_cross_entropy<'g, F: Scalar>(logits: Tensor<'g, F>, probs: Tensor<'g, F>) -> Tensor<'g, F> {
    logits.graph().apply(SoftmaxCrossEntropy, &[logits, probs])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::testing::*;

    #[test]
    fn softmax_cross_entropy_forward() {
        // Logits [1, 2, 3] with lse = 3 + l, l = log(1 + e⁻¹ + e⁻²): one-hot on class 2 costs
        // l = 0.4076059644443803…; [1/2, 1/2, 0] costs lse - 1.5; [1, 1, 1] (unnormalized)
        // costs 3 lse - 6.
        let l = (1.0 + (-1f64).exp() + (-2f64).exp()).ln();
        let x = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0];
        let p = [0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0, 1.0, 1.0];
        assert_forward(
            |g| softmax_cross_entropy(g.constant_f64(&x, [3, 3]), g.constant_f64(&p, [3, 3])),
            &[l, 3.0 + l - 1.5, 3.0 * l + 3.0],
        );
    }

    #[test]
    fn softmax_cross_entropy_forward_extreme_logits() {
        // lse([1000, -1000]) = 1000 exactly; the losses are 0, 2000 and their average 1000.
        let x = [1e3, -1e3, 1e3, -1e3, 1e3, -1e3];
        let p = [1.0, 0.0, 0.0, 1.0, 0.5, 0.5];
        assert_forward(
            |g| softmax_cross_entropy(g.constant_f64(&x, [3, 2]), g.constant_f64(&p, [3, 2])),
            &[0.0, 2000.0, 1000.0],
        );
    }

    #[test]
    fn softmax_cross_entropy_grad_at_extreme_logits_is_finite() {
        let g = Graph::<f64>::new();
        let x = g.constant_f64(&[1e3, -1e3], [1, 2]);
        let p = g.constant_f64(&[0.25, 0.75], [1, 2]);
        let gs = grad(softmax_cross_entropy(x, p).sum_all(), &[x, p]);
        let (gx, gp) = (eval_in(&g, gs[0]), eval_in(&g, gs[1]));
        // softmax · Σp - p = [1, 0] - [0.25, 0.75]; -log_softmax = [0, 2000].
        assert_eq!(gx, [0.75, -0.75]);
        assert_eq!(gp, [0.0, 2000.0]);
    }

    fn eval_in(g: &Graph<f64>, t: Tensor<'_, f64>) -> Vec<f64> {
        let mut s = crate::Session::new(g.compile(&[t]).unwrap(), 0);
        s.run(&crate::ParamStore::new(0), &[]).unwrap()[0].to_vec()
    }

    #[test]
    fn softmax_cross_entropy_grad() {
        check_grads(
            |_, x| softmax_cross_entropy(x[0], x[1]),
            &[Spec::new([3, 4]), Spec::new([3, 4]).domain(Domain::Unit)],
            2,
        );
        check_grads(
            |_, x| softmax_cross_entropy(x[0], x[1]),
            &[Spec::new([2, 2, 3]), Spec::new([2, 2, 3]).domain(Domain::Unit)],
            2,
        );
    }

    #[test]
    fn softmax_cross_entropy_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let _ = softmax_cross_entropy(g.input("x", [4, 3]), g.input("p", [4, 2]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("softmax_cross_entropy") && msg.contains("[4, 3]") && msg.contains("[4, 2]"), "{msg}");
    }
}
