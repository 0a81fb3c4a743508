//! `sparse_softmax_cross_entropy(logits, labels)`: the cross-entropy of integer class labels
//! against the softmax of `logits` over the last axis, `loss = -log_softmax(logits)[label]`
//! `= log Σⱼ exp(xⱼ - m) - (x_label - m)` with `m` the row maximum (TensorFlow's
//! `sparse_softmax_cross_entropy_with_logits`).
//!
//! Shapes: `logits [..., C]`, `labels [...]` (class indices stored as floats), output `[...]`.
//! A label that is not a whole number in `0..C` fails the run with an `OpFailure` naming the
//! label and `C`.
//!
//! VJP: `g_logits = gy[..., None] * (softmax(logits) - onehot(labels))`, computed in one pass by
//! `sparse_softmax_cross_entropy_grad`. No gradient flows to `labels` (they are indices).
//!
//! Stability: the exponents are `≤ 0` and the sum is in `[1, C]`, so logits of ±1e3 give exact,
//! finite losses (`[1000, -1000]` with label 1 costs exactly 2000). Domain: all reals.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{map_groups, max_nan, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::{reshape, sparse_softmax_cross_entropy_grad};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Softmax cross-entropy with class-index labels.
#[derive(Debug, Clone, Copy)]
pub struct SparseSoftmaxCrossEntropy;

/// The shape of `labels` required by `logits` (the logits' shape without the class axis).
pub(crate) fn sparse_labels_shape(logits: &Shape, labels: &Shape) -> Result<Shape, ShapeError> {
    if logits.rank() == 0 {
        return Err(ShapeError::Custom("logits need a class axis (rank >= 1), got a scalar".into()));
    }
    let want = Shape::from(&logits.dims()[..logits.rank() - 1]);
    if *labels != want {
        return Err(ShapeError::Custom(format!(
            "labels have shape {labels}, expected {want} (the logits' shape {logits} without the class axis)"
        )));
    }
    Ok(want)
}

/// Checks that every label is a whole number in `0..classes`.
pub(crate) fn check_labels<F: Scalar>(labels: &[F], classes: usize) -> Result<(), OpFailure> {
    for &l in labels {
        let v = l.to_f64_lossless();
        if !(v >= 0.0 && v < classes as f64) {
            return Err(OpFailure(format!(
                "label {l} is out of range for {classes} classes (valid labels: 0..{classes})"
            )));
        }
        if v.fract() != 0.0 {
            return Err(OpFailure(format!(
                "label {l} is not a class index: labels must be whole numbers in 0..{classes}"
            )));
        }
    }
    Ok(())
}

impl<F: Scalar> Op<F> for SparseSoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "sparse_softmax_cross_entropy"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        sparse_labels_shape(inputs[0], inputs[1])
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, labels, xd) = (cx.input(0), cx.input(1), cx.input_dims(0));
        let c = xd[xd.len() - 1];
        check_labels(labels, c)?;
        let groups = Groups::along(xd, xd.len() - 1);
        map_groups(&groups, cx.out(), |g, base| {
            let row = &x[base..base + c];
            let m = row.iter().fold(F::neg_infinity(), |a, &v| max_nan(a, v));
            let s = row.iter().fold(F::zero(), |s, &v| s + (v - m).exp_v());
            let l = labels[g].to_f64_lossless() as usize;
            s.ln_v() - (row[l] - m)
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (logits, labels, gy) = (cx.input(0), cx.input(1), cx.grad_output());
        let s = logits.shape();
        let gy = reshape(gy, s.with_dim(s.rank() - 1, Dim::Fixed(1)));
        grads([Some(gy * sparse_softmax_cross_entropy_grad(logits, labels)), None])
    }
}

/// `-log softmax(logits)[label]` per row: logits `[..., C]`, class-index labels `[...]`.
#[track_caller]
pub fn sparse_softmax_cross_entropy<'g, F: Scalar>(logits: Tensor<'g, F>, labels: Tensor<'g, F>) -> Tensor<'g, F> {
    logits.graph().apply(SparseSoftmaxCrossEntropy, &[logits, labels])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::{grad, ParamStore, Session};

    #[test]
    fn sparse_softmax_cross_entropy_forward() {
        // Logits [1, 2, 3], label 2: log(e¹ + e² + e³) - 3 = log(1 + e⁻¹ + e⁻²), which is
        // 0.40760596444438030448… in 40-digit decimal arithmetic; label 0 costs 2 more. Row
        // [0, 0, 0]: log 3 whatever the label.
        let l = (1.0 + (-1f64).exp() + (-2f64).exp()).ln();
        assert!((l - 0.407_605_964_444_380_3).abs() < 2e-16, "{l}");
        let got = eval(|g| {
            sparse_softmax_cross_entropy(g.constant_f64(&[1.0, 2.0, 3.0], [1, 3]), g.constant_f64(&[2.0], [1]))
        });
        assert!((got[0] - 0.407_605_964_444_380_3).abs() < 4e-16, "{got:?}");
        assert_forward(
            |g| {
                sparse_softmax_cross_entropy(
                    g.constant_f64(&[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0], [3, 3]),
                    g.constant_f64(&[2.0, 0.0, 1.0], [3]),
                )
            },
            &[l, l + 2.0, 3f64.ln()],
        );
    }

    #[test]
    fn sparse_softmax_cross_entropy_forward_extreme_logits() {
        // log(1 + e⁻²⁰⁰⁰) rounds to 0: the right label costs 0, the wrong one exactly 2000.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1e3, -1e3, 1e3, -1e3, -1e3, 1e3], [3, 2]);
                sparse_softmax_cross_entropy(x, g.constant_f64(&[0.0, 1.0, 0.0], [3]))
            },
            &[0.0, 2000.0, 2000.0],
        );
    }

    #[test]
    fn sparse_softmax_cross_entropy_grad_at_extreme_logits_is_finite() {
        // softmax - onehot: [1, 0] - [1, 0] and [1, 0] - [0, 1].
        let gx = eval(|g| {
            let x = g.constant_f64(&[1e3, -1e3, 1e3, -1e3], [2, 2]);
            let y = sparse_softmax_cross_entropy(x, g.constant_f64(&[0.0, 1.0], [2]));
            grad(y.sum_all(), &[x])[0]
        });
        assert_eq!(gx, [0.0, 0.0, 1.0, -1.0]);
    }

    #[test]
    fn sparse_softmax_cross_entropy_grad() {
        let labels = [2.0, 0.0, 3.0];
        check_grads(|g, x| sparse_softmax_cross_entropy(x[0], g.constant_f64(&labels, [3])), &[Spec::new([3, 4])], 2);
        let labels = [1.0, 0.0, 0.0, 2.0];
        check_grads(
            |g, x| sparse_softmax_cross_entropy(x[0], g.constant_f64(&labels, [2, 2])),
            &[Spec::new([2, 2, 3])],
            2,
        );
    }

    #[test]
    fn sparse_softmax_cross_entropy_has_no_grad_to_labels() {
        let gl = eval(|g| {
            let labels = g.constant_f64(&[1.0, 0.0], [2]);
            let y = sparse_softmax_cross_entropy(g.constant_f64(&[0.5, -1.0, 2.0, 0.0], [2, 2]), labels);
            grad(y.sum_all(), &[labels])[0]
        });
        assert_eq!(gl, [0.0, 0.0]);
    }

    #[test]
    fn sparse_softmax_cross_entropy_bad_label_fails_the_run() {
        let g = Graph::<f64>::new();
        let y = sparse_softmax_cross_entropy(g.input("x", [2, 3]), g.input("y", [2]));
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        let p = ParamStore::new(0);
        let x = [0.0; 6];
        for (labels, want) in [([0.0, 3.0], "label 3 "), ([-1.0, 0.0], "label -1 "), ([0.5, 0.0], "label 0.5 ")] {
            let err = s.run(&p, &[("x", &x), ("y", &labels)]).unwrap_err().to_string();
            assert!(err.contains("sparse_softmax_cross_entropy") && err.contains(want) && err.contains("3"), "{err}");
        }
        assert!(s.run(&p, &[("x", &x), ("y", &[2.0, 0.0])]).is_ok());
    }

    #[test]
    fn sparse_softmax_cross_entropy_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let _ = sparse_softmax_cross_entropy(g.input("x", [4, 3]), g.input("y", [3]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("sparse_softmax_cross_entropy") && msg.contains("[4, 3]") && msg.contains("[3]"), "{msg}");
    }
}
