//! `avg_pool(x, pool_size, strides, padding, data_format)`: TF/Keras average pooling over 1, 2
//! or 3 spatial axes (the rank is `pool_size.len()`): `y[n, o..., c] = (1/|V_o|) Σ_{t ∈ V_o}
//! x[n, o·s - pad_before + t, c]`, where `V_o` are the taps of window `o` inside the input. With
//! `Same` padding, border windows divide by the number of valid, non-padded elements (TF's
//! rule), not by the window size.
//!
//! VJP: `gx = avg_pool_grad(gy)`: `gy[n, o, c] / |V_o|` spread over the valid taps of window
//! `o`. Linear; `avg_pool_grad`'s VJP is `avg_pool` again, so derivatives of every order exist.
//!
//! Shape: `[N, L..., C] -> [N, O..., C]` (or channels-first) with `O` per TF's rules (see
//! [`crate::conv_geometry`]); `N` may be the batch dimension. Domain: all reals. The sum of at
//! most `Π k` terms is as accurate as any short sum; the divisor is exact.
//!
//! The kernel sums contiguous channel runs, one output position per task.

use smallvec::SmallVec;

use crate::conv_geometry::{ConvGeometry, DataFormat, Padding};
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv as kconv;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::avg_pool_grad;
use crate::ops::max_pool::{pool_window, pooled_shape};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Mean over sliding windows.
#[derive(Debug, Clone)]
pub struct AvgPool {
    /// Window size per spatial axis.
    pub pool_size: SmallVec<[usize; 3]>,
    /// Strides, padding and layout.
    pub geometry: ConvGeometry,
}

impl<F: Scalar> Op<F> for AvgPool {
    fn name(&self) -> &'static str {
        "avg_pool"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        pooled_shape(&self.geometry, &self.pool_size, inputs[0])
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let (outer, w, inner) = pool_window(&self.geometry, &self.pool_size, xd)?;
        kconv::avg_pool(x, outer, &w, inner, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let xs = cx.input(0).shape();
        let spatial: SmallVec<[usize; 3]> = self
            .geometry
            .spatial_axes()
            .map(|a| xs.dim(a).fixed().expect("invariant: spatial axes are fixed"))
            .collect();
        grads([Some(avg_pool_grad(cx.grad_output(), &self.pool_size, &self.geometry, &spatial))])
    }
}

/// Average pooling with windows of `pool_size` moved by `strides` (Keras's default strides are
/// `pool_size`).
#[track_caller]
pub fn avg_pool<'g, F: Scalar>(
    x: Tensor<'g, F>,
    pool_size: &[usize],
    strides: &[usize],
    padding: Padding,
    data_format: DataFormat,
) -> Tensor<'g, F> {
    let geometry = ConvGeometry::pooling(strides, padding, data_format);
    x.graph().apply(AvgPool { pool_size: pool_size.into(), geometry }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Dim, B};
    use crate::testing::*;

    const CL: DataFormat = DataFormat::ChannelsLast;
    const CF: DataFormat = DataFormat::ChannelsFirst;

    #[test]
    fn avg_pool_forward_1d() {
        // [1, 3, 2, 6, 4], pool 2 stride 2 valid: (1+3)/2, (2+6)/2.
        let x = [1.0, 3.0, 2.0, 6.0, 4.0];
        assert_forward(|g| avg_pool(g.constant_f64(&x, [1, 5, 1]), &[2], &[2], Padding::Valid, CL), &[2.0, 4.0]);
        // Same: pad (0, 1); the last window [4, pad] divides by its one valid element: 4.
        assert_forward(|g| avg_pool(g.constant_f64(&x, [1, 5, 1]), &[2], &[2], Padding::Same, CL), &[2.0, 4.0, 4.0]);
        // Pool 3 stride 1 same (pad (1, 1)): (1+3)/2, (1+3+2)/3, (3+2+6)/3, (2+6+4)/3, (6+4)/2.
        assert_forward(
            |g| avg_pool(g.constant_f64(&x, [1, 5, 1]), &[3], &[1], Padding::Same, CL),
            &[2.0, 2.0, 11.0 / 3.0, 4.0, 5.0],
        );
    }

    #[test]
    fn avg_pool_forward_2d_and_3d() {
        // 3×3 image 1..9, 2×2 pool stride 1 same (pad (0, 1)): (0,0) = (1+2+4+5)/4 = 3,
        // (0,1) = (2+3+5+6)/4 = 4, (0,2) = (3+6)/2 = 4.5, (1,0) = (4+5+7+8)/4 = 6,
        // (1,1) = 7, (1,2) = (6+9)/2 = 7.5, (2,0) = (7+8)/2 = 7.5, (2,1) = 8.5, (2,2) = 9.
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_forward(
            |g| avg_pool(g.constant_f64(&x, [1, 3, 3, 1]), &[2, 2], &[1, 1], Padding::Same, CL),
            &[3.0, 4.0, 4.5, 6.0, 7.0, 7.5, 7.5, 8.5, 9.0],
        );
        // Two channels-first channels, x and 10x: the means scale.
        let xf: Vec<f64> = x.iter().copied().chain(x.iter().map(|v| 10.0 * v)).collect();
        assert_forward(
            |g| avg_pool(g.constant_f64(&xf, [1, 2, 3, 3]), &[3, 3], &[1, 1], Padding::Valid, CF),
            &[5.0, 50.0],
        );
        // 2×2×2 volume 1..8, one valid window: 36/8.
        let v: Vec<f64> = (1..=8).map(f64::from).collect();
        assert_forward(
            |g| avg_pool(g.constant_f64(&v, [1, 2, 2, 2, 1]), &[2, 2, 2], &[2; 3], Padding::Valid, CL),
            &[4.5],
        );
    }

    #[test]
    fn avg_pool_grad() {
        check_grads(|_, x| avg_pool(x[0], &[3], &[2], Padding::Same, CL), &[Spec::new([2, 7, 2])], 2);
        check_grads(
            |_, x| {
                let y = avg_pool(x[0], &[2, 3], &[1, 2], Padding::Same, CF);
                y * y
            },
            &[Spec::new([1, 2, 4, 5])],
            2,
        );
        check_grads(
            |_, x| avg_pool(x[0], &[2, 2, 2], &[1, 1, 2], Padding::Valid, CL),
            &[Spec::new([1, 3, 3, 4, 2])],
            2,
        );
    }

    #[test]
    fn avg_pool_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(7), Dim::Fixed(7), Dim::Fixed(4)]);
        let y = avg_pool(x, &[3, 3], &[2, 2], Padding::Same, CL);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(4), Dim::Fixed(4), Dim::Fixed(4)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn avg_pool_shape_error() {
        let g = Graph::<f64>::new();
        let _ = avg_pool(g.input("x", [1, 4, 4]), &[2, 2], &[2, 2], Padding::Valid, CL);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("avg_pool") && msg.contains("[1, 4, 4]") && msg.contains("rank 4"), "{msg}");
    }
}
