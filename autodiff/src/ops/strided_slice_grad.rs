//! `strided_slice_grad(g, axis, start, stride, size)`: the adjoint of `strided_slice`. The
//! output has `size` positions on `axis`, all zero except `y[..., start + k·stride, ...] =
//! g[..., k, ...]`.
//!
//! VJP: `gg = strided_slice(gy, axis, start, start + (m - 1)·stride + 1, stride)` for `m`
//! positions in `g` (reading back what was scattered). Shape: `axis` goes from `m` to `size`;
//! `start + (m - 1)·stride < size` and `stride >= 1`. The batch dimension may be on any other
//! axis. Domain: all reals (linear, exact).

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops::{around_axis, unslice_axis};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::slice::fixed_axis;
use crate::ops::strided_slice;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Scatter into every `stride`-th position of zeros.
#[derive(Debug, Clone, Copy)]
pub struct StridedSliceGrad {
    /// The axis (negative counts from the end).
    pub axis: isize,
    /// Position of the first row of the input.
    pub start: usize,
    /// Step between positions (at least 1).
    pub stride: usize,
    /// Size of the axis in the output.
    pub size: usize,
}

impl<F: Scalar> Op<F> for StridedSliceGrad {
    fn name(&self) -> &'static str {
        "strided_slice_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let g = inputs[0];
        let (a, m) = fixed_axis(g, self.axis, "scatter along")?;
        if self.stride == 0 {
            return Err(ShapeError::Custom("stride must be at least 1, got 0".into()));
        }
        let fits = if m == 0 { self.start <= self.size } else { self.start + (m - 1) * self.stride < self.size };
        if !fits {
            return Err(ShapeError::Custom(format!(
                "{m} positions from {} by {} do not fit in an axis of size {}",
                self.start, self.stride, self.size
            )));
        }
        Ok(g.with_dim(a, Dim::Fixed(self.size)))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (g, gd) = (cx.input(0), cx.input_dims(0));
        let od = cx.out_dims();
        let a = crate::shape::normalize_axis(self.axis, gd.len()).expect("invariant: axis checked at build");
        unslice_axis(g, around_axis(od, a), self.start, self.stride, gd[a], F::zero(), cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gs = cx.input(0).shape();
        let (a, m) = fixed_axis(&gs, self.axis, "scatter along").expect("invariant: axis checked at build");
        let end = if m == 0 { self.start } else { self.start + (m - 1) * self.stride + 1 };
        grads([Some(strided_slice(cx.grad_output(), a as isize, self.start, end, self.stride))])
    }
}

/// Zeros with `size` positions on `axis`, holding row `k` of `g` at position `start + k·stride`.
#[track_caller]
pub fn strided_slice_grad<F: Scalar>(
    g: Tensor<'_, F>,
    axis: isize,
    start: usize,
    stride: usize,
    size: usize,
) -> Tensor<'_, F> {
    g.graph().apply(StridedSliceGrad { axis, start, stride, size }, &[g])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn strided_slice_grad_forward() {
        // [1, 2, 3] to positions 1, 4, 7 of 9 zeros.
        assert_forward(
            |g| strided_slice_grad(g.constant_f64(&[1.0, 2.0, 3.0], [3]), 0, 1, 3, 9),
            &[0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0],
        );
        // Rows [1, 2] and [3, 4] to rows 0 and 2 of a [3, 2] zero matrix.
        assert_forward(
            |g| strided_slice_grad(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), 0, 0, 2, 3),
            &[1.0, 2.0, 0.0, 0.0, 3.0, 4.0],
        );
        // Last axis of [2, 2] to positions 0 and 2 of 3: [[1, 0, 2], [3, 0, 4]].
        assert_forward(
            |g| strided_slice_grad(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), -1, 0, 2, 3),
            &[1.0, 0.0, 2.0, 3.0, 0.0, 4.0],
        );
    }

    #[test]
    fn strided_slice_grad_grad() {
        check_grads(|_, x| strided_slice_grad(x[0], 1, 1, 2, 6), &[Spec::new([2, 3, 2])], 2);
        check_grads(
            |_, x| {
                let y = strided_slice_grad(x[0], 0, 2, 3, 9);
                y * y
            },
            &[Spec::new([3, 2])],
            2,
        );
    }

    #[test]
    fn strided_slice_grad_shape_error() {
        let g = Graph::<f64>::new();
        // Three positions from 1 by 3 end at 7, which does not fit in 7.
        let _ = strided_slice_grad(g.input("x", [3, 2]), 0, 1, 3, 7);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("strided_slice_grad") && msg.contains("size 7") && msg.contains("[3, 2]"), "{msg}");
    }
}
