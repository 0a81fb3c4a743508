//! `sparse_softmax_cross_entropy_grad(logits, labels) = softmax(logits) - onehot(labels)` over
//! the last axis: the derivative of `sparse_softmax_cross_entropy` with respect to its logits,
//! computed in one pass per row (a stable softmax, then 1 subtracted at the label).
//!
//! Shapes: `logits [..., C]`, `labels [...]` (class indices stored as floats), output
//! `[..., C]`. A label that is not a whole number in `0..C` fails the run with an `OpFailure`
//! naming the label and `C`. Runs in place when `logits` die here.
//!
//! VJP: the one-hot term is constant, so this is the softmax VJP,
//! `g_logits = s * (g - Σ_C(g * s))` with `s = softmax(logits, -1)`. No gradient flows to
//! `labels`. Domain: all reals.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{for_each_group, max_nan, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::sparse_softmax_cross_entropy::{check_labels, sparse_labels_shape};
use crate::ops::{reduce_sum, softmax};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// `softmax(logits) - onehot(labels)` over the last axis.
#[derive(Debug, Clone, Copy)]
pub struct SparseSoftmaxCrossEntropyGrad;

impl<F: Scalar> Op<F> for SparseSoftmaxCrossEntropyGrad {
    fn name(&self) -> &'static str {
        "sparse_softmax_cross_entropy_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        sparse_labels_shape(inputs[0], inputs[1])?;
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (labels, xd) = (cx.input(1), cx.input_dims(0));
        let c = xd[xd.len() - 1];
        check_labels(labels, c)?;
        let groups = Groups::along(xd, xd.len() - 1);
        let x = cx.input_opt(0);
        let out = cx.out();
        if let Some(x) = x {
            out.copy_from_slice(x);
        }
        for_each_group(&groups, out, |buf, base, g| {
            let row = &mut buf[base..base + c];
            let m = row.iter().fold(F::neg_infinity(), |a, &v| max_nan(a, v));
            // Exponentials first, then their sum: the first loop vectorizes.
            row.iter_mut().for_each(|v| *v = (*v - m).exp_v());
            let s = row.iter().fold(F::zero(), |s, &e| s + e);
            row.iter_mut().for_each(|v| *v = *v / s);
            let l = labels[g].to_f64_lossless() as usize;
            row[l] = row[l] - F::one();
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (logits, gg) = (cx.input(0), cx.grad_output());
        let s = softmax(logits, -1);
        grads([Some(s * (gg - reduce_sum(gg * s, &[-1], true))), None])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// `softmax(logits) - onehot(labels)` over the last axis (the logits' gradient of
/// `sparse_softmax_cross_entropy`).
#[track_caller]
pub fn sparse_softmax_cross_entropy_grad<'g, F: Scalar>(logits: Tensor<'g, F>, labels: Tensor<'g, F>) -> Tensor<'g, F> {
    logits.graph().apply(SparseSoftmaxCrossEntropyGrad, &[logits, labels])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::{grad, ParamStore, Session};

    #[test]
    fn sparse_softmax_cross_entropy_grad_forward() {
        // Row [1, 2, 3] with label 2: eⁱ / (e¹ + e² + e³) minus [0, 0, 1]. Row [0, 0, 0] with
        // label 0: 1/3 minus [1, 0, 0].
        let z = 1f64.exp() + 2f64.exp() + 3f64.exp();
        let t = 1.0 / 3.0;
        assert_forward(
            |g| {
                sparse_softmax_cross_entropy_grad(
                    g.constant_f64(&[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], [2, 3]),
                    g.constant_f64(&[2.0, 0.0], [2]),
                )
            },
            &[1f64.exp() / z, 2f64.exp() / z, 3f64.exp() / z - 1.0, t - 1.0, t, t],
        );
    }

    #[test]
    fn sparse_softmax_cross_entropy_grad_forward_extreme_logits() {
        assert_forward(
            |g| {
                sparse_softmax_cross_entropy_grad(
                    g.constant_f64(&[1e3, -1e3, -1e3, 1e3], [2, 2]),
                    g.constant_f64(&[1.0, 1.0], [2]),
                )
            },
            &[1.0, -1.0, 0.0, 0.0],
        );
    }

    #[test]
    fn sparse_softmax_cross_entropy_grad_grad() {
        let labels = [1.0, 0.0, 3.0];
        check_grads(
            |g, x| sparse_softmax_cross_entropy_grad(x[0], g.constant_f64(&labels, [3])),
            &[Spec::new([3, 4])],
            2,
        );
        let gl = eval(|g| {
            let labels = g.constant_f64(&[1.0], [1]);
            let y = sparse_softmax_cross_entropy_grad(g.constant_f64(&[0.5, -1.0], [1, 2]), labels);
            grad((y * y).sum_all(), &[labels])[0]
        });
        assert_eq!(gl, [0.0]);
    }

    #[test]
    fn sparse_softmax_cross_entropy_grad_bad_label_fails_the_run() {
        let g = Graph::<f64>::new();
        let y = sparse_softmax_cross_entropy_grad(g.input("x", [1, 4]), g.input("y", [1]));
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        let err = s.run(&ParamStore::new(0), &[("x", &[0.0; 4]), ("y", &[4.0])]).unwrap_err().to_string();
        assert!(
            err.contains("sparse_softmax_cross_entropy_grad") && err.contains("label 4 ") && err.contains("4 classes"),
            "{err}"
        );
    }

    #[test]
    fn sparse_softmax_cross_entropy_grad_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let _ = sparse_softmax_cross_entropy_grad(g.input("x", [2, 5]), g.input("y", [2, 1]));
        let msg = g.check().unwrap_err().to_string();
        assert!(
            msg.contains("sparse_softmax_cross_entropy_grad") && msg.contains("[2, 5]") && msg.contains("[2, 1]"),
            "{msg}"
        );
    }

    #[test]
    fn sparse_softmax_cross_entropy_grad_forward_in_place() {
        // `logits + 0` is computed and dies here, so the op takes over its buffer; the result must
        // equal the out-of-place one.
        let (x, l) = ([1.0, 2.0, 3.0, 0.5, -1.0, 4.0], [2.0, 0.0]);
        let want = eval(|g| sparse_softmax_cross_entropy_grad(g.constant_f64(&x, [2, 3]), g.constant_f64(&l, [2])));
        let g = Graph::<f64>::new();
        let y = sparse_softmax_cross_entropy_grad(g.constant_f64(&x, [2, 3]) + 0.0, g.constant_f64(&l, [2]));
        let plan = g.compile(&[y]).unwrap();
        assert_eq!(plan.num_in_place(), 1);
        let mut s = Session::new(plan, 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], want[..]);
    }
}
