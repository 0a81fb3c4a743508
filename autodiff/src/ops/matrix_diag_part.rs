//! `matrix_diag_part(x)`: the diagonal of each matrix, `y[..., i] = x[..., i, i]`.
//!
//! Shapes: `x` is `[..., n, n]` (square; the leading axes, which may include the batch
//! dimension, are a batch of matrices), `y` is `[..., n]`.
//!
//! VJP: `gx = matrix_diag(gy)` (the diagonal of `gx` is `gy`, everything else 0). Linear, so the
//! second derivative is 0. Domain in gradient checks: all reals. Numerics: a copy, exact.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::linalg::for_each_matrix_ok;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matrix_diag;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// The diagonal of a batch of square matrices.
#[derive(Debug, Clone, Copy)]
pub struct MatrixDiagPart;

/// The size `n` of the square matrices of a `[..., n, n]` shape, or why the shape is not one.
/// Shared by the linear-algebra ops.
pub(crate) fn square_dim(s: &Shape, what: &str) -> Result<Dim, ShapeError> {
    let r = s.rank();
    if r < 2 {
        return Err(ShapeError::Custom(format!("{what} must be a [..., n, n] matrix, got rank {r} shape {s}")));
    }
    let (m, n) = (s.dim(r - 2), s.dim(r - 1));
    if m != n {
        return Err(ShapeError::Custom(format!("{what} must be square in its last two axes, got {s} ({m} × {n})")));
    }
    Ok(n)
}

impl<F: Scalar> Op<F> for MatrixDiagPart {
    fn name(&self) -> &'static str {
        "matrix_diag_part"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        square_dim(x, "the input")?;
        let mut out = x.clone();
        out.dims_mut().pop();
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let x = cx.input(0);
        let n = *cx.out_dims().last().expect("invariant: rank >= 1");
        let numel = cx.out().len();
        for_each_matrix_ok(cx.out(), n, numel, |b, o| {
            let m = &x[b * n * n..(b + 1) * n * n];
            for (i, v) in o.iter_mut().enumerate() {
                *v = m[i * n + i];
            }
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(matrix_diag(cx.grad_output()))])
    }
}

/// The diagonal `[..., n]` of each matrix of `x: [..., n, n]`.
#[track_caller]
pub fn matrix_diag_part<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    x.graph().apply(MatrixDiagPart, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn matrix_diag_part_forward() {
        // diag [[1,2],[3,4]] = [1,4].
        assert_forward(|g| matrix_diag_part(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2])), &[1.0, 4.0]);
        // A [2, 3] batch of 2×2 matrices holding 0..24: matrix b is [4b, 4b+1, 4b+2, 4b+3], whose
        // diagonal is [4b, 4b+3].
        let x: Vec<f64> = (0..24).map(f64::from).collect();
        let want: Vec<f64> = (0..6).flat_map(|b| [4.0 * b as f64, 4.0 * b as f64 + 3.0]).collect();
        assert_forward(|g| matrix_diag_part(g.constant_f64(&x, [2, 3, 2, 2])), &want);
    }

    #[test]
    fn matrix_diag_part_grad() {
        check_grads(|_, x| matrix_diag_part(x[0]), &[Spec::new([3, 3])], 2);
        check_grads(|_, x| matrix_diag_part(x[0]) * matrix_diag_part(x[0]), &[Spec::new([2, 3, 3])], 2);
    }

    #[test]
    fn matrix_diag_part_shape_error() {
        let g = Graph::<f64>::new();
        let _ = matrix_diag_part(g.input("x", [2, 3]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matrix_diag_part") && msg.contains("[2, 3]") && msg.contains("square"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = matrix_diag_part(g.input("x", [4]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matrix_diag_part") && msg.contains("[4]"), "{msg}");
    }
}
