//! `max_pool(x, pool_size, strides, padding, data_format)`: TF/Keras max pooling over 1, 2 or 3
//! spatial axes (the rank is `pool_size.len()`): `y[n, o..., c] = max_{t valid} x[n, o·s -
//! pad_before + t, c]`. Padding positions are ignored (never the maximum); every window holds
//! at least one input position. A NaN in a window makes its maximum NaN.
//!
//! VJP: `gx = max_pool_grad(x, gy)`: each `gy[n, o, c]` goes to the position of its window's
//! maximum, the first in window order on ties (TF's rule); overlapping windows add. The second
//! derivative is zero almost everywhere (the routing is piecewise constant in `x`);
//! `max_pool_grad` carries the gradient back to `gy` through the same routing
//! (`max_pool_grad_grad`), so e.g. `grad(Σ max_pool(x)²)` differentiates again.
//!
//! Shape: `[N, L..., C] -> [N, O..., C]` (or channels-first `[N, C, L...] -> [N, C, O...]`)
//! with `O` per TF's rules (see [`crate::conv_geometry`]); `N` may be the batch dimension.
//! Domain in checks: standard normal values, which have no ties.
//!
//! The kernel takes the maximum over contiguous channel runs (channels-last), one output
//! position per task.

use smallvec::SmallVec;

use crate::conv_geometry::{ConvGeometry, DataFormat, Padding};
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv::{self as kconv, Window};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::max_pool_grad;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Maximum over sliding windows.
#[derive(Debug, Clone)]
pub struct MaxPool {
    /// Window size per spatial axis.
    pub pool_size: SmallVec<[usize; 3]>,
    /// Strides, padding and layout.
    pub geometry: ConvGeometry,
}

/// The shape rule shared by the pooling ops: `x` with its spatial axes pooled.
pub(crate) fn pooled_shape(geometry: &ConvGeometry, pool_size: &[usize], x: &Shape) -> Result<Shape, ShapeError> {
    let (axes, c) = geometry.infer(x, pool_size)?;
    Ok(geometry.output_shape(x, &axes, c))
}

/// The kernel view `(outer, window, inner)` of a pooled tensor with run-time dims `dims`.
pub(crate) fn pool_window(
    geometry: &ConvGeometry,
    pool_size: &[usize],
    dims: &[usize],
) -> Result<(usize, Window, usize), OpFailure> {
    let (outer, spatial, inner) = geometry.kernel_view(dims);
    let axes = geometry.resolve(spatial, pool_size).map_err(|e| OpFailure(e.to_string()))?;
    Ok((outer, Window::new(&axes), inner))
}

impl<F: Scalar> Op<F> for MaxPool {
    fn name(&self) -> &'static str {
        "max_pool"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        pooled_shape(&self.geometry, &self.pool_size, inputs[0])
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let (outer, w, inner) = pool_window(&self.geometry, &self.pool_size, xd)?;
        kconv::max_pool(x, outer, &w, inner, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(max_pool_grad(cx.input(0), cx.grad_output(), &self.pool_size, &self.geometry))])
    }
}

/// Max pooling with windows of `pool_size` moved by `strides` (Keras's default strides are
/// `pool_size`).
#[track_caller]
pub fn max_pool<'g, F: Scalar>(
    x: Tensor<'g, F>,
    pool_size: &[usize],
    strides: &[usize],
    padding: Padding,
    data_format: DataFormat,
) -> Tensor<'g, F> {
    let geometry = ConvGeometry::pooling(strides, padding, data_format);
    x.graph().apply(MaxPool { pool_size: pool_size.into(), geometry }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::shape::{Dim, B};
    use crate::testing::*;

    const CL: DataFormat = DataFormat::ChannelsLast;
    const CF: DataFormat = DataFormat::ChannelsFirst;

    #[test]
    fn max_pool_forward_1d() {
        // [1, 3, 2, 5, 4], pool 2 stride 2 valid: max(1, 3), max(2, 5) (4 is left over).
        let x = [1.0, 3.0, 2.0, 5.0, 4.0];
        assert_forward(|g| max_pool(g.constant_f64(&x, [1, 5, 1]), &[2], &[2], Padding::Valid, CL), &[3.0, 5.0]);
        // Same: out 3, pad (0, 1); the last window is [4, pad], whose maximum is 4.
        assert_forward(|g| max_pool(g.constant_f64(&x, [1, 5, 1]), &[2], &[2], Padding::Same, CL), &[3.0, 5.0, 4.0]);
        // Padding is ignored, not zero: all-negative inputs keep negative maxima.
        assert_forward(
            |g| max_pool(g.constant_f64(&[-1.0, -2.0, -3.0], [1, 3, 1]), &[3], &[1], Padding::Same, CL),
            &[-1.0, -1.0, -2.0],
        );
    }

    #[test]
    fn max_pool_forward_2d_and_formats() {
        // 4×4 image 0..15 with 2 channels (the second negated), 2×2 pool stride 2: the maxima
        // are the bottom-right pixels 5, 7, 13, 15 and for the negated channel the top-left
        // 0, 2, 8, 10 (negated).
        let mut x = Vec::new();
        for v in 0..16 {
            x.extend([v as f64, -(v as f64)]);
        }
        assert_forward(
            |g| max_pool(g.constant_f64(&x, [1, 4, 4, 2]), &[2, 2], &[2, 2], Padding::Valid, CL),
            &[5.0, -0.0, 7.0, -2.0, 13.0, -8.0, 15.0, -10.0],
        );
        // The same as channels-first [1, 2, 4, 4].
        let xf: Vec<f64> = (0..16).map(f64::from).chain((0..16).map(|v| -f64::from(v))).collect();
        assert_forward(
            |g| max_pool(g.constant_f64(&xf, [1, 2, 4, 4]), &[2, 2], &[2, 2], Padding::Valid, CF),
            &[5.0, 7.0, 13.0, 15.0, -0.0, -2.0, -8.0, -10.0],
        );
    }

    #[test]
    fn max_pool_forward_3d_and_nan() {
        // 2×2×2 volume: the maximum of everything.
        let x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        assert_forward(
            |g| max_pool(g.constant_f64(&x, [1, 2, 2, 2, 1]), &[2, 2, 2], &[1; 3], Padding::Valid, CL),
            &[9.0],
        );
        // NaN propagates wherever it is in the window.
        assert_forward(
            |g| max_pool(g.constant_f64(&[f64::NAN, 1.0, 2.0, f64::NAN], [1, 4, 1]), &[2], &[2], Padding::Valid, CL),
            &[f64::NAN, f64::NAN],
        );
    }

    #[test]
    fn max_pool_grad_routes_to_first_maximum() {
        // Windows [1, 3], [3, 3] (stride 1 over [1, 3, 3]): the first goes to index 1, the
        // second to the first maximum, index 1 again; index 2 gets nothing.
        let gx = eval(|g| {
            let x = g.constant_f64(&[1.0, 3.0, 3.0], [1, 3, 1]);
            grad(max_pool(x, &[2], &[1], Padding::Valid, CL).sum_all(), &[x])[0]
        });
        assert_eq!(gx, [0.0, 2.0, 0.0]);
    }

    #[test]
    fn max_pool_grad() {
        check_grads(|_, x| max_pool(x[0], &[3], &[2], Padding::Same, CL), &[Spec::new([2, 7, 2])], 2);
        // Keras' default, windows that never overlap (with a leftover row and column).
        check_grads(|_, x| max_pool(x[0], &[2, 2], &[2, 2], Padding::Valid, CL), &[Spec::new([2, 5, 5, 3])], 2);
        check_grads(|_, x| max_pool(x[0], &[2, 2], &[1, 2], Padding::Valid, CF), &[Spec::new([1, 2, 4, 5])], 2);
        check_grads(
            |_, x| {
                let y = max_pool(x[0], &[2, 2, 3], &[1, 1, 2], Padding::Same, CL);
                y * y
            },
            &[Spec::new([1, 3, 3, 4, 2])],
            2,
        );
    }

    #[test]
    fn max_pool_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(3), Dim::Fixed(28), Dim::Fixed(28)]);
        let y = max_pool(x, &[2, 2], &[2, 2], Padding::Valid, CF);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(3), Dim::Fixed(14), Dim::Fixed(14)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn max_pool_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = max_pool(g.input("x", [1, 4, 4, 2]), &[2, 2], &[2], Padding::Valid, CL);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("max_pool") && msg.contains("[1, 4, 4, 2]") && msg.contains("strides [2]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = max_pool(g.input("x", [1, 4, 2]), &[5], &[1], Padding::Valid, CL);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("max_pool") && msg.contains("shorter"), "{msg}");
    }
}
