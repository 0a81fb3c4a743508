//! `expand_dims(x, axis)`: inserts an axis of size 1 at `axis` (composed: a checked `reshape`).
//! `axis` is in `-(r+1)..=r` for a rank-`r` input, negative axes counting from the end of the
//! result as in TF (`-1` appends).
//!
//! VJP: that of `reshape`, `gx = reshape(gy, x.shape)`. The batch dimension may be anywhere in
//! `x`. Domain: all reals (linear, exact).

use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::ops::reshape;
use crate::scalar::Scalar;
use crate::shape::Dim;

/// Where `axis` puts the new axis in a result of rank `rank + 1`, if in range.
pub(crate) fn insertion_axis(axis: isize, rank: usize) -> Option<usize> {
    crate::shape::normalize_axis(axis, rank + 1)
}

/// `x` with a new axis of size 1 at `axis`.
#[track_caller]
pub fn expand_dims<'g, F: Scalar>(x: Tensor<'g, F>, axis: isize) -> Tensor<'g, F> {
    let mut s = x.shape();
    let r = s.rank();
    let Some(a) = insertion_axis(axis, r) else {
        let g = x.graph();
        g.record_shape_error(
            "expand_dims",
            ShapeError::Custom(format!(
                "axis {axis} is out of range {}..={r} for an input of rank {r}",
                -(r as isize) - 1
            )),
            &[x],
        );
        return g.poisoned();
    };
    s.dims_mut().insert(a, Dim::Fixed(1));
    reshape(x, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Shape, B};
    use crate::testing::*;

    #[test]
    fn expand_dims_forward() {
        // Values are untouched; only the shape changes.
        assert_forward(|g| expand_dims(g.constant_f64(&[1.0, 2.0, 3.0], [3]), 0), &[1.0, 2.0, 3.0]);
        let g = Graph::<f64>::new();
        let x = g.input("x", [2, 3]);
        assert_eq!(expand_dims(x, 0).shape(), Shape::from([1, 2, 3]));
        assert_eq!(expand_dims(x, 1).shape(), Shape::from([2, 1, 3]));
        assert_eq!(expand_dims(x, 2).shape(), Shape::from([2, 3, 1]));
        assert_eq!(expand_dims(x, -1).shape(), Shape::from([2, 3, 1]));
        assert_eq!(expand_dims(x, -3).shape(), Shape::from([1, 2, 3]));
        let b = g.input("b", [B, Dim::Fixed(4)]);
        assert_eq!(expand_dims(b, 1).shape(), Shape::from([B, Dim::Fixed(1), Dim::Fixed(4)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn expand_dims_grad() {
        check_grads(|_, x| expand_dims(x[0], 1) * expand_dims(x[0], -1), &[Spec::new([2, 3])], 2);
    }

    #[test]
    fn expand_dims_shape_error() {
        let g = Graph::<f64>::new();
        let _ = expand_dims(g.input("x", [2, 3]), 3);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("expand_dims") && msg.contains("axis 3") && msg.contains("[2, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = expand_dims(g.input("x", [2, 3]), -4);
        assert!(g.check().unwrap_err().to_string().contains("expand_dims"));
    }
}
