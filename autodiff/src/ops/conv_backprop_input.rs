//! `conv_backprop_input(gy, kernel, geometry, input_spatial)`: the gradient of a channels-last
//! `conv` with respect to its input (TF's `Conv2DBackpropInput`):
//! `gx = col2im(gy @ Wᵀ)`, with `W` the kernel as a `[Π k · C_in, C_out]` matrix, i.e.
//! `gx[n, l, c] = Σ_{o, t : o·s - pad_before + t·d = l} Σ_f gy[n, o, f] · kernel[t, c, f]`.
//!
//! VJP: linear in both arguments. With `gz` the cotangent of the output (`x`'s shape):
//! `ggy = conv(gz, kernel)` and `gkernel = conv_backprop_filter(gz, gy)`, since
//! `⟨gz, col2im(gy Wᵀ)⟩ = ⟨im2col(gz), gy Wᵀ⟩`. Derivatives of every order exist.
//!
//! Shapes: `gy` `[N, O..., C_out]`, `kernel` `[k..., C_in, C_out]`, output `[N, L..., C_in]`
//! with `L = input_spatial` (several input lengths give the same `O`, so they are given) and
//! `O` the output lengths of `conv` on `L`. `N` may be the batch dimension; channels-last only.
//! Domain: all reals.
//!
//! The kernel multiplies blocks of `gy` rows by `Wᵀ` into a scratch buffer that stays in cache
//! and scatter-adds each block at once, in parallel over whole examples (see
//! [`crate::kernels::conv_gemm`]); the order of the additions is fixed, so results do not
//! depend on the number of threads.

use smallvec::SmallVec;

use crate::conv_geometry::ConvGeometry;
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv::Window;
use crate::kernels::conv_gemm::{conv_backprop_input as kernel_backprop_input, ConvDims};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::conv::fixed_kernel_dims;
use crate::ops::im2col::require_channels_last;
use crate::ops::{conv, conv_backprop_filter};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// The input gradient of a convolution.
#[derive(Debug, Clone)]
pub struct ConvBackpropInput {
    /// Strides, dilations and padding (channels-last).
    pub geometry: ConvGeometry,
    /// The spatial lengths of the output (the convolution's input).
    pub input_spatial: SmallVec<[usize; 3]>,
}

impl<F: Scalar> Op<F> for ConvBackpropInput {
    fn name(&self) -> &'static str {
        "conv_backprop_input"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        require_channels_last(&self.geometry)?;
        let (gy, kernel) = (inputs[0], inputs[1]);
        let r = self.geometry.rank();
        let kd = fixed_kernel_dims(kernel, r)?;
        self.geometry.check(&kd[..r])?;
        if self.input_spatial.len() != r {
            return Err(ShapeError::Custom(format!(
                "input_spatial {:?} needs one length per spatial axis ({r})",
                &self.input_spatial[..]
            )));
        }
        let axes = self.geometry.resolve(&self.input_spatial, &kd[..r])?;
        let want = axes.iter().map(|a| Dim::Fixed(a.out)).chain([Dim::Fixed(kd[r + 1])]);
        if gy.rank() != r + 2 || !gy.dims()[1..].iter().copied().eq(want) {
            let outs: Vec<usize> = axes.iter().map(|a| a.out).collect();
            return Err(ShapeError::Custom(format!(
                "gy {gy} must be [N, {outs:?}..., {}]: the output of kernel {kernel} on input lengths {:?}",
                kd[r + 1],
                &self.input_spatial[..]
            )));
        }
        let mut out = Shape::new([gy.dim(0)]);
        out.dims_mut().extend(self.input_spatial.iter().map(|&l| Dim::Fixed(l)));
        out.dims_mut().push(Dim::Fixed(kd[r]));
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (gy, kernel) = (cx.input(0), cx.input(1));
        let kd = cx.input_dims(1);
        let r = self.geometry.rank();
        let (outer, spatial, c_in) = self.geometry.kernel_view(cx.out_dims());
        let axes = self.geometry.resolve(spatial, &kd[..r]).map_err(|e| OpFailure(e.to_string()))?;
        let w = Window::new(&axes);
        kernel_backprop_input(gy, kernel, &ConvDims { outer, window: &w, c_in, c_out: kd[r + 1] }, cx.out());
        Ok(())
    }
    fn flops(&self, inputs: &[&[usize]], _out: &[usize]) -> u64 {
        // The GEMM gy @ Wᵀ: one multiply-add per gy element and patch entry (Π k · C_in).
        let kd = inputs[1];
        let k: usize = kd[..kd.len() - 1].iter().product();
        2 * k as u64 * inputs[0].iter().product::<usize>() as u64
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (gy, kernel, gz) = (cx.input(0), cx.input(1), cx.grad_output());
        let r = self.geometry.rank();
        let ks = kernel.shape();
        let ksize: SmallVec<[usize; 3]> =
            (0..r).map(|a| ks.dim(a).fixed().expect("invariant: kernel axes are fixed")).collect();
        let ggy = conv(gz, kernel, &self.geometry);
        let gk = conv_backprop_filter(gz, gy, &ksize, &self.geometry);
        grads([Some(ggy), Some(gk)])
    }
}

/// The gradient with respect to `x` of the channels-last `conv(x, kernel, geometry)`, for the
/// output cotangent `gy`, where `x` has spatial lengths `input_spatial`: `[N, L..., C_in]`.
#[track_caller]
pub fn conv_backprop_input<'g, F: Scalar>(
    gy: Tensor<'g, F>,
    kernel: Tensor<'g, F>,
    geometry: &ConvGeometry,
    input_spatial: &[usize],
) -> Tensor<'g, F> {
    let op = ConvBackpropInput { geometry: geometry.clone(), input_spatial: input_spatial.into() };
    gy.graph().apply(op, &[gy, kernel])
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
    fn conv_backprop_input_forward() {
        // L = 4, k = 3, valid: gy = [1, 2] at positions 0 and 1, kernel [1, 0, -1]. Each gy
        // entry spreads gy · kernel over its window: [1, 0, -1, 0] + [0, 2, 0, -2].
        assert_forward(
            |g| {
                let gy = g.constant_f64(&[1.0, 2.0], [1, 2, 1]);
                let k = g.constant_f64(&[1.0, 0.0, -1.0], [3, 1, 1]);
                conv_backprop_input(gy, k, &geo(&[1], &[1], Padding::Valid), &[4])
            },
            &[1.0, 2.0, -1.0, -2.0],
        );
        // Two input channels, two filters, k = 1 (pointwise): gx = gy @ Wᵀ per position.
        // W = [[1, 10], [100, 1000]] (C_in × C_out), gy = [1, 2]: [1 + 20, 100 + 2000].
        assert_forward(
            |g| {
                let gy = g.constant_f64(&[1.0, 2.0], [1, 1, 2]);
                let k = g.constant_f64(&[1.0, 10.0, 100.0, 1000.0], [1, 2, 2]);
                conv_backprop_input(gy, k, &geo(&[1], &[1], Padding::Valid), &[1])
            },
            &[21.0, 2100.0],
        );
        // Same padding, stride 2 on L = 4 (pad (0, 1)): windows cover 0..3 and 2..5, the tap
        // at 4 is padding and dropped. gy = [1, 1], kernel [1, 2, 3]: [1, 2, 3 + 1, 2].
        assert_forward(
            |g| {
                let gy = g.constant_f64(&[1.0, 1.0], [1, 2, 1]);
                let k = g.constant_f64(&[1.0, 2.0, 3.0], [3, 1, 1]);
                conv_backprop_input(gy, k, &geo(&[2], &[1], Padding::Same), &[4])
            },
            &[1.0, 2.0, 4.0, 2.0],
        );
    }

    #[test]
    fn conv_backprop_input_is_the_adjoint_of_conv() {
        // ⟨conv(x, W), gy⟩ = ⟨x, conv_backprop_input(gy, W)⟩ for a padded, strided 2-D case.
        let g0 = geo(&[2, 1], &[1, 1], Padding::Same);
        let xv: Vec<f64> = (0..2 * 5 * 4 * 3).map(|i| ((i * 37) % 17) as f64 - 8.0).collect();
        let kv: Vec<f64> = (0..3 * 2 * 3 * 2).map(|i| ((i * 53) % 13) as f64 - 6.0).collect();
        let gv: Vec<f64> = (0..2 * 3 * 4 * 2).map(|i| ((i * 29) % 11) as f64 - 5.0).collect();
        let lhs = eval(|g| {
            let y = conv(g.constant_f64(&xv, [2, 5, 4, 3]), g.constant_f64(&kv, [3, 2, 3, 2]), &g0);
            mul(y, g.constant_f64(&gv, [2, 3, 4, 2])).sum_all()
        });
        let rhs = eval(|g| {
            let gx =
                conv_backprop_input(g.constant_f64(&gv, [2, 3, 4, 2]), g.constant_f64(&kv, [3, 2, 3, 2]), &g0, &[5, 4]);
            mul(gx, g.constant_f64(&xv, [2, 5, 4, 3])).sum_all()
        });
        // Integer data: both sums are exact.
        assert_eq!(lhs, rhs);
    }

    #[test]
    fn conv_backprop_input_grad() {
        for (s, d, p, spatial) in [
            ([1, 1], [1, 1], Padding::Valid, [4, 5]),
            ([2, 2], [1, 1], Padding::Same, [4, 5]),
            ([1, 1], [2, 1], Padding::Same, [4, 5]),
        ] {
            let g0 = geo(&s, &d, p);
            let outs = g0.resolve(&spatial, &[2, 2]).unwrap();
            let gy = [1, outs[0].out, outs[1].out, 3];
            check_grads(
                move |_, x| conv_backprop_input(x[0], x[1], &g0, &spatial),
                &[Spec::new(gy), Spec::new([2, 2, 2, 3])],
                2,
            );
        }
        // A nonlinear consumer, so second derivatives mix both arguments.
        let g1 = geo(&[1], &[1], Padding::Same);
        check_grads(
            move |_, x| {
                let y = conv_backprop_input(x[0], x[1], &g1, &[5]);
                y * y
            },
            &[Spec::new([2, 5, 2]), Spec::new([3, 2, 2])],
            2,
        );
    }

    #[test]
    fn conv_backprop_input_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let gy = g.input("gy", [B, Dim::Fixed(3), Dim::Fixed(4)]);
        let y = conv_backprop_input(gy, g.input("k", [3, 2, 4]), &geo(&[2], &[1], Padding::Same), &[5]);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(5), Dim::Fixed(2)]));
        // gy @ Wᵀ for 2 examples: 2 · (3 positions · 4 filters) · (3 taps · 2 channels).
        assert_eq!(g.compile(&[y]).unwrap().flops(2), 2 * 2 * 12 * 6);
    }

    #[test]
    fn conv_backprop_input_shape_errors() {
        let g = Graph::<f64>::new();
        // L = 5, k = 3, valid gives 3 positions, not 4.
        let _ = conv_backprop_input(
            g.input("gy", [1, 4, 2]),
            g.input("k", [3, 1, 2]),
            &geo(&[1], &[1], Padding::Valid),
            &[5],
        );
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("conv_backprop_input") && msg.contains("[1, 4, 2]") && msg.contains("[3, 1, 2]"), "{msg}");
        assert!(msg.contains("[3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ =
            conv_backprop_input(g.input("gy", [1, 3, 2]), g.input("k", [3, 2]), &geo(&[1], &[1], Padding::Valid), &[5]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("conv_backprop_input") && msg.contains("rank 3"), "{msg}");
    }
}
