//! `max_pool_grad(x, gy, pool_size, geometry)`: the gradient of `max_pool`. Each
//! `gy[n, o..., c]` is added at the position of the maximum of `x` over window `o`, channel
//! `c` (the first in window order on ties, TF's rule; padding is never chosen). Output: `x`'s
//! shape.
//!
//! VJP: linear in `gy`, with adjoint `ggy = max_pool_grad_grad(x, gz)` (read `gz` at the same
//! maxima). With respect to `x` the routing is piecewise constant, so the derivative is zero
//! almost everywhere and no gradient flows to `x` (at ties it does not exist).
//!
//! Shape: `x` is `[N, L..., C]` (or channels-first), `gy` must be `max_pool(x)`'s shape.
//! Domain in checks: standard normal `x` (no ties), any `gy`.
//!
//! The kernel locates maxima for blocks of up to 16 channels at once, reading contiguous runs,
//! and scatters in parallel over whole examples, each in a fixed order.
//!
// no-gradient (x only): the routing is piecewise constant in `x`; the gradient to `gy` is
// `max_pool_grad_grad`.

use smallvec::SmallVec;

use crate::conv_geometry::ConvGeometry;
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv as kconv;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::max_pool::{pool_window, pooled_shape};
use crate::ops::max_pool_grad_grad;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Routes pooled cotangents to the window maxima.
#[derive(Debug, Clone)]
pub struct MaxPoolGrad {
    /// Window size per spatial axis.
    pub pool_size: SmallVec<[usize; 3]>,
    /// Strides, padding and layout.
    pub geometry: ConvGeometry,
}

impl<F: Scalar> Op<F> for MaxPoolGrad {
    fn name(&self) -> &'static str {
        "max_pool_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (x, gy) = (inputs[0], inputs[1]);
        let want = pooled_shape(&self.geometry, &self.pool_size, x)?;
        if *gy != want {
            return Err(ShapeError::Custom(format!("gy has shape {gy}, but max_pool of {x} has shape {want}")));
        }
        Ok(x.clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, gy, xd) = (cx.input(0), cx.input(1), cx.input_dims(0));
        let (outer, w, inner) = pool_window(&self.geometry, &self.pool_size, xd)?;
        kconv::max_pool_grad(x, gy, outer, &w, inner, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let ggy = max_pool_grad_grad(cx.input(0), cx.grad_output(), &self.pool_size, &self.geometry);
        grads([None, Some(ggy)])
    }
}

/// The gradient of `max_pool(x)` for the cotangent `gy`, of `x`'s shape.
#[track_caller]
pub fn max_pool_grad<'g, F: Scalar>(
    x: Tensor<'g, F>,
    gy: Tensor<'g, F>,
    pool_size: &[usize],
    geometry: &ConvGeometry,
) -> Tensor<'g, F> {
    x.graph().apply(MaxPoolGrad { pool_size: pool_size.into(), geometry: geometry.clone() }, &[x, gy])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::{DataFormat, Padding};
    use crate::grad;
    use crate::testing::*;

    fn geo(s: &[usize], p: Padding, f: DataFormat) -> ConvGeometry {
        ConvGeometry::pooling(s, p, f)
    }

    #[test]
    fn max_pool_grad_forward() {
        // x = [1, 5, 2, 0, 4], pool 3 stride 1 same (pad (1, 1)): windows [_, 1, 5], [1, 5, 2],
        // [5, 2, 0], [2, 0, 4], [0, 4, _] have maxima at 1, 1, 1, 4, 4. With gy = [1, 2, 3, 4, 5]
        // index 1 gets 1 + 2 + 3 and index 4 gets 4 + 5.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 5.0, 2.0, 0.0, 4.0], [1, 5, 1]);
                let gy = g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0], [1, 5, 1]);
                max_pool_grad(x, gy, &[3], &geo(&[1], Padding::Same, DataFormat::ChannelsLast))
            },
            &[0.0, 6.0, 0.0, 0.0, 9.0],
        );
        // 2×2 channels-first, two channels, one 2×2 window: channel 0 = [1, 4, 3, 2] peaks at
        // index 1, channel 1 = [7, 7, 0, 0] ties and takes the first, index 0.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 4.0, 3.0, 2.0, 7.0, 7.0, 0.0, 0.0], [1, 2, 2, 2]);
                let gy = g.constant_f64(&[10.0, 20.0], [1, 2, 1, 1]);
                max_pool_grad(x, gy, &[2, 2], &geo(&[1, 1], Padding::Valid, DataFormat::ChannelsFirst))
            },
            &[0.0, 10.0, 0.0, 0.0, 20.0, 0.0, 0.0, 0.0],
        );
    }

    #[test]
    fn max_pool_grad_grad_check() {
        // Linear in gy: order 2 exercises max_pool_grad_grad's VJP (back to max_pool_grad).
        let gm = geo(&[2, 1], Padding::Same, DataFormat::ChannelsLast);
        check_grads(
            move |_, x| {
                let y = max_pool_grad(x[0], x[1], &[3, 2], &gm);
                y * y
            },
            &[Spec::new([1, 4, 5, 2]), Spec::new([1, 2, 5, 2])],
            2,
        );
    }

    #[test]
    fn max_pool_grad_has_no_gradient_in_x() {
        // The routing is piecewise constant in x: its gradient there is zero.
        let gx = eval(|g| {
            let x = g.constant_f64(&[1.0, 5.0, 2.0, 0.0], [1, 4, 1]);
            let gy = g.constant_f64(&[1.0, 2.0], [1, 2, 1]);
            let y = max_pool_grad(x, gy, &[2], &geo(&[2], Padding::Valid, DataFormat::ChannelsLast));
            grad((y * y).sum_all(), &[x])[0]
        });
        assert_eq!(gx, [0.0; 4]);
    }

    #[test]
    fn max_pool_grad_shape_error() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [1, 4, 1]);
        let gy = g.input("gy", [1, 3, 1]);
        let _ = max_pool_grad(x, gy, &[2], &geo(&[2], Padding::Valid, DataFormat::ChannelsLast));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("max_pool_grad") && msg.contains("[1, 3, 1]") && msg.contains("[1, 2, 1]"), "{msg}");
    }
}
