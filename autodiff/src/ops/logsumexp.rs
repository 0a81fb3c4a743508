//! `logsumexp(x, axes, keep_dims)`: `y = m + log Σ exp(x - m)` over the given axes, with `m` the
//! maximum of the group. Every exponent is `≤ 0` and the sum is in `[1, n]`, so large inputs do
//! not overflow (`logsumexp([1000, 1000]) = 1000 + log 2`) and small ones do not underflow to
//! `log 0`. A group whose maximum is infinite gives that infinity (`-inf` for an empty group or
//! one of only `-inf`); NaN propagates.
//!
//! VJP: `gx = gy * softmax(x)` over the same axes (`exp(x - y)`). Shape rule as `reduce_sum`.
//! Domain: all reals.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{map_groups, max_nan, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_sum::reduced_mask;
use crate::ops::{reshape, Softmax};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Log of the sum of exponentials over axes.
#[derive(Debug, Clone)]
pub struct Logsumexp {
    /// Axes to reduce (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Keep reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for Logsumexp {
    fn name(&self) -> &'static str {
        "logsumexp"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let axes = inputs[0].normalize_axes(&self.axes)?;
        Ok(inputs[0].reduced(&axes, self.keep_dims))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let groups = Groups::new(xd, &reduced_mask(&self.axes, xd.len()));
        map_groups(&groups, cx.out(), |_, base| {
            let m = groups.fold(x, base, F::neg_infinity(), max_nan);
            if !m.is_finite() {
                return m;
            }
            m + groups.fold(x, base, F::zero(), |s, v| s + (v - m).exp_v()).ln_v()
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, gy) = (cx.input(0), cx.grad_output());
        let gy = if self.keep_dims {
            gy
        } else {
            let xs = x.shape();
            let axes = xs.normalize_axes(&self.axes).expect("invariant: axes checked at build");
            reshape(gy, xs.reduced(&axes, true))
        };
        grads([Some(gy * x.graph().apply(Softmax { axes: self.axes.clone() }, &[x]))])
    }
}

/// `log Σ exp(x)` over `axes`, computed stably.
#[track_caller]
pub fn logsumexp<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    x.graph().apply(Logsumexp { axes: axes.into(), keep_dims }, &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// `log Σ exp(self)` over `axes`, computed stably.
    #[track_caller]
    pub fn logsumexp(self, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
        logsumexp(self, axes, keep_dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn logsumexp_forward() {
        // Rows [1, 2, 3] and [0, 0, 0]: 3 + log(1 + e⁻¹ + e⁻²) and log 3.
        let l = 3.0 + (1.0 + (-1f64).exp() + (-2f64).exp()).ln();
        let x = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
        assert_forward(|g| logsumexp(g.constant_f64(&x, [2, 3]), &[1], false), &[l, 3f64.ln()]);
        // Columns (1, 0), (2, 0), (3, 0): c + log(1 + e⁻ᶜ).
        let col = |c: f64| c + (-c).exp().ln_1p();
        assert_forward(|g| g.constant_f64(&x, [2, 3]).logsumexp(&[0], true), &[col(1.0), col(2.0), col(3.0)]);
        // Everything: six terms, of which e³ is the largest.
        let all = 3.0 + ((-2f64).exp() + (-1f64).exp() + 1.0 + 3.0 * (-3f64).exp()).ln();
        assert_forward(|g| logsumexp(g.constant_f64(&x, [2, 3]), &[0, 1], false), &[all]);
    }

    #[test]
    fn logsumexp_forward_extreme_values() {
        let l2 = 2f64.ln();
        assert_forward(|g| logsumexp(g.constant_f64(&[1000.0, 1000.0], [2]), &[0], false), &[1000.0 + l2]);
        assert_forward(|g| logsumexp(g.constant_f64(&[-1000.0, -1000.0], [2]), &[0], false), &[-1000.0 + l2]);
        // e⁻²⁰⁰⁰ vanishes next to 1: the result is exactly the maximum.
        assert_forward(|g| logsumexp(g.constant_f64(&[1000.0, -1000.0], [2]), &[0], false), &[1000.0]);
        let inf = f64::INFINITY;
        assert_forward(|g| logsumexp(g.constant_f64(&[-inf, -inf], [2]), &[0], false), &[-inf]);
        assert_forward(|g| logsumexp(g.constant_f64(&[inf, 1.0], [2]), &[0], false), &[inf]);
        assert_forward(|g| logsumexp(g.constant_f64(&[], [0]), &[0], false), &[-inf]);
    }

    #[test]
    fn logsumexp_grad() {
        check_grads(|_, x| logsumexp(x[0], &[-1], false), &[Spec::new([2, 4])], 2);
        check_grads(|_, x| logsumexp(x[0], &[0, 2], true), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| x[0].logsumexp(&[1], false), &[Spec::new([3, 2, 2])], 2);
    }

    #[test]
    fn logsumexp_grad_at_extreme_values_is_finite() {
        // d/dx logsumexp = softmax(x) = [1, 0] at [1000, -1000].
        let gx = eval(|g| {
            let x = g.constant_f64(&[1000.0, -1000.0], [2]);
            crate::grad(logsumexp(x, &[0], false), &[x])[0]
        });
        assert_eq!(gx, [1.0, 0.0]);
    }

    #[test]
    fn logsumexp_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = logsumexp(g.input("x", [2, 3]), &[0, 4], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("logsumexp") && msg.contains("[2, 3]") && msg.contains("axis 4"), "{msg}");
    }
}
