//! `log_det_tril(l) = Σᵢ log |L_ii|`: the log of the absolute determinant of a triangular matrix
//! (the product of its diagonal), e.g. of a Cholesky factor or the `scale_tril` of a
//! multivariate normal. Only the diagonal is read. For `A = L Lᵀ`, `log det A` (TensorFlow's
//! `tf.linalg.logdet(A)`) is `2 · log_det_tril(L)`.
//!
//! Shapes: `l` is `[..., n, n]`, the output `[...]` (one value per matrix; a scalar for one
//! matrix). `n = 0` gives 0.
//!
//! VJP: `∂/∂L_ii log |L_ii| = 1 / L_ii` for either sign, so `gl = matrix_diag(gy[..., None] /
//! diag(L))`, built with `reshape`, `div`, `matrix_diag_part` and `matrix_diag`.
//!
//! Domain in gradient checks: entries at least 0.5 away from 0 (the diagonal of either sign).
//! Numerics: a sum of logarithms, never the log of the product, so a diagonal such as
//! `[1e200, 1e200, 1e-300]` gives `100 ln 10` where the product would overflow. A zero on the
//! diagonal gives `-inf`.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::linalg::for_each_matrix_ok;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::matrix_diag_part::square_dim;
use crate::ops::{div, matrix_diag, matrix_diag_part, reshape};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Log-absolute-determinant of triangular matrices.
#[derive(Debug, Clone, Copy)]
pub struct LogDetTril;

impl<F: Scalar> Op<F> for LogDetTril {
    fn name(&self) -> &'static str {
        "log_det_tril"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let l = inputs[0];
        square_dim(l, "the input")?;
        Ok(Shape::from(&l.dims()[..l.rank() - 2]))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (l, ld) = (cx.input(0), cx.input_dims(0));
        let n = ld[ld.len() - 1];
        let numel = l.len();
        for_each_matrix_ok(cx.out(), 1, numel, |b, o| {
            let m = &l[b * n * n..(b + 1) * n * n];
            o[0] = (0..n).map(|i| m[i * n + i].abs().ln_v()).fold(F::zero(), |s, v| s + v);
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        let mut col = gy.shape();
        col.dims_mut().push(Dim::Fixed(1));
        let gd = div(reshape(gy, col), matrix_diag_part(cx.input(0)));
        grads([Some(matrix_diag(gd))])
    }
}

/// `Σᵢ log |L_ii|` for each triangular matrix of `l: [..., n, n]` (the log-absolute-determinant).
#[track_caller]
pub fn log_det_tril<F: Scalar>(l: Tensor<'_, F>) -> Tensor<'_, F> {
    l.graph().apply(LogDetTril, &[l])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn log_det_tril_forward() {
        // diag [2, −3]: log 2 + log 3 = log 6 (the off-diagonal 5 is not read).
        assert_forward(|g| log_det_tril(g.constant_f64(&[2.0, 0.0, 5.0, -3.0], [2, 2])), &[6f64.ln()]);
        // det [[2,0],[1,1]] = 2: log 2. With A = L Lᵀ = [[4,2],[2,2]], det A = 4 = e^(2 log 2).
        assert_forward(|g| log_det_tril(g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2])), &[2f64.ln()]);
        // A batch: the identity (0) and diag [e, e] (2).
        let e = std::f64::consts::E;
        assert_forward(|g| log_det_tril(g.constant_f64(&[1.0, 0.0, 0.0, 1.0, e, 0.0, 0.0, e], [2, 2, 2])), &[0.0, 2.0]);
    }

    #[test]
    fn log_det_tril_forward_extremes() {
        // ln 1e200 + ln 1e200 + ln 1e-300 = (200 + 200 − 300) ln 10; the product overflows.
        let d = [1e200, 0.0, 0.0, 0.0, 1e200, 0.0, 0.0, 0.0, 1e-300];
        let got = eval(|g| log_det_tril(g.constant_f64(&d, [3, 3])));
        let want = 100.0 * 10f64.ln();
        assert!((got[0] - want).abs() < 1e-12 * want, "{} vs {want}", got[0]);
        // A zero on the diagonal: −inf, not NaN.
        assert_forward(|g| log_det_tril(g.constant_f64(&[0.0, 0.0, 0.0, 1.0], [2, 2])), &[f64::NEG_INFINITY]);
    }

    #[test]
    fn log_det_tril_grad() {
        let dom = Domain::AwayFrom(0.0, 0.5);
        check_grads(|_, x| log_det_tril(x[0]), &[Spec::new([3, 3]).domain(dom)], 2);
        check_grads(|_, x| log_det_tril(x[0]), &[Spec::new([2, 3, 3]).domain(dom)], 2);
    }

    #[test]
    fn log_det_tril_shape_error() {
        let g = Graph::<f64>::new();
        let _ = log_det_tril(g.input("l", [3, 2]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("log_det_tril") && msg.contains("[3, 2]"), "{msg}");
    }
}
