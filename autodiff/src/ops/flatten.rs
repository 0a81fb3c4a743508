//! `flatten(x)`: Keras's `Flatten`, `[N, d...] -> [N, Π d]` in row-major order (so a
//! channels-last image flattens pixel by pixel, channels innermost); `[N]` becomes `[N, 1]`. A
//! composite of `reshape`, which runs in place.
//!
//! VJP: `gx = reshape(gy, x.shape)`. Shape: rank at least 1; only the leading axis may be the
//! batch dimension. Domain: all reals.

use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::ops::reshape;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// `x` as a `[N, Π d]` matrix, keeping the leading (batch) axis.
#[track_caller]
pub fn flatten<'g, F: Scalar>(x: Tensor<'g, F>) -> Tensor<'g, F> {
    let g = x.graph();
    if x.is_poisoned() {
        return g.poisoned();
    }
    let s = x.shape();
    let rest = s.dims().get(1..).map(|d| d.iter().map(|d| d.fixed()).product::<Option<usize>>());
    match rest {
        Some(Some(n)) => reshape(x, Shape::new([s.dim(0), Dim::Fixed(n)])),
        _ => {
            let detail = format!("needs [N, d...] with only the leading axis the batch dimension, got {s}");
            g.record_shape_error("flatten", ShapeError::Custom(detail), &[x]);
            g.poisoned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;

    #[test]
    fn flatten_forward() {
        // Row-major order is kept: [[[1, 2], [3, 4]]] -> [[1, 2, 3, 4]].
        let g = Graph::<f64>::new();
        let y = flatten(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [1, 2, 2]));
        assert_eq!(y.shape(), Shape::from([1, 4]));
        assert_forward(|g| flatten(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [1, 2, 2])), &[1.0, 2.0, 3.0, 4.0]);
        assert_forward(|g| flatten(g.constant_f64(&[5.0, 6.0], [2])), &[5.0, 6.0]);
    }

    #[test]
    fn flatten_grad() {
        check_grads(|_, x| flatten(x[0]) * flatten(x[0]), &[Spec::new([2, 3, 2])], 2);
    }

    #[test]
    fn flatten_shapes_and_errors() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(7), Dim::Fixed(7), Dim::Fixed(16)]);
        assert_eq!(flatten(x).shape(), Shape::from([B, Dim::Fixed(784)]));
        assert_eq!(flatten(g.input("v", [B])).shape(), Shape::from([B, Dim::Fixed(1)]));
        assert!(g.check().is_ok());
        let _ = flatten(g.scalar(1.0));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("flatten") && msg.contains("[]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = flatten(g.input("x", [Dim::Fixed(2), B]));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("flatten") && msg.contains("[2, B]"), "{msg}");
    }
}
