//! `matrix_diag(v)`: square matrices with `v` on the diagonal and zeros elsewhere,
//! `y[..., i, j] = (i == j) ? v[..., i] : 0`.
//!
//! Shapes: `v` is `[..., n]` (rank >= 1; the leading axes, which may include the batch
//! dimension, are a batch), `y` is `[..., n, n]`.
//!
//! VJP: `gv = matrix_diag_part(gy)` (off-diagonal cotangents do not reach `v`). Linear, so the
//! second derivative is 0. Domain in gradient checks: all reals. Numerics: a copy, exact.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::linalg::for_each_matrix_ok;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matrix_diag_part;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Diagonal matrices from a batch of vectors.
#[derive(Debug, Clone, Copy)]
pub struct MatrixDiag;

impl<F: Scalar> Op<F> for MatrixDiag {
    fn name(&self) -> &'static str {
        "matrix_diag"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let v = inputs[0];
        let Some(&n) = v.dims().last() else {
            return Err(ShapeError::Custom(format!("the diagonal must have rank >= 1, got a scalar {v}")));
        };
        let mut out = v.clone();
        out.dims_mut().push(n);
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let v = cx.input(0);
        let n = *cx.out_dims().last().expect("invariant: rank >= 2");
        let numel = cx.out().len();
        for_each_matrix_ok(cx.out(), n * n, numel, |b, m| {
            m.iter_mut().for_each(|x| *x = F::zero());
            for (i, &d) in v[b * n..(b + 1) * n].iter().enumerate() {
                m[i * n + i] = d;
            }
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(matrix_diag_part(cx.grad_output()))])
    }
}

/// The `[..., n, n]` diagonal matrices with diagonals `v: [..., n]`.
#[track_caller]
pub fn matrix_diag<F: Scalar>(v: Tensor<'_, F>) -> Tensor<'_, F> {
    v.graph().apply(MatrixDiag, &[v])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn matrix_diag_forward() {
        assert_forward(|g| matrix_diag(g.constant_f64(&[1.0, 2.0], [2])), &[1.0, 0.0, 0.0, 2.0]);
        // A batch of two: [[3,0],[0,4]] and [[5,0],[0,6]].
        assert_forward(
            |g| matrix_diag(g.constant_f64(&[3.0, 4.0, 5.0, 6.0], [2, 2])),
            &[3.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0, 6.0],
        );
        // n = 1: the vector [7] becomes the 1×1 matrix [[7]].
        assert_forward(|g| matrix_diag(g.constant_f64(&[7.0], [1])), &[7.0]);
    }

    #[test]
    fn matrix_diag_grad() {
        check_grads(|_, x| matrix_diag(x[0]), &[Spec::new([3])], 2);
        check_grads(|_, x| matrix_diag(x[0]) * matrix_diag(x[0]), &[Spec::new([2, 3, 2])], 2);
    }

    #[test]
    fn matrix_diag_shape_error() {
        let g = Graph::<f64>::new();
        let _ = matrix_diag(g.scalar(1.0));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matrix_diag") && msg.contains("rank >= 1") && msg.contains("[]"), "{msg}");
    }
}
