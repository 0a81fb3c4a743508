//! `col2im(cols, kernel_size, geometry, input_spatial)`: the adjoint of `im2col`. Each patch
//! entry `cols[n, o..., (t..., c)]` is added to `y[n, o·s - pad_before + t·d, c]`; entries that
//! `im2col` took from the padding are dropped. It is the gradient of `im2col` (and so carries
//! the input gradient of a convolution).
//!
//! VJP: `gcols = im2col(gy)`, because `im2col` and `col2im` are adjoint linear maps. Linear,
//! exact; derivatives of every order exist.
//!
//! Shape: `[N, O..., Π k · C] -> [N, L..., C]` where `L = input_spatial` (several input lengths
//! give the same `O`, so they are given) and `O` must be the output lengths of `im2col` on
//! `L`. `N` may be the batch dimension; channels-last only. Domain: all reals.
//!
//! The kernel zeroes the output and adds contiguous runs into it, in parallel over whole
//! examples; within an example the order of the additions is fixed, so results do not depend
//! on the number of threads.

use smallvec::SmallVec;

use crate::conv_geometry::ConvGeometry;
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv::{self as kconv, Window};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::im2col;
use crate::ops::im2col::require_channels_last;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Scatter-add of convolution patches back to the input's positions.
#[derive(Debug, Clone)]
pub struct Col2im {
    /// Taps per spatial axis.
    pub kernel_size: SmallVec<[usize; 3]>,
    /// Strides, dilations and padding (channels-last).
    pub geometry: ConvGeometry,
    /// The spatial lengths of the output (the input of the matching `im2col`).
    pub input_spatial: SmallVec<[usize; 3]>,
}

impl<F: Scalar> Op<F> for Col2im {
    fn name(&self) -> &'static str {
        "col2im"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        require_channels_last(&self.geometry)?;
        self.geometry.check(&self.kernel_size)?;
        let cols = inputs[0];
        let r = self.geometry.rank();
        let taps: usize = self.kernel_size.iter().product();
        let row = match cols.dims().last() {
            Some(Dim::Fixed(n)) if cols.rank() == r + 2 && n % taps == 0 => *n,
            _ => {
                return Err(ShapeError::Custom(format!(
                "patches must be [N, out..., taps·C] with rank {} and a last axis divisible by {taps} taps, got {cols}",
                r + 2
            )))
            }
        };
        if self.input_spatial.len() != r {
            return Err(ShapeError::Custom(format!(
                "input_spatial {:?} needs one length per spatial axis ({r})",
                &self.input_spatial[..]
            )));
        }
        let axes = self.geometry.resolve(&self.input_spatial, &self.kernel_size)?;
        let want = axes.iter().map(|a| Dim::Fixed(a.out));
        if !cols.dims()[1..r + 1].iter().copied().eq(want) {
            let outs: Vec<usize> = axes.iter().map(|a| a.out).collect();
            return Err(ShapeError::Custom(format!(
                "patches {cols} do not match input lengths {:?}, whose output lengths are {outs:?}",
                &self.input_spatial[..]
            )));
        }
        let mut out = Shape::new([cols.dim(0)]);
        out.dims_mut().extend(self.input_spatial.iter().map(|&l| Dim::Fixed(l)));
        out.dims_mut().push(Dim::Fixed(row / taps));
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let cols = cx.input(0);
        let od = cx.out_dims();
        let (outer, spatial, c) = self.geometry.kernel_view(od);
        let axes = self.geometry.resolve(spatial, &self.kernel_size).map_err(|e| OpFailure(e.to_string()))?;
        kconv::col2im(cols, outer, &Window::new(&axes), c, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(im2col(cx.grad_output(), &self.kernel_size, &self.geometry))])
    }
}

/// Adds every patch entry of `cols` (`[N, O..., Π k · C]`) back to the position of a
/// channels-last input of spatial lengths `input_spatial` it came from: `[N, L..., C]`.
#[track_caller]
pub fn col2im<'g, F: Scalar>(
    cols: Tensor<'g, F>,
    kernel_size: &[usize],
    geometry: &ConvGeometry,
    input_spatial: &[usize],
) -> Tensor<'g, F> {
    let op =
        Col2im { kernel_size: kernel_size.into(), geometry: geometry.clone(), input_spatial: input_spatial.into() };
    cols.graph().apply(op, &[cols])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::{DataFormat, Padding};
    use crate::shape::B;
    use crate::testing::*;

    fn geo(s: &[usize], d: &[usize], p: Padding) -> ConvGeometry {
        ConvGeometry::new(s, d, p, DataFormat::ChannelsLast)
    }

    #[test]
    fn col2im_forward_1d() {
        // L = 4, k = 3, valid: rows [a, b, c] at positions 0..3 and [d, e, f] at 1..4, so
        // y = [a, b + d, c + e, f] = [1, 2 + 4, 3 + 5, 6].
        assert_forward(
            |g| {
                col2im(
                    g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 2, 3]),
                    &[3],
                    &geo(&[1], &[1], Padding::Valid),
                    &[4],
                )
            },
            &[1.0, 6.0, 8.0, 6.0],
        );
        // Same, stride 2 on L = 4 (pad (0, 1)): rows cover 0..3 and 2..5; the entry at 4 is
        // padding and dropped: y = [1, 2, 3 + 4, 5].
        assert_forward(
            |g| {
                col2im(
                    g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 2, 3]),
                    &[3],
                    &geo(&[2], &[1], Padding::Same),
                    &[4],
                )
            },
            &[1.0, 2.0, 7.0, 5.0],
        );
        // Counting how often each position is read: col2im(ones) for k = 3, same, L = 5 is
        // [2, 3, 3, 3, 2] (the ends lose the padded tap).
        assert_forward(
            |g| col2im(g.constant_f64(&[1.0; 15], [1, 5, 3]), &[3], &geo(&[1], &[1], Padding::Same), &[5]),
            &[2.0, 3.0, 3.0, 3.0, 2.0],
        );
    }

    #[test]
    fn col2im_forward_2d_dilated_counts() {
        // col2im(ones) counts, per pixel, the valid taps reading it. 4×4 image, 2×2 window,
        // dilation 2, valid: k_eff 3, 2×2 positions; along one axis position o reads o and
        // o + 2, so index counts are [1, 1, 1, 1] and each pixel is read once.
        assert_forward(
            |g| {
                col2im(
                    g.constant_f64(&[1.0; 16], [1, 2, 2, 4]),
                    &[2, 2],
                    &geo(&[1, 1], &[2, 2], Padding::Valid),
                    &[4, 4],
                )
            },
            &[1.0; 16],
        );
    }

    #[test]
    fn col2im_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let c = g.input("c", [B, Dim::Fixed(3), Dim::Fixed(6)]);
        let y = col2im(c, &[3], &geo(&[2], &[1], Padding::Same), &[5]);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(5), Dim::Fixed(2)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn col2im_grad() {
        check_grads(|_, x| col2im(x[0], &[3], &geo(&[2], &[1], Padding::Same), &[6]), &[Spec::new([2, 3, 6])], 2);
        check_grads(
            |_, x| {
                let y = col2im(x[0], &[2, 2], &geo(&[1, 1], &[1, 2], Padding::Same), &[3, 4]);
                y * y
            },
            &[Spec::new([1, 3, 4, 4])],
            2,
        );
    }

    #[test]
    fn col2im_shape_errors() {
        let g = Graph::<f64>::new();
        // L = 5, k = 3, valid gives 3 positions, not 4.
        let _ = col2im(g.input("c", [1, 4, 3]), &[3], &geo(&[1], &[1], Padding::Valid), &[5]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("col2im") && msg.contains("[1, 4, 3]") && msg.contains("[3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = col2im(g.input("c", [1, 3, 4]), &[3], &geo(&[1], &[1], Padding::Valid), &[5]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("col2im") && msg.contains("divisible by 3"), "{msg}");
    }
}
