//! `conv(x, kernel, geometry)` and `conv1d` / `conv2d` / `conv3d`: TF/Keras convolution (a
//! cross-correlation, the kernel is not flipped), without bias.
//!
//! Forward, channels-last: `y[n, o..., f] = Σ_{t..., c} x[n, o·s - pad_before + t·d, c] ·
//! kernel[t..., c, f]`, padding reading zeros: the patches `im2col(x)` (`[N·P, Π k · C_in]`)
//! times the kernel as a `[Π k · C_in, C_out]` matrix. The `Conv` op computes it block by
//! block, each block of patches built in cache and consumed by a GEMM at once (see
//! [`crate::kernels::conv_gemm`]), so the patch matrix is never stored. Channels-first inputs
//! are transposed to channels-last and the result back.
//!
//! VJP: `gx = conv_backprop_input(gy, kernel)` (`col2im(gy @ Wᵀ)`) and
//! `gW = conv_backprop_filter(x, gy)` (`Σ_n patchesᵀ @ gy`, one GEMM over the whole batch).
//! The three ops are each other's derivatives, so derivatives of every order exist. Each
//! reports its GEMM's flops (2 · MACs, padded taps included) to benchmarks.
//!
//! Shapes: `x` is `[N, L..., C_in]` (or `[N, C_in, L...]`), `kernel` is `[k..., C_in, C_out]`
//! (TF's layout), the output `[N, O..., C_out]` (or `[N, C_out, O...]`) with `O` per TF's rules
//! (see [`crate::conv_geometry`]). `N` may be the batch dimension; everything else is fixed.
//! Errors (recorded under the function's name): kernel rank or channel mismatch, a Valid window
//! longer than its axis, strides > 1 together with dilations > 1.
//!
//! Domain: all reals. Numerics are those of the GEMM (no cancellation beyond a dot product).

use smallvec::SmallVec;

pub use crate::conv_geometry::{ConvGeometry, DataFormat, Padding};
use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::conv::Window;
use crate::kernels::conv_gemm::{conv_forward, ConvDims};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::im2col::require_channels_last;
use crate::ops::{conv_backprop_filter, conv_backprop_input, transpose};
use crate::scalar::Scalar;
use crate::shape::{Dim, Dims, Shape};

/// Channels-last convolution of `x` with a TF-layout kernel.
#[derive(Debug, Clone)]
pub struct Conv {
    /// Strides, dilations and padding (channels-last).
    pub geometry: ConvGeometry,
}

impl<F: Scalar> Op<F> for Conv {
    fn name(&self) -> &'static str {
        "conv"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        require_channels_last(&self.geometry)?;
        let (_, _, c_out, outs) = check_conv(inputs[0], inputs[1], &self.geometry)?;
        let mut s = Shape::new([inputs[0].dim(0)]);
        s.dims_mut().extend(outs.iter().map(|&o| Dim::Fixed(o)));
        s.dims_mut().push(Dim::Fixed(c_out));
        Ok(s)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, kernel) = (cx.input(0), cx.input(1));
        let (xd, kd) = (cx.input_dims(0), cx.input_dims(1));
        let r = self.geometry.rank();
        let (outer, spatial, c_in) = self.geometry.kernel_view(xd);
        let axes = self.geometry.resolve(spatial, &kd[..r]).map_err(|e| OpFailure(e.to_string()))?;
        let w = Window::new(&axes);
        conv_forward(x, kernel, &ConvDims { outer, window: &w, c_in, c_out: kd[r + 1] }, cx.out());
        Ok(())
    }
    fn flops(&self, inputs: &[&[usize]], out: &[usize]) -> u64 {
        // One multiply-add per output element and patch entry (Π k · C_in).
        let k: usize = inputs[1][..inputs[1].len() - 1].iter().product();
        2 * k as u64 * out.iter().product::<usize>() as u64
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, kernel, gy) = (cx.input(0), cx.input(1), cx.grad_output());
        let r = self.geometry.rank();
        let (xs, ks) = (x.shape(), kernel.shape());
        let fixed = |s: &Shape, a: usize| s.dim(a).fixed().expect("invariant: conv spatial axes are fixed");
        let spatial: SmallVec<[usize; 3]> = (1..r + 1).map(|a| fixed(&xs, a)).collect();
        let ksize: SmallVec<[usize; 3]> = (0..r).map(|a| fixed(&ks, a)).collect();
        let gx = conv_backprop_input(gy, kernel, &self.geometry, &spatial);
        let gk = conv_backprop_filter(x, gy, &ksize, &self.geometry);
        grads([Some(gx), Some(gk)])
    }
}

/// Convolution of `x` with a TF-layout `kernel` (`[k..., C_in, C_out]`) under `geometry`, of
/// rank 1, 2 or 3.
#[track_caller]
pub fn conv<'g, F: Scalar>(x: Tensor<'g, F>, kernel: Tensor<'g, F>, geometry: &ConvGeometry) -> Tensor<'g, F> {
    conv_named("conv", x, kernel, geometry)
}

/// 1-D convolution: `x` `[N, L, C_in]` (or `[N, C_in, L]`), `kernel` `[k, C_in, C_out]`.
#[track_caller]
pub fn conv1d<'g, F: Scalar>(
    x: Tensor<'g, F>,
    kernel: Tensor<'g, F>,
    strides: &[usize],
    padding: Padding,
    dilation: &[usize],
    data_format: DataFormat,
) -> Tensor<'g, F> {
    conv_named("conv1d", x, kernel, &ConvGeometry::new(strides, dilation, padding, data_format))
}

/// 2-D convolution: `x` `[N, H, W, C_in]` (or `[N, C_in, H, W]`), `kernel`
/// `[kh, kw, C_in, C_out]`.
#[track_caller]
pub fn conv2d<'g, F: Scalar>(
    x: Tensor<'g, F>,
    kernel: Tensor<'g, F>,
    strides: &[usize],
    padding: Padding,
    dilation: &[usize],
    data_format: DataFormat,
) -> Tensor<'g, F> {
    conv_named("conv2d", x, kernel, &ConvGeometry::new(strides, dilation, padding, data_format))
}

/// 3-D convolution: `x` `[N, D, H, W, C_in]` (or `[N, C_in, D, H, W]`), `kernel`
/// `[kd, kh, kw, C_in, C_out]`.
#[track_caller]
pub fn conv3d<'g, F: Scalar>(
    x: Tensor<'g, F>,
    kernel: Tensor<'g, F>,
    strides: &[usize],
    padding: Padding,
    dilation: &[usize],
    data_format: DataFormat,
) -> Tensor<'g, F> {
    conv_named("conv3d", x, kernel, &ConvGeometry::new(strides, dilation, padding, data_format))
}

/// The dims of a fixed-shape kernel `[k..., C_in, C_out]` for `r` spatial axes.
pub(crate) fn fixed_kernel_dims(kernel: &Shape, r: usize) -> Result<Dims, ShapeError> {
    match kernel.fixed_dims() {
        Some(kd) if kernel.rank() == r + 2 => Ok(kd),
        _ => Err(ShapeError::Custom(format!(
            "kernel {kernel} must be a fixed [k..., C_in, C_out] of rank {} for {r} spatial axes",
            r + 2
        ))),
    }
}

/// The kernel's window size and channel counts and the output lengths, after checking the
/// kernel against `x`.
pub(crate) fn check_conv(
    x: &Shape,
    kernel: &Shape,
    geometry: &ConvGeometry,
) -> Result<(Vec<usize>, usize, usize, Vec<usize>), ShapeError> {
    let r = geometry.rank();
    let kd = fixed_kernel_dims(kernel, r)?;
    let (ksize, c_in, c_out) = (kd[..r].to_vec(), kd[r], kd[r + 1]);
    let (axes, c) = geometry.infer(x, &ksize)?;
    if c != c_in {
        return Err(ShapeError::Custom(format!(
            "input {x} has {c} channels (axis {}) but kernel {kernel} expects C_in = {c_in}",
            geometry.channel_axis()
        )));
    }
    Ok((ksize, c_in, c_out, axes.iter().map(|a| a.out).collect()))
}

#[track_caller]
fn conv_named<'g, F: Scalar>(
    name: &'static str,
    x: Tensor<'g, F>,
    kernel: Tensor<'g, F>,
    geometry: &ConvGeometry,
) -> Tensor<'g, F> {
    let g = x.graph();
    if x.is_poisoned() || kernel.is_poisoned() {
        return g.poisoned();
    }
    if let Err(e) = check_conv(&x.shape(), &kernel.shape(), geometry) {
        g.record_shape_error(name, e, &[x, kernel]);
        return g.poisoned();
    }
    let r = geometry.rank();
    let first = geometry.data_format == DataFormat::ChannelsFirst;
    // [N, C, L...] -> [N, L..., C] and back.
    let to_last: Vec<usize> = [0].into_iter().chain(2..r + 2).chain([1]).collect();
    let to_first: Vec<usize> = [0, r + 1].into_iter().chain(1..r + 1).collect();
    let xl = if first { transpose(x, &to_last) } else { x };
    let geo = ConvGeometry { data_format: DataFormat::ChannelsLast, ..geometry.clone() };
    let y = g.apply(Conv { geometry: geo }, &[xl, kernel]);
    if first {
        transpose(y, &to_first)
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;
    use crate::{grad, ParamStore, Session};

    const CL: DataFormat = DataFormat::ChannelsLast;
    const CF: DataFormat = DataFormat::ChannelsFirst;

    #[test]
    fn conv_forward_1d() {
        // [1, 2, 3, 4] ⋆ [1, 0, -1], valid: 1 - 3 = -2, 2 - 4 = -2.
        fn c<'g>(g: &'g Graph<f64>, p: Padding, s: usize, d: usize) -> Tensor<'g, f64> {
            let (x, k) = ([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, -1.0]);
            conv1d(g.constant_f64(&x, [1, 4, 1]), g.constant_f64(&k, [3, 1, 1]), &[s], p, &[d], CL)
        }
        assert_forward(|g| c(g, Padding::Valid, 1, 1), &[-2.0, -2.0]);
        // Same, pad (1, 1): [0-2, 1-3, 2-4, 3-0] = [-2, -2, -2, 3].
        assert_forward(|g| c(g, Padding::Same, 1, 1), &[-2.0, -2.0, -2.0, 3.0]);
        // Same, stride 2, pad (0, 1): windows at 0 and 2: [1 - 3, 3 - 0] = [-2, 3].
        assert_forward(|g| c(g, Padding::Same, 2, 1), &[-2.0, 3.0]);
        // Dilation 2, same (pad (2, 2)): y[o] = x[o-2] - x[o+2] = [0-3, 0-4, 1-0, 2-0].
        assert_forward(|g| c(g, Padding::Same, 1, 2), &[-3.0, -4.0, 1.0, 2.0]);
    }

    #[test]
    fn conv_forward_channels() {
        // Two input channels, two filters, k = 1: a per-position matrix product.
        // x positions [1, 2] and [3, 4]; kernel [[1, 10], [100, 1000]] (C_in × C_out):
        // [1 + 200, 10 + 2000] and [3 + 400, 30 + 4000].
        fn y<'g>(g: &'g Graph<f64>, fmt: DataFormat, xv: &[f64], shape: [usize; 3]) -> Tensor<'g, f64> {
            let k = g.constant_f64(&[1.0, 10.0, 100.0, 1000.0], [1, 2, 2]);
            conv1d(g.constant_f64(xv, shape), k, &[1], Padding::Valid, &[1], fmt)
        }
        assert_forward(|g| y(g, CL, &[1.0, 2.0, 3.0, 4.0], [1, 2, 2]), &[201.0, 2010.0, 403.0, 4030.0]);
        // The same data channels-first: x is [[1, 3], [2, 4]] (C × L), y is C_out × L.
        assert_forward(|g| y(g, CF, &[1.0, 3.0, 2.0, 4.0], [1, 2, 2]), &[201.0, 403.0, 2010.0, 4030.0]);
    }

    #[test]
    fn conv_forward_2d() {
        // 3×3 image 1..9, 2×2 kernel [[1, 0], [0, -1]], valid: x[i, j] - x[i+1, j+1] = -4
        // everywhere (rows differ by 3, columns by 1).
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_forward(
            |g| {
                let k = g.constant_f64(&[1.0, 0.0, 0.0, -1.0], [2, 2, 1, 1]);
                conv2d(g.constant_f64(&x, [1, 3, 3, 1]), k, &[1, 1], Padding::Valid, &[1, 1], CL)
            },
            &[-4.0; 4],
        );
        // A 3×3 box filter, same padding, stride 2 on the 3×3 image: out 2×2, pad (1, 1) per
        // axis; windows centred on (0,0), (0,2), (2,0), (2,2) sum the in-image neighbours:
        // 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
        assert_forward(
            |g| {
                let k = g.constant_f64(&[1.0; 9], [3, 3, 1, 1]);
                conv2d(g.constant_f64(&x, [1, 3, 3, 1]), k, &[2, 2], Padding::Same, &[1, 1], CL)
            },
            &[12.0, 16.0, 24.0, 28.0],
        );
    }

    #[test]
    fn conv_forward_3d() {
        // 2×2×2 volume 1..8 with a 2×2×2 kernel of ones, valid: the sum 36. With same padding
        // (pad (0, 1) per axis) output (i, j, k) sums x over [i..2]×[j..2]×[k..2]: corner
        // (1, 1, 1) is 8 alone, (0, 0, 0) is everything.
        fn c(g: &Graph<f64>, p: Padding) -> Tensor<'_, f64> {
            let x: Vec<f64> = (1..=8).map(f64::from).collect();
            conv3d(
                g.constant_f64(&x, [1, 2, 2, 2, 1]),
                g.constant_f64(&[1.0; 8], [2, 2, 2, 1, 1]),
                &[1; 3],
                p,
                &[1; 3],
                CL,
            )
        }
        assert_forward(|g| c(g, Padding::Valid), &[36.0]);
        // (0,0,1): 2+4+6+8; (0,1,0): 3+4+7+8; (0,1,1): 4+8; (1,0,0): 5+6+7+8; (1,0,1): 6+8;
        // (1,1,0): 7+8.
        assert_forward(|g| c(g, Padding::Same), &[36.0, 20.0, 22.0, 12.0, 26.0, 14.0, 15.0, 8.0]);
    }

    #[test]
    fn conv_pointwise_skips_im2col() {
        // A 1×1 kernel scales channels: out = 2·x, and no im2col node is built (the conv op
        // multiplies the input's rows directly).
        let g = Graph::<f64>::new();
        let x = g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [1, 2, 2, 1]);
        let y = conv2d(x, g.constant_f64(&[2.0], [1, 1, 1, 1]), &[1, 1], Padding::Same, &[1, 1], CL);
        assert!((0..g.len()).all(|i| g.tensor(crate::NodeId(i as u32)).op_name() != "im2col"));
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], [2.0, 4.0, 6.0, 8.0]);
    }

    /// Direct convolution by the definition, channels-last, for comparison.
    #[allow(clippy::too_many_arguments)]
    fn naive_conv2d(
        x: &[f64],
        [n, h, w, c]: [usize; 4],
        k: &[f64],
        [kh, kw, f]: [usize; 3],
        s: [usize; 2],
        d: [usize; 2],
        same: bool,
    ) -> (Vec<f64>, [usize; 2]) {
        let (p, ol) = if same {
            let out = |l: usize, k: usize, s: usize, d: usize| {
                let o = l.div_ceil(s);
                let total = ((o - 1) * s + (k - 1) * d + 1).saturating_sub(l);
                (total / 2, o)
            };
            let (ph, oh) = out(h, kh, s[0], d[0]);
            let (pw, ow) = out(w, kw, s[1], d[1]);
            ([ph as isize, pw as isize], [oh, ow])
        } else {
            ([0, 0], [(h - (kh - 1) * d[0] - 1) / s[0] + 1, (w - (kw - 1) * d[1] - 1) / s[1] + 1])
        };
        let mut y = vec![0.0; n * ol[0] * ol[1] * f];
        for b in 0..n {
            for i in 0..ol[0] {
                for j in 0..ol[1] {
                    for q in 0..f {
                        let mut acc = 0.0;
                        for ti in 0..kh {
                            for tj in 0..kw {
                                let ii = (i * s[0] + ti * d[0]) as isize - p[0];
                                let jj = (j * s[1] + tj * d[1]) as isize - p[1];
                                if ii < 0 || jj < 0 || ii >= h as isize || jj >= w as isize {
                                    continue;
                                }
                                for ch in 0..c {
                                    acc += x[((b * h + ii as usize) * w + jj as usize) * c + ch]
                                        * k[((ti * kw + tj) * c + ch) * f + q];
                                }
                            }
                        }
                        y[((b * ol[0] + i) * ol[1] + j) * f + q] = acc;
                    }
                }
            }
        }
        (y, ol)
    }

    fn pseudo(n: usize, salt: u64) -> Vec<f64> {
        let mut rng = crate::rng::CounterRng::new(salt);
        (0..n).map(|_| 2.0 * rng.uniform() - 1.0).collect()
    }

    #[test]
    fn conv2d_matches_direct_loop() {
        let (n, h, w, c, f) = (2, 7, 6, 3, 4);
        let x = pseudo(n * h * w * c, 1);
        for (kh, kw, s, d, same) in [
            (3, 3, [1, 1], [1, 1], true),
            (3, 3, [1, 1], [1, 1], false),
            (3, 2, [2, 2], [1, 1], true),
            (2, 3, [2, 1], [1, 1], false),
            (3, 3, [1, 1], [2, 2], true),
            (2, 2, [1, 1], [2, 1], false),
            (1, 1, [2, 2], [1, 1], true),
        ] {
            let k = pseudo(kh * kw * c * f, 2);
            let (want, [oh, ow]) = naive_conv2d(&x, [n, h, w, c], &k, [kh, kw, f], s, d, same);
            let pad = if same { Padding::Same } else { Padding::Valid };
            let got = eval(|g| {
                let xt = g.constant_f64(&x, [n, h, w, c]);
                conv2d(xt, g.constant_f64(&k, [kh, kw, c, f]), &s, pad, &d, CL)
            });
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "k {kh}×{kw} s {s:?} d {d:?} same {same}: {a} vs {b}");
            }
            // Channels-first: transpose the input to [n, c, h, w], expect [n, f, oh, ow].
            let mut xf = vec![0.0; x.len()];
            for b in 0..n {
                for i in 0..h * w {
                    for ch in 0..c {
                        xf[(b * c + ch) * h * w + i] = x[(b * h * w + i) * c + ch];
                    }
                }
            }
            let got = eval(|g| {
                let xt = g.constant_f64(&xf, [n, c, h, w]);
                conv2d(xt, g.constant_f64(&k, [kh, kw, c, f]), &s, pad, &d, CF)
            });
            for b in 0..n {
                for i in 0..oh * ow {
                    for q in 0..f {
                        let (a, e) = (got[(b * f + q) * oh * ow + i], want[(b * oh * ow + i) * f + q]);
                        assert!((a - e).abs() < 1e-12, "channels-first k {kh}×{kw} s {s:?} d {d:?}: {a} vs {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn conv_grad_1d() {
        for (pad, s, d) in
            [(Padding::Valid, 1, 1), (Padding::Same, 1, 1), (Padding::Same, 2, 1), (Padding::Valid, 2, 1)]
                .into_iter()
                .chain([(Padding::Same, 1, 2), (Padding::Valid, 1, 2)])
        {
            check_grads(
                move |_, x| conv1d(x[0], x[1], &[s], pad, &[d], CL),
                &[Spec::new([2, 7, 2]), Spec::new([3, 2, 2])],
                2,
            );
        }
        // Channels-first, nonlinear consumer.
        check_grads(
            |_, x| {
                let y = conv1d(x[0], x[1], &[2], Padding::Same, &[1], CF);
                y * y
            },
            &[Spec::new([1, 2, 5]), Spec::new([2, 2, 3])],
            2,
        );
    }

    #[test]
    fn conv_grad_2d() {
        for (pad, s, d) in [
            (Padding::Valid, [1, 1], [1, 1]),
            (Padding::Same, [2, 2], [1, 1]),
            (Padding::Same, [1, 1], [2, 2]),
            (Padding::Valid, [2, 1], [1, 1]),
        ] {
            check_grads(
                move |_, x| conv2d(x[0], x[1], &s, pad, &d, CL),
                &[Spec::new([1, 4, 5, 2]), Spec::new([2, 2, 2, 3])],
                2,
            );
        }
        check_grads(
            |_, x| {
                let y = conv2d(x[0], x[1], &[1, 1], Padding::Same, &[1, 1], CF);
                y * y
            },
            &[Spec::new([1, 2, 4, 5]), Spec::new([3, 2, 2, 2])],
            2,
        );
    }

    #[test]
    fn conv_grad_3d() {
        for (pad, s, d) in [(Padding::Same, [1, 2, 1], [1, 1, 1]), (Padding::Valid, [1, 1, 1], [1, 1, 2])] {
            check_grads(
                move |_, x| conv3d(x[0], x[1], &s, pad, &d, CL),
                &[Spec::new([1, 3, 3, 4, 2]), Spec::new([2, 2, 2, 2, 2])],
                2,
            );
        }
        check_grads(
            |_, x| conv3d(x[0], x[1], &[1, 1, 1], Padding::Same, &[1, 1, 1], CF),
            &[Spec::new([1, 2, 3, 3, 4]), Spec::new([2, 2, 2, 2, 2])],
            1,
        );
    }

    #[test]
    fn conv_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(4), Dim::Fixed(1)]);
        let k = g.constant_f64(&[1.0, 0.0, -1.0], [3, 1, 1]);
        let y = conv1d(x, k, &[1], Padding::Valid, &[1], CL);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(2), Dim::Fixed(1)]));
        let gx = grad(y.sum_all(), &[x])[0];
        let mut s = Session::new(g.compile(&[y, gx]).unwrap(), 0);
        // Two examples; d/dx Σ y is the kernel summed over the windows covering each input:
        // [1, 1 + 0, 0 - 1, -1] = [1, 1, -1, -1].
        let out = s.run(&ParamStore::new(0), &[("x", &[1.0, 2.0, 3.0, 4.0, 4.0, 3.0, 2.0, 1.0])]).unwrap();
        assert_eq!(out[0], [-2.0, -2.0, 2.0, 2.0]);
        assert_eq!(out[1], [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0]);
    }

    #[test]
    fn conv_output_shapes_follow_tensorflow() {
        // (L, k, s, d, padding) -> out, by TF's rules: valid ceil((L - k_eff + 1) / s), same
        // ceil(L / s), with k_eff = k + (k - 1)(d - 1).
        let g = Graph::<f64>::new();
        for (l, k, s, d, p, out) in [
            (7, 3, 1, 1, Padding::Valid, 5),
            (7, 3, 2, 1, Padding::Valid, 3),
            (8, 3, 2, 1, Padding::Valid, 3),
            (9, 3, 1, 2, Padding::Valid, 5),
            (7, 3, 1, 1, Padding::Same, 7),
            (7, 3, 2, 1, Padding::Same, 4),
            (8, 4, 3, 1, Padding::Same, 3),
            (5, 3, 1, 3, Padding::Same, 5),
        ] {
            let x = g.input(&format!("x{l}{k}{s}{d}{p:?}"), [B, Dim::Fixed(l), Dim::Fixed(2)]);
            let y = conv1d(x, g.input(&format!("k{l}{k}{s}{d}{p:?}"), [k, 2, 5]), &[s], p, &[d], CL);
            assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(out), Dim::Fixed(5)]), "L={l} k={k} s={s} d={d} {p:?}");
            let y = conv2d(
                g.input(&format!("cf{l}{k}{s}{d}{p:?}"), [B, Dim::Fixed(2), Dim::Fixed(l), Dim::Fixed(4)]),
                g.input(&format!("kf{l}{k}{s}{d}{p:?}"), [k, 1, 2, 5]),
                &[s, 1],
                p,
                &[d, 1],
                CF,
            );
            assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(5), Dim::Fixed(out), Dim::Fixed(4)]));
        }
        assert!(g.check().is_ok());
    }

    #[test]
    fn conv_reports_gemm_flops() {
        // Forward: one GEMM of (B·P) × (Π k · C_in) × C_out, 2 flops per multiply-add:
        // B = 3, P = 4·5 (same padding), K = 3·3·2, C_out = 6.
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(4), Dim::Fixed(5), Dim::Fixed(2)]);
        let y = conv2d(x, g.input("k", [3, 3, 2, 6]), &[1, 1], Padding::Same, &[1, 1], CL);
        let plan = g.compile(&[y]).unwrap();
        assert_eq!(plan.flops(3), 2 * 3 * 20 * 18 * 6);
    }

    #[test]
    fn conv_and_pooling_run_in_f32() {
        let g = Graph::<f32>::new();
        let x = g.input("x", [B, Dim::Fixed(4), Dim::Fixed(1)]);
        let k = g.constant_f64(&[1.0, 0.0, -1.0], [3, 1, 1]);
        let y = conv1d(x, k, &[1], Padding::Valid, &[1], CL);
        let m = crate::ops::max_pool(x, &[2], &[2], Padding::Valid, CL);
        let gx = grad(y.sum_all() + m.sum_all(), &[x])[0];
        let mut s = Session::new(g.compile(&[y, m, gx]).unwrap(), 0);
        let out = s.run(&ParamStore::new(0), &[("x", &[1.0, 2.0, 3.0, 4.0])]).unwrap();
        // y = [1 - 3, 2 - 4]; max_pool = [max(1, 2), max(3, 4)]; the gradient adds the conv's
        // [1, 1, -1, -1] and the pooling's routing [0, 1, 0, 1].
        assert_eq!(out[0], [-2.0, -2.0]);
        assert_eq!(out[1], [2.0, 4.0]);
        assert_eq!(out[2], [1.0, 2.0, -1.0, 0.0]);
    }

    #[test]
    fn conv_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = conv2d(
            g.input("x", [B, Dim::Fixed(5), Dim::Fixed(5), Dim::Fixed(3)]),
            g.input("k", [3, 3, 4, 8]),
            &[1, 1],
            Padding::Same,
            &[1, 1],
            CL,
        );
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("conv2d") && msg.contains("[B, 5, 5, 3]") && msg.contains("[3, 3, 4, 8]"), "{msg}");
        assert!(msg.contains("3 channels") && msg.contains("C_in = 4") && msg.contains("conv.rs"), "{msg}");

        let g = Graph::<f64>::new();
        let _ = conv1d(g.input("x", [1, 9, 2]), g.input("k", [3, 2, 2]), &[2], Padding::Same, &[2], CL);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("conv1d") && msg.contains("strides [2]") && msg.contains("dilations [2]"), "{msg}");

        let g = Graph::<f64>::new();
        let _ = conv3d(g.input("x", [1, 3, 3, 2]), g.input("k", [2, 2, 2, 2, 1]), &[1; 3], Padding::Valid, &[1; 3], CL);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("conv3d") && msg.contains("rank 5") && msg.contains("[1, 3, 3, 2]"), "{msg}");

        let g = Graph::<f64>::new();
        let _ = conv(g.input("x", [1, 3, 2]), g.input("k", [3, 2]), &ConvGeometry::new(&[1], &[1], Padding::Valid, CL));
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("conv ") && msg.contains("kernel [3, 2]"), "{msg}");
    }
}
