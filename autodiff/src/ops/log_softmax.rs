//! `log_softmax(x, axis)`: `yᵢ = (xᵢ - m) - log Σⱼ exp(xⱼ - m)` along `axis`, with `m` the
//! maximum of the group. Every exponent is `≤ 0` and the sum is in `[1, n]`, so neither
//! overflows nor underflows to `log 0`: `log_softmax([1000, 0]) = [0, -1000]` exactly. A group
//! containing `+inf`, NaN, or only `-inf` gives NaN, as in TensorFlow.
//!
//! VJP: `gx = gy - softmax(x) * Σ_axis gy` (`softmax(x) = exp(y)`, computed by the softmax op).
//! Shape: that of `x`. Runs in place when `x` dies here. Domain: all reals.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{for_each_group, max_nan, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::{reduce_sum, softmax};
use crate::scalar::Scalar;
use crate::shape::{normalize_axis, Shape};

/// Log-softmax along one axis.
#[derive(Debug, Clone, Copy)]
pub struct LogSoftmax {
    /// The axis (may be negative).
    pub axis: isize,
}

impl<F: Scalar> Op<F> for LogSoftmax {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        inputs[0].normalize_axis(self.axis)?;
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let xd = cx.input_dims(0);
        let axis = normalize_axis(self.axis, xd.len()).expect("invariant: axis checked at build");
        let groups = Groups::along(xd, axis);
        let x = cx.input_opt(0);
        let out = cx.out();
        if let Some(x) = x {
            out.copy_from_slice(x);
        }
        for_each_group(&groups, out, |buf, base, _| {
            let m = groups.fold(buf, base, F::neg_infinity(), max_nan);
            let ls = groups.fold(buf, base, F::zero(), |s, v| s + (v - m).exp_v()).ln_v();
            groups.update(buf, base, |v| (v - m) - ls);
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, gy) = (cx.input(0), cx.grad_output());
        grads([Some(gy - softmax(x, self.axis) * reduce_sum(gy, &[self.axis], true))])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// The log-softmax of `x` along `axis` (negative counts from the end).
#[track_caller]
pub fn log_softmax<F: Scalar>(x: Tensor<'_, F>, axis: isize) -> Tensor<'_, F> {
    x.graph().apply(LogSoftmax { axis }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn log_softmax_forward() {
        // log_softmax([1, 2, 3]) = x - 3 - log(1 + e⁻¹ + e⁻²).
        let l = (1.0 + (-1f64).exp() + (-2f64).exp()).ln();
        assert_forward(|g| log_softmax(g.constant_f64(&[1.0, 2.0, 3.0], [3]), 0), &[-2.0 - l, -1.0 - l, -l]);
        // Columns of [[0, 1], [0, 1]]: two equal entries each, so -log 2 everywhere.
        assert_forward(|g| log_softmax(g.constant_f64(&[0.0, 1.0, 0.0, 1.0], [2, 2]), -2), &[-(2f64.ln()); 4]);
    }

    #[test]
    fn log_softmax_forward_extreme_logits() {
        // log(1 + e⁻¹⁰⁰⁰) rounds to 0: the values are exact, and nothing is -inf or NaN.
        assert_forward(|g| log_softmax(g.constant_f64(&[1000.0, 0.0], [2]), 0), &[0.0, -1000.0]);
        assert_forward(|g| log_softmax(g.constant_f64(&[-1000.0, 1000.0], [2]), 0), &[-2000.0, 0.0]);
        assert_forward(|g| log_softmax(g.constant_f64(&[-1000.0, -1000.0], [2]), 0), &[-(2f64.ln()); 2]);
    }

    #[test]
    fn log_softmax_grad() {
        check_grads(|_, x| log_softmax(x[0], -1), &[Spec::new([2, 4])], 2);
        check_grads(|_, x| log_softmax(x[0], 1), &[Spec::new([2, 3, 2])], 2);
    }

    #[test]
    fn log_softmax_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = log_softmax(g.input("x", [4]), -2);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("log_softmax") && msg.contains("[4]") && msg.contains("axis -2"), "{msg}");
    }

    #[test]
    fn log_softmax_forward_in_place() {
        // `x + 0` is computed and dies here, so the op takes over its buffer; the result must
        // equal the out-of-place one.
        let x = [1.0, 2.0, 3.0, 0.5, -1.0, 4.0];
        let want = eval(|g| log_softmax(g.constant_f64(&x, [2, 3]), 1));
        let g = Graph::<f64>::new();
        let y = log_softmax(g.constant_f64(&x, [2, 3]) + 0.0, 1);
        let plan = g.compile(&[y]).unwrap();
        assert_eq!(plan.num_in_place(), 1);
        let mut s = Session::new(plan, 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], want[..]);
    }
}
