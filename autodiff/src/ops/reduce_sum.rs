//! `reduce_sum(x, axes, keep_dims)`: sum over the given axes (negative axes count from the end).
//!
//! VJP: `gx = broadcast_to(reshape(gy, keep-dims shape), x.shape)`. Domain: all reals.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce::sum;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::{broadcast_to, reshape};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Sum over axes.
#[derive(Debug, Clone)]
pub struct ReduceSum {
    /// Axes to sum over (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Keep reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for ReduceSum {
    fn name(&self) -> &'static str {
        "reduce_sum"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let axes = inputs[0].normalize_axes(&self.axes)?;
        Ok(inputs[0].reduced(&axes, self.keep_dims))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let mask = reduced_mask(&self.axes, xd.len());
        sum(x, xd, &mask, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let x = cx.input(0);
        let xs = x.shape();
        let axes = xs.normalize_axes(&self.axes).expect("invariant: axes checked at build");
        let kept = xs.reduced(&axes, true);
        let gy = if self.keep_dims { cx.grad_output() } else { reshape(cx.grad_output(), kept) };
        grads([Some(broadcast_to(gy, xs))])
    }
}

/// Which axes of a rank-`rank` tensor are reduced (axes already validated).
pub(crate) fn reduced_mask(axes: &[isize], rank: usize) -> SmallVec<[bool; 6]> {
    let mut m = SmallVec::from_elem(false, rank);
    for &a in axes {
        m[crate::shape::normalize_axis(a, rank).expect("invariant: axes checked at build")] = true;
    }
    m
}

/// Sums `x` over `axes`.
#[track_caller]
pub fn reduce_sum<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    x.graph().apply(ReduceSum { axes: axes.into(), keep_dims }, &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Sum of all elements, as a scalar.
    #[track_caller]
    pub fn sum_all(self) -> Tensor<'g, F> {
        let axes: SmallVec<[isize; 4]> = (0..self.rank() as isize).collect();
        self.graph().apply(ReduceSum { axes, keep_dims: false }, &[self])
    }
    /// Sum over `axes`.
    #[track_caller]
    pub fn sum(self, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
        reduce_sum(self, axes, keep_dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn reduce_sum_forward() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_forward(|g| reduce_sum(g.constant_f64(&x, [2, 3]), &[0], false), &[5.0, 7.0, 9.0]);
        assert_forward(|g| reduce_sum(g.constant_f64(&x, [2, 3]), &[-1], true), &[6.0, 15.0]);
        assert_forward(|g| g.constant_f64(&x, [2, 3]).sum_all(), &[21.0]);
    }

    #[test]
    fn reduce_sum_grad() {
        check_grads(|_, x| reduce_sum(x[0], &[0, 2], false), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| reduce_sum(x[0], &[1], true), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| x[0].sum_all(), &[Spec::new([3, 2])], 2);
    }
}
