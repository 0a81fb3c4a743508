//! `conv_backprop_filter(x, gy, kernel_size, geometry)`: the gradient of a channels-last
//! `conv` with respect to its kernel (TF's `Conv2DBackpropFilter`): `gW = Σ_n im2col(x)[n]ᵀ @
//! gy[n]`, i.e. `gW[t, c, f] = Σ_{n, o} x[n, o·s - pad_before + t·d, c] · gy[n, o, f]` (padding
//! reads zero), summed over the batch inside the GEMM.
//!
//! VJP: linear in both arguments. With `gz` the cotangent of the output (the kernel's shape):
//! `gx = conv_backprop_input(gy, gz)` and `ggy = conv(x, gz)`, since
//! `⟨gz, im2col(x)ᵀ gy⟩ = ⟨im2col(x) gz, gy⟩`. Derivatives of every order exist.
//!
//! Shapes: `x` `[N, L..., C_in]`, `gy` `[N, O..., C_out]` with `O` the output lengths of `conv`
//! on `x`, output `[k..., C_in, C_out]` (TF's kernel layout). `N` may be the batch dimension;
//! channels-last only. Domain: all reals.
//!
//! The kernel builds blocks of patches in a scratch buffer that stays in cache and accumulates
//! `blockᵀ @ gy_block` into the output block after block (see [`crate::kernels::conv_gemm`]);
//! the order is fixed, so results do not depend on the number of threads.

use smallvec::SmallVec;

use crate::conv_geometry::ConvGeometry;
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv::Window;
use crate::kernels::conv_gemm::{conv_backprop_filter as kernel_backprop_filter, ConvDims};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::im2col::require_channels_last;
use crate::ops::{conv, conv_backprop_input};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// The kernel gradient of a convolution.
#[derive(Debug, Clone)]
pub struct ConvBackpropFilter {
    /// Taps per spatial axis.
    pub kernel_size: SmallVec<[usize; 3]>,
    /// Strides, dilations and padding (channels-last).
    pub geometry: ConvGeometry,
}

impl<F: Scalar> Op<F> for ConvBackpropFilter {
    fn name(&self) -> &'static str {
        "conv_backprop_filter"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        require_channels_last(&self.geometry)?;
        let (x, gy) = (inputs[0], inputs[1]);
        let r = self.geometry.rank();
        let (axes, c_in) = self.geometry.infer(x, &self.kernel_size)?;
        let c_out = match gy.dims().last() {
            Some(Dim::Fixed(c)) if gy.rank() == r + 2 => *c,
            _ => return Err(ShapeError::Custom(format!("gy {gy} must be [N, out..., C_out] of rank {}", r + 2))),
        };
        let want = [x.dim(0)].into_iter().chain(axes.iter().map(|a| Dim::Fixed(a.out))).chain([Dim::Fixed(c_out)]);
        if !gy.dims().iter().copied().eq(want) {
            let outs: Vec<usize> = axes.iter().map(|a| a.out).collect();
            return Err(ShapeError::Custom(format!(
                "gy {gy} must be [{}, {outs:?}..., C_out]: the batch and output lengths of a {:?} window on {x}",
                x.dim(0),
                &self.kernel_size[..]
            )));
        }
        let mut out: Vec<usize> = self.kernel_size.to_vec();
        out.extend([c_in, c_out]);
        Ok(Shape::from(&out[..]))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, gy) = (cx.input(0), cx.input(1));
        let (xd, gd) = (cx.input_dims(0), cx.input_dims(1));
        let (outer, spatial, c_in) = self.geometry.kernel_view(xd);
        let axes = self.geometry.resolve(spatial, &self.kernel_size).map_err(|e| OpFailure(e.to_string()))?;
        let w = Window::new(&axes);
        let c_out = gd[gd.len() - 1];
        kernel_backprop_filter(x, gy, &ConvDims { outer, window: &w, c_in, c_out }, cx.out());
        Ok(())
    }
    fn flops(&self, inputs: &[&[usize]], out: &[usize]) -> u64 {
        // The GEMM patchesᵀ @ gy: one multiply-add per gy element and patch entry (Π k · C_in).
        let k: usize = out[..out.len() - 1].iter().product();
        2 * k as u64 * inputs[1].iter().product::<usize>() as u64
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, gy, gz) = (cx.input(0), cx.input(1), cx.grad_output());
        let r = self.geometry.rank();
        let xs = x.shape();
        let spatial: SmallVec<[usize; 3]> =
            (1..r + 1).map(|a| xs.dim(a).fixed().expect("invariant: spatial axes are fixed")).collect();
        let gx = conv_backprop_input(gy, gz, &self.geometry, &spatial);
        let ggy = conv(x, gz, &self.geometry);
        grads([Some(gx), Some(ggy)])
    }
}

/// The gradient with respect to the kernel (`[kernel_size..., C_in, C_out]`) of the
/// channels-last `conv(x, kernel, geometry)`, for the output cotangent `gy`.
#[track_caller]
pub fn conv_backprop_filter<'g, F: Scalar>(
    x: Tensor<'g, F>,
    gy: Tensor<'g, F>,
    kernel_size: &[usize],
    geometry: &ConvGeometry,
) -> Tensor<'g, F> {
    let op = ConvBackpropFilter { kernel_size: kernel_size.into(), geometry: geometry.clone() };
    x.graph().apply(op, &[x, gy])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_geometry::{DataFormat, Padding};
    use crate::ops::mul;
    use crate::shape::B;
    use crate::testing::*;

    fn geo(s: &[usize], d: &[usize], p: Padding) -> ConvGeometry {
        ConvGeometry::new(s, d, p, DataFormat::ChannelsLast)
    }

    #[test]
    fn conv_backprop_filter_forward() {
        // x = [1, 2, 3, 4], gy = [1, 2] (valid, k = 3): gW[t] = x[t]·1 + x[t + 1]·2:
        // [1 + 4, 2 + 6, 3 + 8].
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [1, 4, 1]);
                let gy = g.constant_f64(&[1.0, 2.0], [1, 2, 1]);
                conv_backprop_filter(x, gy, &[3], &geo(&[1], &[1], Padding::Valid))
            },
            &[5.0, 8.0, 11.0],
        );
        // Summed over the batch: a second example x = [0, 0, 1, 0], gy = [10, 0] adds
        // 10·[0, 0, 1] (its window at 0 reads x[0..3]).
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 1.0, 0.0], [2, 4, 1]);
                let gy = g.constant_f64(&[1.0, 2.0, 10.0, 0.0], [2, 2, 1]);
                conv_backprop_filter(x, gy, &[3], &geo(&[1], &[1], Padding::Valid))
            },
            &[5.0, 8.0, 21.0],
        );
        // Same padding, stride 2 on L = 4 (pad (0, 1)): windows read x[0..3] and x[2..5] with
        // x[4] padding. gy = [1, 1]: gW = [1 + 3, 2 + 4, 3 + 0].
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [1, 4, 1]);
                let gy = g.constant_f64(&[1.0, 1.0], [1, 2, 1]);
                conv_backprop_filter(x, gy, &[3], &geo(&[2], &[1], Padding::Same))
            },
            &[4.0, 6.0, 3.0],
        );
        // Channels: one position, x = [1, 2] (C_in = 2), gy = [3, 4] (C_out = 2), k = 1: the
        // outer product [[3, 4], [6, 8]].
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 2.0], [1, 1, 2]);
                let gy = g.constant_f64(&[3.0, 4.0], [1, 1, 2]);
                conv_backprop_filter(x, gy, &[1], &geo(&[1], &[1], Padding::Valid))
            },
            &[3.0, 4.0, 6.0, 8.0],
        );
    }

    #[test]
    fn conv_backprop_filter_is_the_adjoint_of_conv() {
        // ⟨conv(x, W), gy⟩ = ⟨W, conv_backprop_filter(x, gy)⟩ for a dilated 2-D case.
        let g0 = geo(&[1, 1], &[2, 1], Padding::Same);
        let xv: Vec<f64> = (0..2 * 5 * 4 * 3).map(|i| ((i * 37) % 17) as f64 - 8.0).collect();
        let kv: Vec<f64> = (0..3 * 2 * 3 * 2).map(|i| ((i * 53) % 13) as f64 - 6.0).collect();
        let gv: Vec<f64> = (0..2 * 5 * 4 * 2).map(|i| ((i * 29) % 11) as f64 - 5.0).collect();
        let lhs = eval(|g| {
            let y = conv(g.constant_f64(&xv, [2, 5, 4, 3]), g.constant_f64(&kv, [3, 2, 3, 2]), &g0);
            mul(y, g.constant_f64(&gv, [2, 5, 4, 2])).sum_all()
        });
        let rhs = eval(|g| {
            let gk = conv_backprop_filter(
                g.constant_f64(&xv, [2, 5, 4, 3]),
                g.constant_f64(&gv, [2, 5, 4, 2]),
                &[3, 2],
                &g0,
            );
            mul(gk, g.constant_f64(&kv, [3, 2, 3, 2])).sum_all()
        });
        // Integer data: both sums are exact.
        assert_eq!(lhs, rhs);
    }

    #[test]
    fn conv_backprop_filter_grad() {
        for (s, d, p) in
            [([1, 1], [1, 1], Padding::Valid), ([2, 2], [1, 1], Padding::Same), ([1, 1], [1, 2], Padding::Same)]
        {
            let g0 = geo(&s, &d, p);
            let outs = g0.resolve(&[4, 5], &[2, 2]).unwrap();
            let gy = [2, outs[0].out, outs[1].out, 3];
            check_grads(
                move |_, x| conv_backprop_filter(x[0], x[1], &[2, 2], &g0),
                &[Spec::new([2, 4, 5, 2]), Spec::new(gy)],
                2,
            );
        }
        // A nonlinear consumer, so second derivatives mix both arguments.
        let g1 = geo(&[2], &[1], Padding::Same);
        check_grads(
            move |_, x| {
                let y = conv_backprop_filter(x[0], x[1], &[3], &g1);
                y * y
            },
            &[Spec::new([2, 5, 2]), Spec::new([2, 3, 2])],
            2,
        );
    }

    #[test]
    fn conv_backprop_filter_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(5), Dim::Fixed(2)]);
        let gy = g.input("gy", [B, Dim::Fixed(3), Dim::Fixed(4)]);
        let k = conv_backprop_filter(x, gy, &[3], &geo(&[2], &[1], Padding::Same));
        assert_eq!(k.shape(), Shape::from([3, 2, 4]));
        // patchesᵀ @ gy for 2 examples: 2 · (3 positions · 4 filters) · (3 taps · 2 channels).
        assert_eq!(g.compile(&[k]).unwrap().flops(2), 2 * 2 * 12 * 6);
    }

    #[test]
    fn conv_backprop_filter_shape_errors() {
        let g = Graph::<f64>::new();
        // L = 5, k = 3, valid gives 3 positions, not 4.
        let _ = conv_backprop_filter(
            g.input("x", [1, 5, 2]),
            g.input("gy", [1, 4, 3]),
            &[3],
            &geo(&[1], &[1], Padding::Valid),
        );
        let msg = g.check().unwrap_err().to_string();
        assert!(
            msg.contains("conv_backprop_filter") && msg.contains("[1, 5, 2]") && msg.contains("[1, 4, 3]"),
            "{msg}"
        );
        assert!(msg.contains("[3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = conv_backprop_filter(
            g.input("x", [1, 4, 2]),
            g.input("gy", [1, 1, 3]),
            &[5],
            &geo(&[1], &[1], Padding::Valid),
        );
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("conv_backprop_filter") && msg.contains("shorter"), "{msg}");
    }
}
