//! `im2col(x, kernel_size, geometry)`: the patches a convolution multiplies, one row per
//! output position. For `x` of shape `[N, L..., C]` (channels last) and a window of
//! `k = [k_1, …]` taps,
//! `y[n, o..., (t..., c)] = x[n, o·s - pad_before + t·d, c]`, zero where that position falls in
//! the padding; the last axis enumerates `(t..., c)` row-major, which is the order of a TF
//! kernel `[k..., C_in, C_out]` reshaped to `[Π k · C_in, C_out]`. So a convolution is
//! `im2col(x) @ reshape(kernel)` (see `conv`).
//!
//! VJP: `gx = col2im(gy)`, the scatter-add of every patch entry back to the position it was
//! copied from (padding entries are dropped); `col2im`'s own VJP is `im2col`, so derivatives of
//! every order exist. Linear, exact.
//!
//! Shape: `[N, L..., C] -> [N, O..., Π k · C]` with `O` per TF's rules (see
//! [`crate::conv_geometry`]). `N` may be the batch dimension; the geometry must be
//! channels-last (`conv` transposes channels-first inputs). Domain: all reals.
//!
//! The kernel copies contiguous runs (the `C` channels of a tap, or a whole window row when
//! the last axis is not dilated) into the planned output, in parallel over output positions.

use smallvec::SmallVec;

use crate::conv_geometry::{ConvGeometry, DataFormat};
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv::{self as kconv, Window};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::col2im;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Convolution patches as rows.
#[derive(Debug, Clone)]
pub struct Im2col {
    /// Taps per spatial axis.
    pub kernel_size: SmallVec<[usize; 3]>,
    /// Strides, dilations and padding (channels-last).
    pub geometry: ConvGeometry,
}

/// Rejects a channels-first geometry for the channels-last patch ops.
pub(crate) fn require_channels_last(geometry: &ConvGeometry) -> Result<(), ShapeError> {
    match geometry.data_format {
        DataFormat::ChannelsLast => Ok(()),
        DataFormat::ChannelsFirst => Err(ShapeError::Custom(
            "patches are built from channels-last inputs; transpose a channels-first input first".into(),
        )),
    }
}

impl<F: Scalar> Op<F> for Im2col {
    fn name(&self) -> &'static str {
        "im2col"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        require_channels_last(&self.geometry)?;
        let x = inputs[0];
        let (axes, c) = self.geometry.infer(x, &self.kernel_size)?;
        let taps: usize = self.kernel_size.iter().product();
        let mut out = Shape::new([x.dim(0)]);
        out.dims_mut().extend(axes.iter().map(|a| Dim::Fixed(a.out)));
        out.dims_mut().push(Dim::Fixed(taps * c));
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let (outer, spatial, c) = self.geometry.kernel_view(xd);
        let axes = self.geometry.resolve(spatial, &self.kernel_size).map_err(|e| OpFailure(e.to_string()))?;
        kconv::im2col(x, outer, &Window::new(&axes), c, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let xs = cx.input(0).shape();
        let spatial: SmallVec<[usize; 3]> = self
            .geometry
            .spatial_axes()
            .map(|a| xs.dim(a).fixed().expect("invariant: spatial axes are fixed"))
            .collect();
        grads([Some(col2im(cx.grad_output(), &self.kernel_size, &self.geometry, &spatial))])
    }
}

/// The convolution patches of a channels-last `x` (`[N, L..., C]`), one row of `Π k · C`
/// values per output position: `[N, O..., Π k · C]`.
#[track_caller]
pub fn im2col<'g, F: Scalar>(x: Tensor<'g, F>, kernel_size: &[usize], geometry: &ConvGeometry) -> Tensor<'g, F> {
    x.graph().apply(Im2col { kernel_size: kernel_size.into(), geometry: geometry.clone() }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::Padding;
    use crate::shape::B;
    use crate::testing::*;

    fn geo(s: &[usize], d: &[usize], p: Padding) -> ConvGeometry {
        ConvGeometry::new(s, d, p, DataFormat::ChannelsLast)
    }

    #[test]
    fn im2col_forward_1d() {
        // x = [1, 2, 3, 4] (N = 1, C = 1), k = 3, valid: rows [1, 2, 3], [2, 3, 4].
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_forward(
            |g| im2col(g.constant_f64(&x, [1, 4, 1]), &[3], &geo(&[1], &[1], Padding::Valid)),
            &[1.0, 2.0, 3.0, 2.0, 3.0, 4.0],
        );
        // Same, stride 2: out ceil(4/2) = 2, pad_total (2-1)·2 + 3 - 4 = 1 -> (0, 1): windows
        // start at 0 and 2: [1, 2, 3], [3, 4, pad 0].
        assert_forward(
            |g| im2col(g.constant_f64(&x, [1, 4, 1]), &[3], &geo(&[2], &[1], Padding::Same)),
            &[1.0, 2.0, 3.0, 3.0, 4.0, 0.0],
        );
        // Dilation 2, same: k_eff 5, pad_total 3 + 5 - 4 = 4 -> (2, 2); window o reads
        // o-2, o, o+2: [0, 1, 3], [0, 2, 4], [1, 3, 0], [2, 4, 0].
        assert_forward(
            |g| im2col(g.constant_f64(&x, [1, 4, 1]), &[3], &geo(&[1], &[2], Padding::Same)),
            &[0.0, 1.0, 3.0, 0.0, 2.0, 4.0, 1.0, 3.0, 0.0, 2.0, 4.0, 0.0],
        );
    }

    #[test]
    fn im2col_forward_2d_with_channels() {
        // x is 2×2 with 2 channels: pixel (i, j) = [10i + j, -(10i + j)]. A 2×2 valid window
        // has one position; its row is the four pixels in (t0, t1) order, channels innermost.
        let x = [0.0, -0.0, 1.0, -1.0, 10.0, -10.0, 11.0, -11.0];
        assert_forward(
            |g| im2col(g.constant_f64(&x, [1, 2, 2, 2]), &[2, 2], &geo(&[1, 1], &[1, 1], Padding::Valid)),
            &x,
        );
        // Same padding on the 2×2 image with a 2×2 window: pad (0, 1) per axis, so position
        // (i, j) reads pixels (i..i+2, j..j+2) with out-of-range ones zero. Channel 0 only:
        // (0,0): 0 1 10 11; (0,1): 1 0 11 0; (1,0): 10 11 0 0; (1,1): 11 0 0 0.
        let x0 = [0.0, 1.0, 10.0, 11.0];
        assert_forward(
            |g| im2col(g.constant_f64(&x0, [1, 2, 2, 1]), &[2, 2], &geo(&[1, 1], &[1, 1], Padding::Same)),
            &[0.0, 1.0, 10.0, 11.0, 1.0, 0.0, 11.0, 0.0, 10.0, 11.0, 0.0, 0.0, 11.0, 0.0, 0.0, 0.0],
        );
    }

    #[test]
    fn im2col_shapes() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(5), Dim::Fixed(6), Dim::Fixed(3)]);
        let y = im2col(x, &[3, 2], &geo(&[2, 1], &[1, 1], Padding::Same));
        // out ceil(5/2) = 3, ceil(6/1) = 6; row 3·2·3 = 18.
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(3), Dim::Fixed(6), Dim::Fixed(18)]));
        let y = im2col(x, &[3, 3], &geo(&[1, 1], &[2, 2], Padding::Valid));
        // k_eff 5: out 1 and 2.
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(1), Dim::Fixed(2), Dim::Fixed(27)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn im2col_grad() {
        check_grads(|_, x| im2col(x[0], &[3], &geo(&[2], &[1], Padding::Same)), &[Spec::new([2, 7, 2])], 2);
        check_grads(|_, x| im2col(x[0], &[2, 3], &geo(&[1, 1], &[2, 1], Padding::Same)), &[Spec::new([1, 4, 5, 2])], 2);
        // Nonlinear consumer, so the second-order check goes through col2im's VJP.
        check_grads(
            |_, x| {
                let y = im2col(x[0], &[2, 2, 2], &geo(&[1, 2, 1], &[1, 1, 1], Padding::Valid));
                y * y
            },
            &[Spec::new([1, 3, 3, 4, 1])],
            2,
        );
    }

    #[test]
    fn im2col_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = im2col(g.input("x", [1, 4, 2]), &[5], &geo(&[1], &[1], Padding::Valid));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("im2col") && msg.contains("[1, 4, 2]") && msg.contains("shorter"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = im2col(g.input("x", [1, 4, 2]), &[3], &geo(&[2], &[2], Padding::Valid));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("im2col") && msg.contains("not supported"), "{msg}");
        let g = Graph::<f64>::new();
        let cf = ConvGeometry::new(&[1], &[1], Padding::Valid, DataFormat::ChannelsFirst);
        let _ = im2col(g.input("x", [1, 2, 4]), &[3], &cf);
        assert!(g.check().unwrap_err().to_string().contains("channels-last"));
    }
}
