//! `scatter_add(updates, indices, axis, size)`: the adjoint of `gather`, a per-axis
//! `unsorted_segment_sum`. The output has `size` positions on `axis` and starts at zero; each
//! slice of `updates` is added into the position its index names:
//! `y[p..., indices[q...], s...] += updates[p..., q..., s...]`.
//!
//! `indices` is a float tensor holding integers; an index that is not an integer in `0..size`
//! fails the run with an error naming the index and the size. Repeated indices sum, serially in
//! index order, so results do not depend on the thread count.
//!
//! VJP: `gupdates = gather(gy, indices, axis)`; no gradient flows to `indices`. Shape: `updates`
//! is `p + indices.shape + s` with `axis = len(p)`, the output `p + [size] + s`; `size` may be
//! the batch dimension (the gradient of a gather along the batch axis). Domain: all reals for
//! `updates`, fixed valid indices.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops::{around_axis, check_indices, scatter_add_rows};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::gather;
use crate::ops::gather::index_failure;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Scatter-add along one axis by float-encoded indices.
#[derive(Debug, Clone, Copy)]
pub struct ScatterAdd {
    /// The axis of the output indexed (negative counts from the end of the output's axes).
    pub axis: isize,
    /// Size of that axis in the output.
    pub size: Dim,
}

impl<F: Scalar> Op<F> for ScatterAdd {
    fn name(&self) -> &'static str {
        "scatter_add"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (u, ind) = (inputs[0], inputs[1]);
        let (ur, ir) = (u.rank(), ind.rank());
        if ur < ir {
            return Err(ShapeError::Custom(format!("updates {u} have lower rank than the indices {ind}")));
        }
        let out_rank = ur - ir + 1;
        let a = crate::shape::normalize_axis(self.axis, out_rank)
            .ok_or(ShapeError::AxisOutOfRange { axis: self.axis, rank: out_rank })?;
        let d = u.dims();
        if &d[a..a + ir] != ind.dims() {
            return Err(ShapeError::Custom(format!(
                "updates {u} do not have the indices' shape {ind} from axis {a} on"
            )));
        }
        Ok(Shape::new(d[..a].iter().copied().chain([self.size]).chain(d[a + ir..].iter().copied())))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (u, idx) = (cx.input(0), cx.input(1));
        let od = cx.out_dims();
        let a = crate::shape::normalize_axis(self.axis, od.len()).expect("invariant: axis checked at build");
        let view = around_axis(od, a);
        check_indices(idx, view.1).map_err(|e| index_failure(e, a, view.1))?;
        scatter_add_rows(u, view, idx, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        let a = gy.shape().normalize_axis(self.axis).expect("invariant: axis checked at build");
        grads([Some(gather(gy, cx.input(1), a as isize)), None])
    }
}

/// Zeros with `size` positions on `axis`, with each slice of `updates` added at the position
/// named by `indices` (float-encoded integers).
#[track_caller]
pub fn scatter_add<'g, F: Scalar>(
    updates: Tensor<'g, F>,
    indices: Tensor<'g, F>,
    axis: isize,
    size: impl Into<Dim>,
) -> Tensor<'g, F> {
    updates.graph().apply(ScatterAdd { axis, size: size.into() }, &[updates, indices])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;
    use crate::{ParamStore, RunError, Session};

    #[test]
    fn scatter_add_forward() {
        // [1, 2, 3] into positions [2, 0, 2] of 4 zeros: [2, 0, 1 + 3, 0].
        assert_forward(
            |g| scatter_add(g.constant_f64(&[1.0, 2.0, 3.0], [3]), g.constant_f64(&[2.0, 0.0, 2.0], [3]), 0, 4),
            &[2.0, 0.0, 4.0, 0.0],
        );
        // Along axis 1 of a [2, 3] output with indices [1, 1]: row p gets u[p, 0] + u[p, 1] in
        // column 1. u = [[1, 2], [3, 4]] -> [[0, 3, 0], [0, 7, 0]].
        assert_forward(
            |g| scatter_add(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), g.constant_f64(&[1.0, 1.0], [2]), 1, 3),
            &[0.0, 3.0, 0.0, 0.0, 7.0, 0.0],
        );
        // Rows (inner size 2) with [2, 1]-shaped indices [[1], [0]] into a [2, 2] output:
        // u = [[[1, 2]], [[3, 4]]] -> row 1 = [1, 2], row 0 = [3, 4].
        assert_forward(
            |g| {
                scatter_add(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 1, 2]), g.constant_f64(&[1.0, 0.0], [2, 1]), 0, 2)
            },
            &[3.0, 4.0, 1.0, 2.0],
        );
    }

    #[test]
    fn scatter_add_grad() {
        check_grads(
            |g, x| {
                let y = scatter_add(x[0], g.constant_f64(&[0.0, 2.0, 0.0], [3]), 1, 4);
                y * y
            },
            &[Spec::new([2, 3, 2])],
            2,
        );
    }

    #[test]
    fn scatter_add_into_batch_axis() {
        let g = Graph::<f64>::new();
        let like = g.input("like", [B]);
        let y = scatter_add(g.constant_f64(&[1.0, 2.0], [2]), g.constant_f64(&[1.0, 1.0], [2]), 0, B) + like;
        assert_eq!(y.shape(), Shape::from([B]));
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        // Batch 3: [0, 1 + 2, 0] + like.
        let out = s.run(&ParamStore::new(0), &[("like", &[0.0, 0.0, 1.0])]).unwrap();
        assert_eq!(out[0], [0.0, 3.0, 1.0]);
        // Batch 1: index 1 is out of range.
        let e = s.run(&ParamStore::new(0), &[("like", &[0.0])]).map(|_| ()).unwrap_err();
        assert!(matches!(e, RunError::OpFailed { op: "scatter_add", .. }), "{e}");
        assert!(e.to_string().contains("index 1 is out of range for axis 0 of size 1"), "{e}");
    }

    #[test]
    fn scatter_add_shape_error() {
        let g = Graph::<f64>::new();
        let _ = scatter_add(g.input("u", [2, 3]), g.input("i", [2]), 1, 5);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("scatter_add") && msg.contains("[2, 3]") && msg.contains("[2]"), "{msg}");
    }
}
