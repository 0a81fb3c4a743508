//! `reduce_variance(x, axes, keep_dims)`: the population variance over the given axes
//! (TensorFlow's `reduce_variance`, divisor `n`), composed as `mean((x - mean(x))²)`.
//!
//! Centring first (two passes) avoids the cancellation of `mean(x²) - mean(x)²` when the mean
//! is large relative to the spread. The divisor comes from the run-time dims, so the batch
//! dimension may be reduced.
//!
//! VJP: through the composition, `gx = gy * 2 (x - mean(x)) / n`. Shape rule as `reduce_sum`.
//! Domain: all reals.

use crate::graph::Tensor;
use crate::ops::reduce_mean;
use crate::scalar::Scalar;

/// The population variance of `x` over `axes`.
#[track_caller]
pub fn reduce_variance<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    let g = x.graph();
    if x.is_poisoned() {
        return g.poisoned();
    }
    if let Err(e) = x.shape().normalize_axes(axes) {
        g.record_shape_error("reduce_variance", e, &[x]);
        return g.poisoned();
    }
    let d = x - reduce_mean(x, axes, true);
    reduce_mean(d * d, axes, keep_dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn reduce_variance_forward() {
        // Rows [1, 2, 3, 4] (mean 2.5, squared deviations 2.25, 0.25, 0.25, 2.25: variance
        // 1.25) and [2, 2, 2, 6] (mean 3: 1, 1, 1, 9: variance 3).
        let x = [1.0, 2.0, 3.0, 4.0, 2.0, 2.0, 2.0, 6.0];
        assert_forward(|g| reduce_variance(g.constant_f64(&x, [2, 4]), &[1], false), &[1.25, 3.0]);
        // Columns: pairs (1, 2), (2, 2), (3, 2), (4, 6) have variance (Δ/2)² = 0.25, 0, 0.25, 1.
        assert_forward(|g| reduce_variance(g.constant_f64(&x, [2, 4]), &[-2], true), &[0.25, 0.0, 0.25, 1.0]);
    }

    #[test]
    fn reduce_variance_forward_is_stable_for_large_means() {
        // 1e9 + [1, 2, 3, 4]: the offset cancels when centring first; the variance stays 1.25.
        let x = [1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0, 1e9 + 4.0];
        assert_forward(|g| reduce_variance(g.constant_f64(&x, [4]), &[0], false), &[1.25]);
    }

    #[test]
    fn reduce_variance_grad() {
        check_grads(|_, x| reduce_variance(x[0], &[1], false), &[Spec::new([2, 4])], 2);
        check_grads(|_, x| reduce_variance(x[0], &[0, 2], true), &[Spec::new([3, 2, 2])], 2);
    }

    #[test]
    fn reduce_variance_shape_error_names_op_and_shape() {
        let g = Graph::<f64>::new();
        let _ = reduce_variance(g.input("x", [2, 3]), &[3], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("reduce_variance") && msg.contains("[2, 3]") && msg.contains("axis 3"), "{msg}");
    }
}
