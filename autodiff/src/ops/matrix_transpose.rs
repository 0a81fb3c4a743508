//! `matrix_transpose(x)`: swaps the last two axes, `y[..., j, i] = x[..., i, j]` (composed:
//! `transpose` with the permutation that swaps the last two axes).
//!
//! VJP: that of `transpose`, i.e. `gx = matrix_transpose(gy)`. Shape: `[..., m, n] -> [..., n, m]`,
//! rank at least 2; the batch dimension may be on any axis. Domain: all reals (linear, exact).

use smallvec::SmallVec;

use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::ops::transpose;
use crate::scalar::Scalar;

/// `x` with its last two axes swapped.
#[track_caller]
pub fn matrix_transpose<'g, F: Scalar>(x: Tensor<'g, F>) -> Tensor<'g, F> {
    let r = x.rank();
    if r < 2 && !x.is_poisoned() {
        let g = x.graph();
        g.record_shape_error("matrix_transpose", ShapeError::Custom(format!("needs rank >= 2, got rank {r}")), &[x]);
        return g.poisoned();
    }
    let mut perm: SmallVec<[usize; 6]> = (0..r).collect();
    perm.swap(r.saturating_sub(2), r.saturating_sub(1));
    transpose(x, &perm)
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// The matrix transpose: the last two axes swapped (see [`matrix_transpose`]).
    #[track_caller]
    pub fn t(self) -> Tensor<'g, F> {
        matrix_transpose(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Dim, Shape, B};
    use crate::testing::*;

    #[test]
    fn matrix_transpose_forward() {
        // [[1, 2, 3], [4, 5, 6]]ᵀ = [[1, 4], [2, 5], [3, 6]].
        assert_forward(
            |g| matrix_transpose(g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3])),
            &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0],
        );
        // A batch of two 2x2 matrices, each transposed on its own: [[0, 1], [2, 3]] -> [[0, 2], [1, 3]],
        // [[4, 5], [6, 7]] -> [[4, 6], [5, 7]].
        assert_forward(
            |g| g.constant_f64(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [2, 2, 2]).t(),
            &[0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0],
        );
    }

    #[test]
    fn matrix_transpose_grad() {
        check_grads(|_, x| x[0].t(), &[Spec::new([2, 3, 4])], 2);
        check_grads(|_, x| matrix_transpose(x[0]) * matrix_transpose(x[0]), &[Spec::new([3, 2])], 2);
    }

    #[test]
    fn matrix_transpose_keeps_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(3)]);
        assert_eq!(x.t().shape(), Shape::from([Dim::Fixed(3), B]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn matrix_transpose_shape_error() {
        let g = Graph::<f64>::new();
        let _ = g.input("x", [5]).t();
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("matrix_transpose") && msg.contains("rank 1") && msg.contains("[5]"), "{msg}");
    }
}
