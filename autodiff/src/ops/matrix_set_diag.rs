//! `matrix_set_diag(x, diag)`: `x` with the diagonal of each matrix replaced,
//! `y[..., i, j] = (i == j) ? diag[..., i] : x[..., i, j]`.
//!
//! Shapes: `x` is `[..., n, n]`, `diag` is `[..., n]`; their leading (batch) axes broadcast
//! (NumPy rules, the batch dimension included), and `y` is `[broadcast..., n, n]`.
//!
//! VJP: `gx = matrix_set_diag(gy, 0)` (the off-diagonal of `gy`), `gdiag = matrix_diag_part(gy)`;
//! broadcast batch axes are summed back by the gradient driver. Linear, so the second derivative
//! is 0. Domain in gradient checks: all reals. Numerics: a copy, exact. Runs in place when `x`
//! dies here and has the output's shape.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::broadcast_strides;
use crate::kernels::linalg::{batch_offset, for_each_matrix_ok};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matrix_diag_part::square_dim;
use crate::ops::{matrix_diag_part, zeros_like};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Replace the diagonal of each matrix.
#[derive(Debug, Clone, Copy)]
pub struct MatrixSetDiag;

impl<F: Scalar> Op<F> for MatrixSetDiag {
    fn name(&self) -> &'static str {
        "matrix_set_diag"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (x, d) = (inputs[0], inputs[1]);
        let n = square_dim(x, "the input")?;
        if d.rank() < 1 || d.dim(d.rank() - 1) != n {
            return Err(ShapeError::Custom(format!("the diagonal must be [..., {n}] for a {x} input, got {d}")));
        }
        let xb = Shape::from(&x.dims()[..x.rank() - 2]);
        let db = Shape::from(&d.dims()[..d.rank() - 1]);
        let mut out = xb.broadcast_with(&db).map_err(|_| {
            ShapeError::Custom(format!("batch dimensions {xb} of the input and {db} of the diagonal do not broadcast"))
        })?;
        out.dims_mut().push(n);
        out.dims_mut().push(n);
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let x = cx.input_opt(0);
        let (d, xd, dd) = (cx.input(1), cx.input_dims(0), cx.input_dims(1));
        let od = cx.out_dims();
        let r = od.len();
        let n = od[r - 1];
        let batch = &od[..r - 2];
        let sx = broadcast_strides(&xd[..xd.len() - 2], batch);
        let sd = broadcast_strides(&dd[..dd.len() - 1], batch);
        let numel = cx.out().len();
        for_each_matrix_ok(cx.out(), n * n, numel, |b, m| {
            if let Some(x) = x {
                let o = batch_offset(b, batch, &sx) * n * n;
                m.copy_from_slice(&x[o..o + n * n]);
            }
            let o = batch_offset(b, batch, &sd) * n;
            for (i, &v) in d[o..o + n].iter().enumerate() {
                m[i * n + i] = v;
            }
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        let gx = matrix_set_diag(gy, zeros_like(cx.input(1)));
        grads([Some(gx), Some(matrix_diag_part(gy))])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// `x: [..., n, n]` with the diagonal of each matrix replaced by `diag: [..., n]` (batch axes
/// broadcast).
#[track_caller]
pub fn matrix_set_diag<'g, F: Scalar>(x: Tensor<'g, F>, diag: Tensor<'g, F>) -> Tensor<'g, F> {
    x.graph().apply(MatrixSetDiag, &[x, diag])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn matrix_set_diag_forward() {
        // [[1,2],[3,4]] with diagonal [9,8]: [[9,2],[3,8]].
        assert_forward(
            |g| matrix_set_diag(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), g.constant_f64(&[9.0, 8.0], [2])),
            &[9.0, 2.0, 3.0, 8.0],
        );
        // One matrix, two diagonals: the batch broadcasts to [[9,2],[3,8]] and [[7,2],[3,6]].
        assert_forward(
            |g| {
                matrix_set_diag(
                    g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]),
                    g.constant_f64(&[9.0, 8.0, 7.0, 6.0], [2, 2]),
                )
            },
            &[9.0, 2.0, 3.0, 8.0, 7.0, 2.0, 3.0, 6.0],
        );
        // Two matrices, one diagonal [0, 0]: [[0,2],[3,0]] and [[0,6],[7,0]].
        assert_forward(
            |g| {
                matrix_set_diag(
                    g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [2, 2, 2]),
                    g.constant_f64(&[0.0, 0.0], [2]),
                )
            },
            &[0.0, 2.0, 3.0, 0.0, 0.0, 6.0, 7.0, 0.0],
        );
    }

    #[test]
    fn matrix_set_diag_forward_in_place() {
        let g = Graph::<f64>::new();
        let y = matrix_set_diag(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]) * 1.0, g.constant_f64(&[9.0, 8.0], [2]));
        assert_eq!(g.compile(&[y]).unwrap().num_in_place(), 1);
        assert_forward(
            |g| matrix_set_diag(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]) * 1.0, g.constant_f64(&[9.0, 8.0], [2])),
            &[9.0, 2.0, 3.0, 8.0],
        );
    }

    #[test]
    fn matrix_set_diag_grad() {
        check_grads(|_, x| matrix_set_diag(x[0], x[1]), &[Spec::new([3, 3]), Spec::new([3])], 2);
        check_grads(|_, x| matrix_set_diag(x[0] * x[0], x[1] * x[1]), &[Spec::new([2, 2, 2]), Spec::new([2])], 2);
        check_grads(|_, x| matrix_set_diag(x[0], x[1]), &[Spec::new([1, 2, 2]), Spec::new([3, 2])], 1);
    }

    #[test]
    fn matrix_set_diag_shape_error() {
        let g = Graph::<f64>::new();
        let _ = matrix_set_diag(g.input("x", [3, 3]), g.input("d", [2]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matrix_set_diag") && msg.contains("[3, 3]") && msg.contains("[2]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = matrix_set_diag(g.input("x", [2, 3, 3]), g.input("d", [4, 3]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("do not broadcast") && msg.contains("[2, 3, 3]") && msg.contains("[4, 3]"), "{msg}");
    }
}
