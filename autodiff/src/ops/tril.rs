//! `tril(x)`: the lower triangle of each matrix, diagonal included, zeros above it (composed:
//! `band_part(x, -1, 0)`).
//!
//! Shapes: `x` is `[..., m, n]` (rank >= 2), `y` has `x`'s shape. VJP: `gx = tril(gy)`, through
//! `band_part`. Domain in gradient checks: all reals. Numerics: a copy, exact.

use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::ops::band_part;
use crate::scalar::Scalar;

/// The lower triangle (diagonal included) of each matrix of `x: [..., m, n]`.
#[track_caller]
pub fn tril<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    // Checked here so that the error names the function the user called.
    if !x.is_poisoned() && x.rank() < 2 {
        let g = x.graph();
        let detail = format!("the input must be a [..., m, n] matrix, got rank {} shape {}", x.rank(), x.shape());
        g.record_shape_error("tril", ShapeError::Custom(detail), &[x]);
        return g.poisoned();
    }
    band_part(x, -1, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn tril_forward() {
        // tril [[1,2,3],[4,5,6],[7,8,9]] = [[1,0,0],[4,5,0],[7,8,9]].
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        assert_forward(|g| tril(g.constant_f64(&x, [3, 3])), &[1.0, 0.0, 0.0, 4.0, 5.0, 0.0, 7.0, 8.0, 9.0]);
        // Rectangular 2×3: [[1,0,0],[4,5,0]].
        assert_forward(|g| tril(g.constant_f64(&x[..6], [2, 3])), &[1.0, 0.0, 0.0, 4.0, 5.0, 0.0]);
    }

    #[test]
    fn tril_grad() {
        check_grads(|_, x| tril(x[0]), &[Spec::new([3, 3])], 2);
        check_grads(|_, x| tril(x[0] * x[0]), &[Spec::new([2, 2, 3])], 2);
    }

    #[test]
    fn tril_shape_error() {
        let g = Graph::<f64>::new();
        let _ = tril(g.input("x", [3]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.starts_with("tril") && msg.contains("[3]") && msg.contains("tril.rs"), "{msg}");
    }
}
