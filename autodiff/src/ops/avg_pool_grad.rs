//! `avg_pool_grad(gy, pool_size, geometry, input_spatial)`: the gradient (and adjoint) of
//! `avg_pool`: `y[n, p, c] = Σ_{o : p ∈ V_o} gy[n, o, c] / |V_o|`, where `V_o` are the valid
//! (non-padded) input positions of window `o`.
//!
//! VJP: `ggy = avg_pool(gz)`, because the two are adjoint linear maps. Linear, exact.
//!
//! Shape: `gy` is `[N, O..., C]` (or channels-first), the output `[N, L..., C]` with
//! `L = input_spatial` (several input lengths give the same `O`, so they are given); `O` must
//! be `avg_pool`'s output lengths for `L`. Domain: all reals.
//!
//! The kernel scatters in parallel over whole examples, each in a fixed order.

use smallvec::SmallVec;

use crate::conv_geometry::ConvGeometry;
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv as kconv;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::max_pool::pool_window;
use crate::ops::AvgPool;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Spreads pooled cotangents evenly over their windows.
#[derive(Debug, Clone)]
pub struct AvgPoolGrad {
    /// Window size per spatial axis.
    pub pool_size: SmallVec<[usize; 3]>,
    /// Strides, padding and layout.
    pub geometry: ConvGeometry,
    /// The spatial lengths of the output (the input of the matching `avg_pool`).
    pub input_spatial: SmallVec<[usize; 3]>,
}

impl<F: Scalar> Op<F> for AvgPoolGrad {
    fn name(&self) -> &'static str {
        "avg_pool_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let gy = inputs[0];
        self.geometry.check(&self.pool_size)?;
        let (outs, _) = self.geometry.split_input(gy)?;
        let axes = self.geometry.resolve(&self.input_spatial, &self.pool_size)?;
        if !outs.iter().copied().eq(axes.iter().map(|a| a.out)) {
            let want: Vec<usize> = axes.iter().map(|a| a.out).collect();
            return Err(ShapeError::Custom(format!(
                "gy {gy} does not match input lengths {:?}, whose pooled lengths are {want:?}",
                &self.input_spatial[..]
            )));
        }
        let mut out = gy.clone();
        for (a, &l) in self.geometry.spatial_axes().zip(&self.input_spatial) {
            out.dims_mut()[a] = Dim::Fixed(l);
        }
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let gy = cx.input(0);
        let (outer, w, inner) = pool_window(&self.geometry, &self.pool_size, cx.out_dims())?;
        kconv::avg_pool_grad(gy, outer, &w, inner, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gz = cx.grad_output();
        let op = AvgPool { pool_size: self.pool_size.clone(), geometry: self.geometry.clone() };
        grads([Some(gz.graph().apply(op, &[gz]))])
    }
}

/// The gradient of `avg_pool` over an input of spatial lengths `input_spatial`, for the
/// cotangent `gy`.
#[track_caller]
pub fn avg_pool_grad<'g, F: Scalar>(
    gy: Tensor<'g, F>,
    pool_size: &[usize],
    geometry: &ConvGeometry,
    input_spatial: &[usize],
) -> Tensor<'g, F> {
    let op =
        AvgPoolGrad { pool_size: pool_size.into(), geometry: geometry.clone(), input_spatial: input_spatial.into() };
    gy.graph().apply(op, &[gy])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::{DataFormat, Padding};
    use crate::testing::*;

    fn geo(s: &[usize], p: Padding, f: DataFormat) -> ConvGeometry {
        ConvGeometry::pooling(s, p, f)
    }

    #[test]
    fn avg_pool_grad_forward() {
        // L = 5, pool 3 stride 1 same: windows hold 2, 3, 3, 3, 2 valid elements:
        // [0,1], [0..2], [1..3], [2..4], [3,4]. With gy = [2, 3, 6, 9, 4] each window adds
        // gy/|V| = [1, 1, 2, 3, 2] to its members:
        // y0 = 1 + 1, y1 = 1 + 1 + 2, y2 = 1 + 2 + 3, y3 = 2 + 3 + 2, y4 = 3 + 2.
        assert_forward(
            |g| {
                let gy = g.constant_f64(&[2.0, 3.0, 6.0, 9.0, 4.0], [1, 5, 1]);
                avg_pool_grad(gy, &[3], &geo(&[1], Padding::Same, DataFormat::ChannelsLast), &[5])
            },
            &[2.0, 4.0, 6.0, 7.0, 5.0],
        );
        // Valid 2×2 stride 2 on a 2×3 channels-first image: one window over columns 0..2;
        // column 2 is never read.
        assert_forward(
            |g| {
                let gy = g.constant_f64(&[4.0], [1, 1, 1, 1]);
                avg_pool_grad(gy, &[2, 2], &geo(&[2, 2], Padding::Valid, DataFormat::ChannelsFirst), &[2, 3])
            },
            &[1.0, 1.0, 0.0, 1.0, 1.0, 0.0],
        );
    }

    #[test]
    fn avg_pool_grad_grad() {
        let gm = geo(&[2, 1], Padding::Same, DataFormat::ChannelsLast);
        check_grads(
            move |_, x| {
                let y = avg_pool_grad(x[0], &[3, 2], &gm, &[4, 5]);
                y * y
            },
            &[Spec::new([1, 2, 5, 2])],
            2,
        );
    }

    #[test]
    fn avg_pool_grad_shape_error() {
        let g = Graph::<f64>::new();
        let gy = g.input("gy", [1, 3, 1]);
        let _ = avg_pool_grad(gy, &[2], &geo(&[2], Padding::Valid, DataFormat::ChannelsLast), &[4]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("avg_pool_grad") && msg.contains("[1, 3, 1]") && msg.contains("[2]"), "{msg}");
    }
}
