//! `max_pool_grad_grad(x, g, pool_size, geometry)`: `g` (of `x`'s shape) read at the window
//! maxima of `x`: `y[n, o..., c] = g[n, argmax_{t} x[n, o·s - pad_before + t, c], c]`, the
//! first maximum in window order (the same routing as `max_pool` and `max_pool_grad`). It is the
//! adjoint of `max_pool_grad` in its cotangent, and so carries second derivatives of max
//! pooling back to `gy`. For `g = x` it is `max_pool(x)`.
//!
//! VJP: linear in `g`, with adjoint `gg = max_pool_grad(x, gy)`. With respect to `x` the
//! routing is piecewise constant: the derivative is zero almost everywhere and no gradient
//! flows to `x`.
//!
//! Shape: `x` and `g` are `[N, L..., C]` (or channels-first), the output `max_pool(x)`'s shape.
//! Domain in checks: standard normal `x` (no ties), any `g`.
//!
//! The kernel locates maxima for blocks of up to 16 channels at once and gathers, one output
//! position per task.
//!
// no-gradient (x only): the routing is piecewise constant in `x`; the gradient to `g` is
// `max_pool_grad`.

use smallvec::SmallVec;

use crate::conv_geometry::ConvGeometry;
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv as kconv;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::max_pool::{pool_window, pooled_shape};
use crate::ops::max_pool_grad;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Reads a tensor at the window maxima of another.
#[derive(Debug, Clone)]
pub struct MaxPoolGradGrad {
    /// Window size per spatial axis.
    pub pool_size: SmallVec<[usize; 3]>,
    /// Strides, padding and layout.
    pub geometry: ConvGeometry,
}

impl<F: Scalar> Op<F> for MaxPoolGradGrad {
    fn name(&self) -> &'static str {
        "max_pool_grad_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (x, g) = (inputs[0], inputs[1]);
        if x != g {
            return Err(ShapeError::Custom(format!("g has shape {g}, but must have x's shape {x}")));
        }
        pooled_shape(&self.geometry, &self.pool_size, x)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, g, xd) = (cx.input(0), cx.input(1), cx.input_dims(0));
        let (outer, w, inner) = pool_window(&self.geometry, &self.pool_size, xd)?;
        kconv::max_pool_grad_grad(x, g, outer, &w, inner, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gg = max_pool_grad(cx.input(0), cx.grad_output(), &self.pool_size, &self.geometry);
        grads([None, Some(gg)])
    }
}

/// `g` read at the window maxima of `x` (the adjoint of [`max_pool_grad`] in its cotangent).
#[track_caller]
pub fn max_pool_grad_grad<'g, F: Scalar>(
    x: Tensor<'g, F>,
    g: Tensor<'g, F>,
    pool_size: &[usize],
    geometry: &ConvGeometry,
) -> Tensor<'g, F> {
    x.graph().apply(MaxPoolGradGrad { pool_size: pool_size.into(), geometry: geometry.clone() }, &[x, g])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::{DataFormat, Padding};
    use crate::grad;
    use crate::testing::*;

    fn geo(s: &[usize], p: Padding) -> ConvGeometry {
        ConvGeometry::pooling(s, p, DataFormat::ChannelsLast)
    }

    #[test]
    fn max_pool_grad_grad_forward() {
        // x = [1, 5, 2, 0, 4], pool 3 same: maxima at 1, 1, 1, 4, 4 (see max_pool_grad), so
        // g = [10, 20, 30, 40, 50] reads [20, 20, 20, 50, 50].
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 5.0, 2.0, 0.0, 4.0], [1, 5, 1]);
                let gv = g.constant_f64(&[10.0, 20.0, 30.0, 40.0, 50.0], [1, 5, 1]);
                max_pool_grad_grad(x, gv, &[3], &geo(&[1], Padding::Same))
            },
            &[20.0, 20.0, 20.0, 50.0, 50.0],
        );
        // With g = x it is max_pool: windows [3, 1], [4, 1] -> [3, 4]; 2×2 channels, per channel.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[3.0, -3.0, 1.0, -1.0, 4.0, -4.0, 1.0, -1.0], [1, 4, 2]);
                max_pool_grad_grad(x, x, &[2], &geo(&[2], Padding::Valid))
            },
            &[3.0, -1.0, 4.0, -1.0],
        );
    }

    #[test]
    fn max_pool_grad_grad_grad() {
        check_grads(
            |_, x| {
                let y = max_pool_grad_grad(x[0], x[1], &[2, 2], &geo(&[1, 2], Padding::Same));
                y * y
            },
            &[Spec::new([1, 4, 5, 2]), Spec::new([1, 4, 5, 2])],
            2,
        );
        // No gradient flows to x: the routing is piecewise constant there.
        let gx = eval(|g| {
            let x = g.constant_f64(&[1.0, 5.0, 2.0, 0.0], [1, 4, 1]);
            let y = max_pool_grad_grad(x, x * x, &[2], &geo(&[2], Padding::Valid));
            grad(y.sum_all(), &[x])[0]
        });
        // Only through g = x²: d/dx Σ g[argmax] = 2x at the maxima (indices 1 and 2).
        assert_eq!(gx, [0.0, 10.0, 4.0, 0.0]);
    }

    #[test]
    fn max_pool_grad_grad_shape_error() {
        let g = Graph::<f64>::new();
        let _ = max_pool_grad_grad(g.input("x", [1, 4, 1]), g.input("g", [1, 4, 2]), &[2], &geo(&[2], Padding::Valid));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("max_pool_grad_grad") && msg.contains("[1, 4, 1]") && msg.contains("[1, 4, 2]"), "{msg}");
    }
}
