//! `reduce_min(x, axes, keep_dims)`: the minimum over the given axes (negative axes count from
//! the end). A NaN in a group makes its minimum NaN; an empty group gives `+inf`.
//!
//! VJP: `gx = tie_weights(x, y) * gy`: the gradient goes to the minimal elements, split equally
//! among ties (TensorFlow's rule). Shape rule as `reduce_sum`.
//!
//! Domain: standard normal values, which have no ties. The second derivative is zero away
//! from ties (the function is piecewise linear), and the order-2 check confirms it.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce::reduce;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_max::split_among_ties;
use crate::ops::reduce_sum::reduced_mask;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Minimum over axes.
#[derive(Debug, Clone)]
pub struct ReduceMin {
    /// Axes to reduce (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Keep reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for ReduceMin {
    fn name(&self) -> &'static str {
        "reduce_min"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let axes = inputs[0].normalize_axes(&self.axes)?;
        Ok(inputs[0].reduced(&axes, self.keep_dims))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let mask = reduced_mask(&self.axes, xd.len());
        // `b < a` alone would skip NaN; once the accumulator is NaN no comparison replaces it.
        reduce(x, xd, &mask, cx.out(), F::infinity(), |a, b| if b < a || b.is_nan() { b } else { a });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(split_among_ties(cx, &self.axes, self.keep_dims))])
    }
}

/// The minimum of `x` over `axes`.
#[track_caller]
pub fn reduce_min<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    x.graph().apply(ReduceMin { axes: axes.into(), keep_dims }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::testing::*;

    #[test]
    fn reduce_min_forward() {
        // x = [[1, 5, -2], [4, 0, 6]]: column minima 1, 0, -2; row minima -2, 0; overall -2.
        let x = [1.0, 5.0, -2.0, 4.0, 0.0, 6.0];
        assert_forward(|g| reduce_min(g.constant_f64(&x, [2, 3]), &[0], false), &[1.0, 0.0, -2.0]);
        assert_forward(|g| reduce_min(g.constant_f64(&x, [2, 3]), &[-1], true), &[-2.0, 0.0]);
        assert_forward(|g| reduce_min(g.constant_f64(&x, [2, 3]), &[1, 0], false), &[-2.0]);
        assert_forward(|g| reduce_min(g.constant_f64(&[f64::INFINITY, 1e300], [2]), &[0], false), &[1e300]);
        assert_forward(|g| reduce_min(g.constant_f64(&[1.0, f64::NAN, 0.0], [3]), &[0], false), &[f64::NAN]);
        assert_forward(|g| reduce_min(g.constant_f64(&[], [0]), &[0], false), &[f64::INFINITY]);
    }

    #[test]
    fn reduce_min_grad() {
        check_grads(|_, x| reduce_min(x[0], &[0, 2], false), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| reduce_min(x[0], &[1], true), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| reduce_min(x[0], &[-1], false) * reduce_min(x[0], &[-1], false), &[Spec::new([3, 4])], 2);
    }

    #[test]
    fn reduce_min_grad_splits_ties_equally() {
        // Column [0, 0, 1, 0] has three minimal elements: 1/3 each.
        let gx = eval(|g| {
            let x = g.constant_f64(&[0.0, 0.0, 1.0, 0.0], [4, 1]);
            grad(reduce_min(x, &[0], true).sum_all(), &[x])[0]
        });
        assert_eq!(gx, [1.0 / 3.0, 1.0 / 3.0, 0.0, 1.0 / 3.0]);
    }

    #[test]
    fn reduce_min_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = reduce_min(g.input("x", [4]), &[1], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("reduce_min") && msg.contains("[4]") && msg.contains("axis 1"), "{msg}");
    }
}
