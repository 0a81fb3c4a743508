//! `zeros_like(x)`: zeros of `x`'s shape (composed: `fill(x, 0)`).

use crate::graph::Tensor;
use crate::ops::fill;
use crate::scalar::Scalar;

/// Zeros shaped like `x`.
#[track_caller]
pub fn zeros_like<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    fill(x, 0.0)
}

/// Ones shaped like `x`.
#[track_caller]
pub fn ones_like<F: Scalar>(x: Tensor<'_, F>) -> Tensor<'_, F> {
    fill(x, 1.0)
}
