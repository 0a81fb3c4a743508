//! `argmax(x, axis)`: the index of the largest element along `axis`, as a float, with the
//! axis dropped. The first maximal element wins ties; a NaN counts as larger than every number
//! (so the first NaN's index is returned, as in NumPy).
//!
//! Shape: `x`'s shape without `axis`. An axis of size 0 has no maximum: a shape error when the
//! size is known at build time, an `OpFailure` when it is the batch dimension and the run's
//! batch is empty. Indices are exact up to 2^24 in `f32` and 2^53 in `f64`.
//!
// no-gradient: the output is piecewise constant in `x` (integer indices).

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{map_groups, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::{normalize_axis, Dim, Shape};

/// Index of the maximum along an axis.
#[derive(Debug, Clone, Copy)]
pub struct Argmax {
    /// The axis (may be negative).
    pub axis: isize,
}

impl<F: Scalar> Op<F> for Argmax {
    fn name(&self) -> &'static str {
        "argmax"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        let axis = x.normalize_axis(self.axis)?;
        if x.dim(axis) == Dim::Fixed(0) {
            return Err(ShapeError::Custom(format!("axis {} of {x} is empty and has no maximum", self.axis)));
        }
        Ok(x.reduced(&[axis], false))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let axis = normalize_axis(self.axis, xd.len()).expect("invariant: axis checked at build");
        let groups = Groups::along(xd, axis);
        let out = cx.out();
        if groups.is_empty() && !out.is_empty() {
            return Err(OpFailure(format!("argmax along axis {} of dims {xd:?}: the axis is empty", self.axis)));
        }
        map_groups(&groups, out, |_, base| {
            let (_, best, _) = groups.fold(x, base, (F::neg_infinity(), 0usize, 0usize), |(m, best, k), v| {
                if v > m || (v.is_nan() && !m.is_nan()) {
                    (v, k, k + 1)
                } else {
                    (m, best, k + 1)
                }
            });
            F::of(best as f64)
        });
        Ok(())
    }
    fn vjp<'g>(&self, _cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([None])
    }
}

/// The index of the maximum of `x` along `axis` (first wins ties), as a float; the axis is
/// dropped.
#[track_caller]
pub fn argmax<F: Scalar>(x: Tensor<'_, F>, axis: isize) -> Tensor<'_, F> {
    x.graph().apply(Argmax { axis }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn argmax_forward() {
        // x = [[1, 7, 3], [9, 2, 9]]: rows → 1 and 0 (the first 9); columns → 1, 0, 1.
        let x = [1.0, 7.0, 3.0, 9.0, 2.0, 9.0];
        assert_forward(|g| argmax(g.constant_f64(&x, [2, 3]), -1), &[1.0, 0.0]);
        assert_forward(|g| argmax(g.constant_f64(&x, [2, 3]), 0), &[1.0, 0.0, 1.0]);
        // All -inf: the first element is a maximum.
        assert_forward(|g| argmax(g.constant_f64(&[f64::NEG_INFINITY; 3], [3]), 0), &[0.0]);
        // The first NaN wins.
        assert_forward(|g| argmax(g.constant_f64(&[1.0, f64::NAN, 5.0, f64::NAN], [4]), 0), &[1.0]);
        // A middle axis: x[i, :, j] of [2, 3, 2].
        let y = [0.0, 5.0, 4.0, 1.0, 2.0, 3.0, 1.0, 1.0, 0.0, 2.0, 3.0, 0.0];
        assert_forward(|g| argmax(g.constant_f64(&y, [2, 3, 2]), 1), &[1.0, 0.0, 2.0, 1.0]);
    }

    #[test]
    fn argmax_grad_is_zero() {
        // Distinct values: perturbations do not move the maximum, so the numerical gradient is
        // zero, and the symbolic one is zero because no gradient flows. Order 1: there is no
        // gradient to differentiate again.
        check_grads(|_, x| argmax(x[0], 1), &[Spec::new([3, 4])], 1);
        // And it does not block other paths: d/dx (x * argmax(x)) = argmax(x).
        check_grads(|_, x| x[0] * argmax(x[0], 0), &[Spec::new([4])], 1);
    }

    #[test]
    fn argmax_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = argmax(g.input("x", [2, 3]), 2);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("argmax") && msg.contains("[2, 3]") && msg.contains("axis 2"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = argmax(g.input("x", [2, 0]), 1);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("argmax") && msg.contains("[2, 0]") && msg.contains("empty"), "{msg}");
    }
}
