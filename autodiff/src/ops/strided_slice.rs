//! `strided_slice(x, axis, start, end, stride)`: every `stride`-th position of `start..end` on
//! one axis, `y[..., k, ...] = x[..., start + k·stride, ...]` for `k < ⌈(end - start) / stride⌉`.
//!
//! VJP: `gx = strided_slice_grad(gy, axis, start, stride, n)`, which scatters `gy` back to those
//! positions of zeros. Shape: the axis becomes `⌈(end - start) / stride⌉`; `start <= end <= n`
//! and `stride >= 1`. The batch dimension may be on any other axis, not the sliced one.
//! Domain: all reals (linear, exact).
//!
//! The kernel copies one contiguous row of the inner axes per kept position.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops::{around_axis, slice_axis};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::slice::fixed_axis;
use crate::ops::strided_slice_grad;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Every `stride`-th position of a range of one axis.
#[derive(Debug, Clone, Copy)]
pub struct StridedSlice {
    /// The axis (negative counts from the end).
    pub axis: isize,
    /// First position kept.
    pub start: usize,
    /// Positions from `end` on are not kept.
    pub end: usize,
    /// Step between kept positions (at least 1).
    pub stride: usize,
}

impl StridedSlice {
    fn count(&self) -> usize {
        (self.end - self.start).div_ceil(self.stride)
    }
}

impl<F: Scalar> Op<F> for StridedSlice {
    fn name(&self) -> &'static str {
        "strided_slice"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        let (a, n) = fixed_axis(x, self.axis, "slice")?;
        if self.stride == 0 {
            return Err(ShapeError::Custom("stride must be at least 1, got 0".into()));
        }
        if self.start > self.end || self.end > n {
            return Err(ShapeError::Custom(format!(
                "range {}..{} is not within axis {a} of size {n}",
                self.start, self.end
            )));
        }
        Ok(x.with_dim(a, Dim::Fixed(self.count())))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let a = crate::shape::normalize_axis(self.axis, xd.len()).expect("invariant: axis checked at build");
        slice_axis(x, around_axis(xd, a), self.start, self.stride, self.count(), cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let xs = cx.input(0).shape();
        let (a, n) = fixed_axis(&xs, self.axis, "slice").expect("invariant: axis checked at build");
        grads([Some(strided_slice_grad(cx.grad_output(), a as isize, self.start, self.stride, n))])
    }
}

/// Positions `start, start + stride, …` (below `end`) of axis `axis` of `x`.
#[track_caller]
pub fn strided_slice<F: Scalar>(
    x: Tensor<'_, F>,
    axis: isize,
    start: usize,
    end: usize,
    stride: usize,
) -> Tensor<'_, F> {
    x.graph().apply(StridedSlice { axis, start, end, stride }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;

    fn iota(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn strided_slice_forward() {
        // 0..10 from 1 below 8 by 3: positions 1, 4, 7.
        assert_forward(|g| strided_slice(g.constant_f64(&iota(10), [10]), 0, 1, 8, 3), &[1.0, 4.0, 7.0]);
        // Below 7 instead: ⌈6 / 3⌉ = 2 positions, 1 and 4.
        assert_forward(|g| strided_slice(g.constant_f64(&iota(10), [10]), 0, 1, 7, 3), &[1.0, 4.0]);
        // Rows 0 and 2 of [[0, 1], [2, 3], [4, 5]] (rows move as contiguous blocks).
        assert_forward(|g| strided_slice(g.constant_f64(&iota(6), [3, 2]), 0, 0, 3, 2), &[0.0, 1.0, 4.0, 5.0]);
        // Middle axis of [2, 4, 2] (x[i, j, k] = 8i + 2j + k), j in {1, 3}: [2, 3, 6, 7, 10, 11, 14, 15].
        assert_forward(
            |g| strided_slice(g.constant_f64(&iota(16), [2, 4, 2]), 1, 1, 4, 2),
            &[2.0, 3.0, 6.0, 7.0, 10.0, 11.0, 14.0, 15.0],
        );
        // Stride 1 is a plain slice.
        assert_forward(|g| strided_slice(g.constant_f64(&iota(5), [5]), -1, 2, 4, 1), &[2.0, 3.0]);
    }

    #[test]
    fn strided_slice_grad_order2() {
        check_grads(|_, x| strided_slice(x[0], 1, 1, 5, 2), &[Spec::new([2, 5, 2])], 2);
        check_grads(
            |_, x| {
                let y = strided_slice(x[0], -1, 0, 7, 3);
                y * y
            },
            &[Spec::new([2, 7])],
            2,
        );
    }

    #[test]
    fn strided_slice_with_batch_dimension_on_another_axis() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(6)]);
        assert_eq!(strided_slice(x, 1, 0, 6, 4).shape(), Shape::from([B, Dim::Fixed(2)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn strided_slice_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = strided_slice(g.input("x", [B, Dim::Fixed(3)]), 0, 0, 4, 2);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("strided_slice") && msg.contains("batch dimension") && msg.contains("[B, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = strided_slice(g.input("x", [2, 3]), 1, 0, 3, 0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("strided_slice") && msg.contains("stride") && msg.contains("[2, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = strided_slice(g.input("x", [2, 3]), 1, 2, 5, 1);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("strided_slice") && msg.contains("2..5"), "{msg}");
    }
}
