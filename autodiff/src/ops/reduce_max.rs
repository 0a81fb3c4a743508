//! `reduce_max(x, axes, keep_dims)`: the maximum over the given axes (negative axes count from
//! the end). A NaN in a group makes its maximum NaN; an empty group gives `-inf`.
//!
//! VJP: `gx = tie_weights(x, y) * gy`: the gradient goes to the maximal elements, split equally
//! among ties (TensorFlow's rule). Shape rule as `reduce_sum`.
//!
//! Domain: standard normal values, which have no ties. The second derivative is zero away
//! from ties (the function is piecewise linear), and the order-2 check confirms it.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce::reduce;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_sum::reduced_mask;
use crate::ops::{reshape, tie_weights};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Maximum over axes.
#[derive(Debug, Clone)]
pub struct ReduceMax {
    /// Axes to reduce (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Keep reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for ReduceMax {
    fn name(&self) -> &'static str {
        "reduce_max"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let axes = inputs[0].normalize_axes(&self.axes)?;
        Ok(inputs[0].reduced(&axes, self.keep_dims))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let mask = reduced_mask(&self.axes, xd.len());
        // `b > a` alone would skip NaN; once the accumulator is NaN no comparison replaces it.
        reduce(x, xd, &mask, cx.out(), F::neg_infinity(), |a, b| if b > a || b.is_nan() { b } else { a });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(split_among_ties(cx, &self.axes, self.keep_dims))])
    }
}

/// `tie_weights(x, y) * gy` for a reduction to `y` over `axes`, with `gy` reshaped to keep the
/// reduced axes so that it broadcasts against `x`.
pub(crate) fn split_among_ties<'g, F: Scalar>(cx: &VjpCx<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    let (x, y, gy) = (cx.input(0), cx.output(), cx.grad_output());
    let gy = if keep_dims {
        gy
    } else {
        let xs = x.shape();
        let norm = xs.normalize_axes(axes).expect("invariant: axes checked at build");
        reshape(gy, xs.reduced(&norm, true))
    };
    tie_weights(x, y, axes, keep_dims) * gy
}

/// The maximum of `x` over `axes`.
#[track_caller]
pub fn reduce_max<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    x.graph().apply(ReduceMax { axes: axes.into(), keep_dims }, &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Maximum over `axes`.
    #[track_caller]
    pub fn max(self, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
        reduce_max(self, axes, keep_dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::testing::*;

    #[test]
    fn reduce_max_forward() {
        // x = [[1, 5, -2], [4, 0, 6]]: column maxima 4, 5, 6; row maxima 5, 6; overall 6.
        let x = [1.0, 5.0, -2.0, 4.0, 0.0, 6.0];
        assert_forward(|g| reduce_max(g.constant_f64(&x, [2, 3]), &[0], false), &[4.0, 5.0, 6.0]);
        assert_forward(|g| reduce_max(g.constant_f64(&x, [2, 3]), &[-1], true), &[5.0, 6.0]);
        assert_forward(|g| g.constant_f64(&x, [2, 3]).max(&[0, 1], false), &[6.0]);
        // -inf is a value like any other; NaN propagates; an empty group is -inf.
        assert_forward(|g| reduce_max(g.constant_f64(&[f64::NEG_INFINITY, -1e300], [2]), &[0], false), &[-1e300]);
        assert_forward(|g| reduce_max(g.constant_f64(&[1.0, f64::NAN, 2.0], [3]), &[0], false), &[f64::NAN]);
        assert_forward(|g| reduce_max(g.constant_f64(&[], [0]), &[0], false), &[f64::NEG_INFINITY]);
    }

    #[test]
    fn reduce_max_grad() {
        check_grads(|_, x| reduce_max(x[0], &[0, 2], false), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| reduce_max(x[0], &[1], true), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| x[0].max(&[-1], false) * x[0].max(&[-1], false), &[Spec::new([3, 4])], 2);
    }

    #[test]
    fn reduce_max_grad_splits_ties_equally() {
        // Row [1, 3, 3] ties at 3: each maximal element gets 1/2; row [2, 0, 2] likewise.
        let gx = eval(|g| {
            let x = g.constant_f64(&[1.0, 3.0, 3.0, 2.0, 0.0, 2.0], [2, 3]);
            grad(reduce_max(x, &[1], false).sum_all(), &[x])[0]
        });
        assert_eq!(gx, [0.0, 0.5, 0.5, 0.5, 0.0, 0.5]);
    }

    #[test]
    fn reduce_max_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = reduce_max(g.input("x", [2, 3]), &[-3], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("reduce_max") && msg.contains("[2, 3]") && msg.contains("axis -3"), "{msg}");
    }
}
