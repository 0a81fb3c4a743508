//! `gather(x, indices, axis)`: rows of `x` picked along `axis` by index, TF's `gather` with
//! `batch_dims = 0`: `y[p..., q..., s...] = x[p..., indices[q...], s...]` where `p` runs over the
//! axes before `axis` and `s` over those after.
//!
//! `indices` is a float tensor holding integers; an index that is not an integer in
//! `0..x.shape[axis]` fails the run with an error naming the index and the axis size.
//!
//! VJP: `gx = scatter_add(gy, indices, axis, x.shape[axis])` (rows of `gy` added back where they
//! were taken, repeated indices summing); no gradient flows to `indices` (a piecewise-constant
//! selector). Shape: `x.shape[:axis] + indices.shape + x.shape[axis+1:]`. The batch dimension may
//! be anywhere in `x` (including the gathered axis) and in `indices`. Domain: all reals for `x`,
//! fixed valid indices.
//!
//! The kernel validates all indices once, then copies one contiguous row of the inner axes per
//! index and outer position.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops::{around_axis, check_indices, gather_rows, BadIndex};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::scatter_add;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Gathering along one axis by float-encoded indices.
#[derive(Debug, Clone, Copy)]
pub struct Gather {
    /// The axis of `x` indexed (negative counts from the end).
    pub axis: isize,
}

/// The run-time failure for a bad index into an axis of the given size.
pub(crate) fn index_failure(e: BadIndex, axis: usize, size: usize) -> OpFailure {
    match e {
        BadIndex::OutOfRange(v) => OpFailure(format!("index {v} is out of range for axis {axis} of size {size}")),
        BadIndex::NotInteger(v) => {
            OpFailure(format!("index {v} is not an integer (indexing axis {axis} of size {size})"))
        }
    }
}

impl<F: Scalar> Op<F> for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (x, ind) = (inputs[0], inputs[1]);
        let a = x.normalize_axis(self.axis)?;
        let d = x.dims();
        Ok(Shape::new(d[..a].iter().chain(ind.dims()).chain(&d[a + 1..]).copied()))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd, idx) = (cx.input(0), cx.input_dims(0), cx.input(1));
        let a = crate::shape::normalize_axis(self.axis, xd.len()).expect("invariant: axis checked at build");
        let view = around_axis(xd, a);
        check_indices(idx, view.1).map_err(|e| index_failure(e, a, view.1))?;
        gather_rows(x, view, idx, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, indices) = (cx.input(0), cx.input(1));
        let xs = x.shape();
        let a = xs.normalize_axis(self.axis).expect("invariant: axis checked at build");
        grads([Some(scatter_add(cx.grad_output(), indices, a as isize, xs.dim(a))), None])
    }
}

/// The slices of `x` along `axis` at `indices` (float-encoded integers), TF's `gather`.
#[track_caller]
pub fn gather<'g, F: Scalar>(x: Tensor<'g, F>, indices: Tensor<'g, F>, axis: isize) -> Tensor<'g, F> {
    x.graph().apply(Gather { axis }, &[x, indices])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Dim, B};
    use crate::testing::*;
    use crate::{ParamStore, RunError, Session};

    fn iota(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn gather_forward() {
        // Rows 2, 0, 2 of [[0, 1], [2, 3], [4, 5]].
        assert_forward(
            |g| gather(g.constant_f64(&iota(6), [3, 2]), g.constant_f64(&[2.0, 0.0, 2.0], [3]), 0),
            &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0],
        );
        // Columns along axis 1 with a [2, 2] index matrix [[1, 0], [2, 2]] of x = [[0, 1, 2], [3, 4, 5]]:
        // y[p, q0, q1] = x[p, idx[q0, q1]] = [[[1, 0], [2, 2]], [[4, 3], [5, 5]]].
        assert_forward(
            |g| gather(g.constant_f64(&iota(6), [2, 3]), g.constant_f64(&[1.0, 0.0, 2.0, 2.0], [2, 2]), -1),
            &[1.0, 0.0, 2.0, 2.0, 4.0, 3.0, 5.0, 5.0],
        );
        // A scalar index drops the axis: x[1] of [[0, 1], [2, 3]] is [2, 3].
        assert_forward(|g| gather(g.constant_f64(&iota(4), [2, 2]), g.scalar(1.0), 0), &[2.0, 3.0]);
    }

    #[test]
    fn gather_grad() {
        // Repeated indices make the VJP sum rows; the square makes the second order non-trivial.
        check_grads(
            |g, x| {
                let y = gather(x[0], g.constant_f64(&[1.0, 3.0, 1.0, 0.0], [2, 2]), 1);
                y * y
            },
            &[Spec::new([2, 4, 2])],
            2,
        );
        check_grads(|g, x| gather(x[0], g.constant_f64(&[2.0, 2.0], [2]), 0), &[Spec::new([3, 2])], 2);
    }

    #[test]
    fn gather_has_no_gradient_to_indices() {
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 2.0, 3.0], [3]);
                let i = g.constant_f64(&[2.0, 0.0], [2]);
                let y = gather(x, i, 0);
                crate::grad((y * y).sum_all(), &[i])[0]
            },
            &[0.0, 0.0],
        );
    }

    #[test]
    fn gather_with_batch_dimension() {
        // Rows of a batch picked by fixed indices, and a fixed table indexed by a batch of labels.
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(2)]);
        let rows = gather(x, g.constant_f64(&[1.0, 1.0, 0.0], [3]), 0);
        assert_eq!(rows.shape(), Shape::from([3, 2]));
        let table = g.constant_f64(&[10.0, 20.0, 30.0], [3]);
        let labels = g.input("labels", [B]);
        let picked = gather(table, labels, 0);
        assert_eq!(picked.shape(), Shape::from([B]));
        let gx = crate::grad((rows * rows).sum_all(), &[x])[0];
        assert_eq!(gx.shape(), Shape::from([B, Dim::Fixed(2)]));
        let mut s = Session::new(g.compile(&[rows, picked, gx]).unwrap(), 0);
        // x = [[1, 2], [3, 4]]: rows 1, 1, 0; labels [2, 0] pick 30, 10; d/dx Σ rows² counts row 1
        // twice: [2·1, 2·2] and 2 · [2·3, 2·4].
        let out = s.run(&ParamStore::new(0), &[("x", &[1.0, 2.0, 3.0, 4.0]), ("labels", &[2.0, 0.0])]).unwrap();
        assert_eq!(out[0], [3.0, 4.0, 3.0, 4.0, 1.0, 2.0]);
        assert_eq!(out[1], [30.0, 10.0]);
        assert_eq!(out[2], [2.0, 4.0, 12.0, 16.0]);
    }

    #[test]
    fn gather_bad_index_fails_the_run() {
        let g = Graph::<f64>::new();
        let x = g.constant_f64(&iota(6), [2, 3]);
        let i = g.input("i", [2]);
        let y = gather(x, i, 1);
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        let e = s.run(&ParamStore::new(0), &[("i", &[0.0, 3.0])]).map(|_| ()).unwrap_err();
        assert!(matches!(e, RunError::OpFailed { op: "gather", .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("index 3") && msg.contains("axis 1 of size 3"), "{msg}");
        let e = s.run(&ParamStore::new(0), &[("i", &[-1.0, 0.0])]).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("index -1 is out of range"), "{e}");
        let e = s.run(&ParamStore::new(0), &[("i", &[0.5, 0.0])]).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("index 0.5 is not an integer"), "{e}");
    }

    #[test]
    fn gather_runs_in_f32() {
        // Indices up to 2²⁴ are exact in f32; x[3] and x[1] of [0, 0.5, 1, 1.5].
        let g = Graph::<f32>::new();
        let x = g.constant(vec![0.0f32, 0.5, 1.0, 1.5], [4]);
        let y = gather(x, g.constant(vec![3.0f32, 1.0], [2]), 0);
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], [1.5f32, 0.5]);
    }

    #[test]
    fn gather_shape_error() {
        let g = Graph::<f64>::new();
        let _ = gather(g.input("x", [2, 3]), g.input("i", [4]), 2);
        let msg = g.check().unwrap_err().to_string();
        assert!(
            msg.contains("gather") && msg.contains("axis 2") && msg.contains("[2, 3]") && msg.contains("[4]"),
            "{msg}"
        );
    }
}
