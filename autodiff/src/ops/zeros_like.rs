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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn zeros_like_forward() {
        assert_forward(
            |g| zeros_like(g.constant_f64(&[3.0, 4.0], [2])) + ones_like(g.constant_f64(&[3.0, 4.0], [2])),
            &[1.0, 1.0],
        );
    }

    #[test]
    fn zeros_like_grad() {
        // d/dx (x * ones_like(x) + zeros_like(x)) = 1: the fills contribute no gradient.
        check_grads(|_, x| x[0] * ones_like(x[0]) + zeros_like(x[0]), &[Spec::new([3])], 2);
    }
}
