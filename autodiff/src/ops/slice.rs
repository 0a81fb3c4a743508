//! `slice(x, axis, start, end)`: the positions `start..end` of one axis, `y[..., k, ...] =
//! x[..., start + k, ...]` for `k < end - start`.
//!
//! VJP: `gx = pad(gy, (start, n - end) on axis, 0)`, zeros where `x` was cut away. Shape: the
//! axis shrinks to `end - start`; `start <= end <= n`. The batch dimension may be on any other
//! axis; slicing the batch axis itself is an error, since its size (and so the cut) is only known
//! at run time. Domain: all reals (linear, exact).
//!
//! The kernel copies one contiguous block of `(end - start) · inner` values per outer index.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops::{around_axis, slice_axis};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::pad;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// A contiguous range of one axis.
#[derive(Debug, Clone, Copy)]
pub struct Slice {
    /// The axis (negative counts from the end).
    pub axis: isize,
    /// First position kept.
    pub start: usize,
    /// One past the last position kept.
    pub end: usize,
}

/// The fixed size of `axis` of `x`, or an error naming the op if it is the batch dimension.
pub(crate) fn fixed_axis(x: &Shape, axis: isize, what: &str) -> Result<(usize, usize), ShapeError> {
    let a = x.normalize_axis(axis)?;
    match x.dim(a) {
        Dim::Fixed(n) => Ok((a, n)),
        Dim::Batch => Err(ShapeError::Custom(format!(
            "cannot {what} axis {a} of {x}: it is the batch dimension, whose size is only known at run time"
        ))),
    }
}

impl<F: Scalar> Op<F> for Slice {
    fn name(&self) -> &'static str {
        "slice"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        let (a, n) = fixed_axis(x, self.axis, "slice")?;
        if self.start > self.end || self.end > n {
            return Err(ShapeError::Custom(format!(
                "range {}..{} is not within axis {a} of size {n}",
                self.start, self.end
            )));
        }
        Ok(x.with_dim(a, Dim::Fixed(self.end - self.start)))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let a = crate::shape::normalize_axis(self.axis, xd.len()).expect("invariant: axis checked at build");
        slice_axis(x, around_axis(xd, a), self.start, 1, self.end - self.start, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let xs = cx.input(0).shape();
        let (a, n) = fixed_axis(&xs, self.axis, "slice").expect("invariant: axis checked at build");
        let mut p: SmallVec<[(usize, usize); 4]> = SmallVec::from_elem((0, 0), xs.rank());
        p[a] = (self.start, n - self.end);
        grads([Some(pad(cx.grad_output(), &p, 0.0))])
    }
}

/// Positions `start..end` of axis `axis` of `x`.
#[track_caller]
pub fn slice<F: Scalar>(x: Tensor<'_, F>, axis: isize, start: usize, end: usize) -> Tensor<'_, F> {
    x.graph().apply(Slice { axis, start, end }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    fn iota(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn slice_forward() {
        // x = [[0, 1, 2, 3], [4, 5, 6, 7]]; columns 1..3 are [[1, 2], [5, 6]].
        assert_forward(|g| slice(g.constant_f64(&iota(8), [2, 4]), 1, 1, 3), &[1.0, 2.0, 5.0, 6.0]);
        // Row 1..2 is [[4, 5, 6, 7]]; the negative axis -2 is axis 0.
        assert_forward(|g| slice(g.constant_f64(&iota(8), [2, 4]), -2, 1, 2), &[4.0, 5.0, 6.0, 7.0]);
        // Middle axis of [2, 3, 2] (x[i, j, k] = 6i + 2j + k), positions 2..3: x[:, 2, :] = [4, 5, 10, 11].
        assert_forward(|g| slice(g.constant_f64(&iota(12), [2, 3, 2]), 1, 2, 3), &[4.0, 5.0, 10.0, 11.0]);
    }

    #[test]
    fn slice_grad() {
        check_grads(|_, x| slice(x[0], 1, 1, 3), &[Spec::new([2, 4, 2])], 2);
        check_grads(|_, x| slice(x[0], 0, 0, 1) * slice(x[0], 0, 2, 3), &[Spec::new([3, 2])], 2);
    }

    #[test]
    fn slice_with_batch_dimension_on_another_axis() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(3)]);
        let y = slice(x, 1, 1, 3);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(2)]));
        let gx = crate::grad((y * y).sum_all(), &[x])[0];
        let mut s = Session::new(g.compile(&[y, gx]).unwrap(), 0);
        // Batch 2: x = [[0, 1, 2], [3, 4, 5]]; y = [[1, 2], [4, 5]]; d/dx Σ y² = 2y in place, 0 elsewhere.
        let out = s.run(&ParamStore::new(0), &[("x", &iota(6))]).unwrap();
        assert_eq!(out[0], [1.0, 2.0, 4.0, 5.0]);
        assert_eq!(out[1], [0.0, 2.0, 4.0, 0.0, 8.0, 10.0]);
    }

    #[test]
    fn slice_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = slice(g.input("x", [B, Dim::Fixed(3)]), 0, 0, 2);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("slice") && msg.contains("batch dimension") && msg.contains("[B, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = slice(g.input("x", [2, 3]), 1, 1, 4);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("slice") && msg.contains("1..4") && msg.contains("[2, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = slice(g.input("x", [2, 3]), 2, 0, 1);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("slice") && msg.contains("axis 2"), "{msg}");
    }
}
