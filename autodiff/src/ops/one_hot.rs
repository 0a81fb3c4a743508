//! `one_hot(indices, depth)`: `y[q..., c] = 1` if `indices[q...] = c`, else `0` (TF's `one_hot`
//! with `on_value = 1`, `off_value = 0`). `indices` is a float tensor holding integers. An index
//! that is negative, at least `depth` or not an integer fails the run, naming the index: TF
//! gives an all-zero row there, which a cross-entropy then reads as an example without a target
//! (labels numbered from 1 instead of 0 would train silently on part of the data).
//!
//! no-gradient: the output is piecewise constant in `indices` (zero derivative almost
//! everywhere), so the VJP is `None`.
//!
//! Shape: `indices.shape + [depth]`; the batch dimension may be anywhere in `indices`. Values
//! are exactly 0 and 1.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops::to_index;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// One-hot encoding of float-encoded class indices.
#[derive(Debug, Clone, Copy)]
pub struct OneHot {
    /// Number of classes (size of the new last axis).
    pub depth: usize,
}

impl OneHot {
    /// The class of a float-encoded index, or the run's failure naming it.
    fn class<F: Scalar>(&self, v: F) -> Result<usize, OpFailure> {
        let v = v.to_f64_lossless();
        to_index(v, self.depth)
            .map_err(|_| OpFailure(format!("index {v} is not a class of depth {} (an integer in 0..{0})", self.depth)))
    }
}

impl<F: Scalar> Op<F> for OneHot {
    fn name(&self) -> &'static str {
        "one_hot"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let mut s = inputs[0].clone();
        s.dims_mut().push(Dim::Fixed(self.depth));
        Ok(s)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let idx = cx.input(0);
        let out = cx.out();
        out.fill(F::zero());
        if self.depth == 0 {
            // No index is a class of depth 0.
            return idx.first().map_or(Ok(()), |&v| self.class(v).map(|_| ()));
        }
        for (row, &v) in out.chunks_exact_mut(self.depth).zip(idx) {
            row[self.class(v)?] = F::one();
        }
        Ok(())
    }
    fn vjp<'g>(&self, _cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([None])
    }
}

/// One-hot rows of length `depth` for the class indices `indices` (float-encoded integers).
#[track_caller]
pub fn one_hot<F: Scalar>(indices: Tensor<'_, F>, depth: usize) -> Tensor<'_, F> {
    indices.graph().apply(OneHot { depth }, &[indices])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn one_hot_forward() {
        // Classes 2, 0 of 3: [[0, 0, 1], [1, 0, 0]].
        assert_forward(|g| one_hot(g.constant_f64(&[2.0, 0.0], [2]), 3), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        // Out of range (3), negative (-1) and non-integer (0.5) indices fail the run.
        for bad in [3.0, -1.0, 0.5] {
            let g = Graph::<f64>::new();
            let y = one_hot(g.constant_f64(&[1.0, bad], [2]), 3);
            let e = Session::new(g.compile(&[y]).unwrap(), 0).run(&ParamStore::new(0), &[]).err().unwrap();
            assert!(e.to_string().starts_with("one_hot at autodiff/src/ops/one_hot.rs"), "{e}");
            assert!(
                e.to_string().contains(&format!("index {bad} is not a class of depth 3 (an integer in 0..3)")),
                "{e}"
            );
        }
        // A scalar index gives one row.
        assert_forward(|g| one_hot(g.scalar(1.0), 2), &[0.0, 1.0]);
    }

    #[test]
    fn one_hot_shape_keeps_batch_dimension() {
        let g = Graph::<f64>::new();
        let labels = g.input("labels", [B]);
        assert_eq!(one_hot(labels, 10).shape(), Shape::from([B, Dim::Fixed(10)]));
    }

    #[test]
    fn one_hot_has_no_gradient() {
        // Σ w ⊙ one_hot(i) is piecewise constant in i: its gradient is zero.
        assert_forward(
            |g| {
                let i = g.constant_f64(&[2.0, 0.0], [2]);
                let w = g.constant_f64(&[1.0, 2.0, 3.0], [3]);
                crate::grad((one_hot(i, 3) * w).sum_all(), &[i])[0]
            },
            &[0.0, 0.0],
        );
        // And it passes through as a constant: d/dx Σ x² ⊙ one_hot(i) = 2x ⊙ one_hot(i).
        check_grads(|g, x| x[0] * x[0] * one_hot(g.constant_f64(&[1.0, 0.0], [2]), 3), &[Spec::new([2, 3])], 2);
    }
}
