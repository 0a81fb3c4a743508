//! `band_part(x, num_lower, num_upper)`: TensorFlow's `matrix_band_part`. Keeps a band around
//! the diagonal of each matrix and zeroes the rest:
//! `y[..., i, j] = in_band(i, j) ? x[..., i, j] : 0` with
//! `in_band(i, j) = (num_lower < 0 || i - j <= num_lower) && (num_upper < 0 || j - i <= num_upper)`.
//! A negative bound keeps that whole triangle: `band_part(x, -1, 0)` is the lower triangle
//! (see [`tril`](crate::ops::tril)), `band_part(x, 0, -1)` the upper one, `band_part(x, 0, 0)`
//! the diagonal.
//!
//! Shapes: `x` is `[..., m, n]` (rank >= 2, not necessarily square; the leading axes, which may
//! include the batch dimension, are a batch), `y` has `x`'s shape.
//!
//! VJP: `gx = band_part(gy, num_lower, num_upper)` (a mask is its own adjoint). Linear, so the
//! second derivative is 0. Domain in gradient checks: all reals. Numerics: a copy, exact. Runs in
//! place when `x` dies here.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::linalg::for_each_matrix_ok;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Keep a band of diagonals of each matrix.
#[derive(Debug, Clone, Copy)]
pub struct BandPart {
    /// Sub-diagonals kept below the diagonal; negative keeps them all.
    pub num_lower: isize,
    /// Super-diagonals kept above the diagonal; negative keeps them all.
    pub num_upper: isize,
}

impl BandPart {
    /// The columns `[lo, hi)` of row `i` inside the band of an `m × n` matrix.
    #[inline]
    fn cols(&self, i: usize, n: usize) -> (usize, usize) {
        let lo = if self.num_lower < 0 { 0 } else { i.saturating_sub(self.num_lower as usize) };
        let hi = if self.num_upper < 0 { n } else { (i.saturating_add(self.num_upper as usize + 1)).min(n) };
        (lo.min(hi), hi)
    }
}

impl<F: Scalar> Op<F> for BandPart {
    fn name(&self) -> &'static str {
        "band_part"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        if x.rank() < 2 {
            return Err(ShapeError::Custom(format!(
                "the input must be a [..., m, n] matrix, got rank {} shape {x}",
                x.rank()
            )));
        }
        Ok(x.clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let x = cx.input_opt(0);
        let od = cx.out_dims();
        let (m, n) = (od[od.len() - 2], od[od.len() - 1]);
        let numel = cx.out().len();
        for_each_matrix_ok(cx.out(), m * n, numel, |b, o| {
            for i in 0..m {
                let (lo, hi) = self.cols(i, n);
                let row = &mut o[i * n..(i + 1) * n];
                if let Some(x) = x {
                    let off = b * m * n + i * n;
                    row[lo..hi].copy_from_slice(&x[off + lo..off + hi]);
                }
                row[..lo].iter_mut().for_each(|v| *v = F::zero());
                row[hi..].iter_mut().for_each(|v| *v = F::zero());
            }
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(band_part(cx.grad_output(), self.num_lower, self.num_upper))])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// The band of `x: [..., m, n]` with `num_lower` sub-diagonals and `num_upper` super-diagonals
/// (negative: all of them); zeros elsewhere.
#[track_caller]
pub fn band_part<F: Scalar>(x: Tensor<'_, F>, num_lower: isize, num_upper: isize) -> Tensor<'_, F> {
    x.graph().apply(BandPart { num_lower, num_upper }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    const X: [f64; 9] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];

    #[test]
    fn band_part_forward() {
        // x = [[1,2,3],[4,5,6],[7,8,9]].
        // The kernel only copies and zeroes, so the values are exact.
        let b = |lo, up| eval(|g| band_part(g.constant_f64(&X, [3, 3]), lo, up));
        // Lower triangle.
        assert_eq!(b(-1, 0), [1.0, 0.0, 0.0, 4.0, 5.0, 0.0, 7.0, 8.0, 9.0]);
        // Upper triangle.
        assert_eq!(b(0, -1), [1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 0.0, 0.0, 9.0]);
        // Diagonal and the first sub-diagonal.
        assert_eq!(b(1, 0), [1.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0, 8.0, 9.0]);
        // Tridiagonal.
        assert_eq!(b(1, 1), [1.0, 2.0, 0.0, 4.0, 5.0, 6.0, 0.0, 8.0, 9.0]);
        assert_eq!(b(0, 0), [1.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 9.0]);
        assert_eq!(b(-1, -1), X);
        // Bounds beyond the matrix keep everything.
        assert_eq!(b(7, 7), X);
    }

    #[test]
    fn band_part_forward_rectangular_and_batched() {
        // [[1,2,3],[4,5,6]] with one super-diagonal: [[1,2,0],[0,5,6]].
        assert_forward(|g| band_part(g.constant_f64(&X[..6], [2, 3]), 0, 1), &[1.0, 2.0, 0.0, 0.0, 5.0, 6.0]);
        // [[1,2],[3,4],[5,6]] lower triangle: [[1,0],[3,4],[5,6]].
        assert_forward(|g| band_part(g.constant_f64(&X[..6], [3, 2]), -1, 0), &[1.0, 0.0, 3.0, 4.0, 5.0, 6.0]);
        // Two 2×2 matrices, diagonal only.
        assert_forward(
            |g| band_part(g.constant_f64(&X[..8], [2, 2, 2]), 0, 0),
            &[1.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0, 8.0],
        );
    }

    #[test]
    fn band_part_forward_in_place() {
        // `x * 1` dies at band_part, so the plan runs band_part in its buffer.
        let g = Graph::<f64>::new();
        let y = band_part(g.constant_f64(&X, [3, 3]) * 1.0, 0, -1);
        assert_eq!(g.compile(&[y]).unwrap().num_in_place(), 1);
        assert_forward(
            |g| band_part(g.constant_f64(&X, [3, 3]) * 1.0, 0, -1),
            &[1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 0.0, 0.0, 9.0],
        );
    }

    #[test]
    fn band_part_grad() {
        check_grads(|_, x| band_part(x[0], -1, 0), &[Spec::new([3, 3])], 2);
        check_grads(|_, x| band_part(x[0] * x[0], 1, 0), &[Spec::new([2, 3, 4])], 2);
        check_grads(|_, x| band_part(x[0], 0, 2), &[Spec::new([4, 3])], 1);
    }

    #[test]
    fn band_part_shape_error() {
        let g = Graph::<f64>::new();
        let _ = band_part(g.input("x", [5]), -1, 0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("band_part") && msg.contains("[5]"), "{msg}");
    }
}
