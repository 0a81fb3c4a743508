//! `squeeze(x, axes)`: removes the listed axes, each of which must have size 1 (composed: a
//! checked `reshape`). Negative axes count from the end. As in TF, an empty `axes` removes every
//! axis of size 1.
//!
//! VJP: that of `reshape`, `gx = reshape(gy, x.shape)`. The batch dimension may be anywhere in
//! `x` but cannot be squeezed (its size is not known to be 1). Domain: all reals (linear, exact).

use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::ops::reshape;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// `x` without the listed size-1 axes (all size-1 axes if `axes` is empty).
#[track_caller]
pub fn squeeze<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize]) -> Tensor<'g, F> {
    let s = x.shape();
    let fail = |detail: ShapeError| {
        let g = x.graph();
        g.record_shape_error("squeeze", detail, &[x]);
        g.poisoned()
    };
    let drop = if axes.is_empty() {
        (0..s.rank()).filter(|&a| s.dim(a).is_one()).collect()
    } else {
        match s.normalize_axes(axes) {
            Ok(a) => a,
            Err(e) => return fail(e),
        }
    };
    if let Some(&a) = drop.iter().find(|&&a| !s.dim(a).is_one()) {
        return fail(ShapeError::Custom(format!("axis {a} has size {}, not 1", s.dim(a))));
    }
    let kept: Shape = Shape::new(
        s.dims().iter().enumerate().filter(|(a, _)| !drop.contains(a)).map(|(_, &d)| d).collect::<Vec<Dim>>(),
    );
    reshape(x, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;

    #[test]
    fn squeeze_forward() {
        // Values are untouched; only the shape changes.
        assert_forward(|g| squeeze(g.constant_f64(&[1.0, 2.0, 3.0], [1, 3, 1]), &[0]), &[1.0, 2.0, 3.0]);
        let g = Graph::<f64>::new();
        let x = g.input("x", [1, 3, 1]);
        assert_eq!(squeeze(x, &[0]).shape(), Shape::from([3, 1]));
        assert_eq!(squeeze(x, &[-1]).shape(), Shape::from([1, 3]));
        assert_eq!(squeeze(x, &[0, 2]).shape(), Shape::from([3]));
        assert_eq!(squeeze(x, &[]).shape(), Shape::from([3]));
        let b = g.input("b", [B, Dim::Fixed(1)]);
        assert_eq!(squeeze(b, &[1]).shape(), Shape::from([B]));
        assert_eq!(squeeze(b, &[]).shape(), Shape::from([B]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn squeeze_grad() {
        check_grads(|_, x| squeeze(x[0], &[1]) * squeeze(x[0], &[-2]), &[Spec::new([2, 1, 3])], 2);
    }

    #[test]
    fn squeeze_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = squeeze(g.input("x", [2, 1, 3]), &[2]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("squeeze") && msg.contains("axis 2 has size 3") && msg.contains("[2, 1, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = squeeze(g.input("x", [B, Dim::Fixed(2)]), &[0]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("squeeze") && msg.contains("size B") && msg.contains("[B, 2]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = squeeze(g.input("x", [1, 2]), &[5]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("squeeze") && msg.contains("axis 5"), "{msg}");
    }
}
