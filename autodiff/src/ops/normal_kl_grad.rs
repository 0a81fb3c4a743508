//! `normal_kl_grad(μa, σa, μb, σb, gy, k)`: `gy · ∂KL/∂input_k` of [`normal_kl`](crate::ops::normal_kl),
//! fused into one pass (k = 0: μa, 1: σa, 2: μb, 3: σb), with broadcasting.
//!
//! With `z = (μa − μb)/σb` and `e = (σa/σb)² − 1` (the forward KL uses the `expm1` form for
//! accuracy of the value near σa = σb; a gradient only needs `e` to absolute precision):
//! `∂/∂μa = z/σb`, `∂/∂μb = −z/σb`, `∂/∂σa = e/σa`, `∂/∂σb = −(z² + e)/σb`.
//!
//! VJP: the same partial written with primitive ops and differentiated by the gradient driver,
//! so second derivatives of the KL work (at the cost of speed, which only first order needs).
//! Domain: σa, σb positive.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::op::{ForwardCx, Grads, Op, VjpCx};
use crate::ops::normal_kl::{broadcast_all, for_each_broadcast};
use crate::ops::{expm1, log, square};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// One partial derivative of the normal KL, times a cotangent.
#[derive(Debug, Clone, Copy)]
pub struct NormalKlGrad {
    /// Which input: 0 μa, 1 σa, 2 μb, 3 σb.
    pub wrt: usize,
}

impl<F: Scalar> Op<F> for NormalKlGrad {
    fn name(&self) -> &'static str {
        "normal_kl_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        if self.wrt > 3 {
            return Err(ShapeError::Custom(format!("wrt must be 0..=3, got {}", self.wrt)));
        }
        broadcast_all(inputs)
    }
    fn broadcasts_inputs(&self) -> bool {
        true
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (ma, sa, mb, sb, gy) = (cx.input(0), cx.input(1), cx.input(2), cx.input(3), cx.input(4));
        let dims = [cx.input_dims(0), cx.input_dims(1), cx.input_dims(2), cx.input_dims(3), cx.input_dims(4)];
        let od = cx.out_dims();
        let wrt = self.wrt;
        let out = cx.out();
        let n = out.len();
        let partial = |m: F, s: F, mb: F, sb: F| {
            let z = (m - mb) / sb;
            let r = s / sb;
            match wrt {
                0 => z / sb,
                2 => -z / sb,
                1 => (r * r - F::one()) / s,
                _ => -(z * z + r * r - F::one()) / sb,
            }
        };
        if ma.len() == n && sa.len() == n && mb.len() == 1 && sb.len() == 1 && (gy.len() == n || gy.len() == 1) {
            // A posterior against a scalar prior, as in every Bayesian layer: one flat loop per
            // partial (the match on `wrt` is hoisted by specialising the closure), vectorizable.
            let (mb, sb) = (mb[0], sb[0]);
            macro_rules! flat {
                ($expr:expr) => {
                    if gy.len() == n {
                        for (((o, &m), &s), &g) in out.iter_mut().zip(ma).zip(sa).zip(gy) {
                            *o = g * $expr(m, s);
                        }
                    } else {
                        let g = gy[0];
                        for ((o, &m), &s) in out.iter_mut().zip(ma).zip(sa) {
                            *o = g * $expr(m, s);
                        }
                    }
                };
            }
            let inv = F::one() / sb;
            match wrt {
                0 => flat!(|m: F, _s: F| (m - mb) * inv * inv),
                2 => flat!(|m: F, _s: F| -(m - mb) * inv * inv),
                1 => flat!(|_m: F, s: F| (s * inv * s * inv - F::one()) / s),
                _ => flat!(|m: F, s: F| {
                    let z = (m - mb) * inv;
                    let r = s * inv;
                    -(z * z + r * r - F::one()) * inv
                }),
            }
            return Ok(());
        }
        for_each_broadcast(dims, od, |i, [a, b, c, d, e]| {
            out[i] = gy[e] * partial(ma[a], sa[b], mb[c], sb[d]);
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let ins: Vec<Tensor<'g, F>> = (0..5).map(|i| cx.input(i)).collect();
        let (ma, sa, mb, sb, gy) = (ins[0], ins[1], ins[2], ins[3], ins[4]);
        let z = (ma - mb) / sb;
        let partial = match self.wrt {
            0 => z / sb,
            2 => -(z / sb),
            1 => expm1((log(sa) - log(sb)) * F::of(2.0)) / sa,
            _ => -(square(z) + expm1((log(sa) - log(sb)) * F::of(2.0))) / sb,
        };
        let y = gy * partial;
        crate::vjp(&[y], &[cx.grad_output()], &ins).into_iter().collect()
    }
}

/// `gy · ∂KL(N(μa, σa²) ‖ N(μb, σb²))/∂input_wrt`, elementwise.
#[track_caller]
pub fn normal_kl_grad<'g, F: Scalar>(
    mu_a: Tensor<'g, F>,
    sigma_a: Tensor<'g, F>,
    mu_b: Tensor<'g, F>,
    sigma_b: Tensor<'g, F>,
    gy: Tensor<'g, F>,
    wrt: usize,
) -> Tensor<'g, F> {
    mu_a.graph().apply(NormalKlGrad { wrt }, &[mu_a, sigma_a, mu_b, sigma_b, gy])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn normal_kl_grad_forward() {
        // μa = 0.5, σa = 0.3, μb = −0.2, σb = 1.7, gy = 2: z = 0.7/1.7, e = (0.3/1.7)² − 1.
        let (z, e) = (0.7 / 1.7, (0.3f64 / 1.7).powi(2) - 1.0);
        for (k, want) in [(0, z / 1.7), (1, e / 0.3), (2, -z / 1.7), (3, -(z * z + e) / 1.7)] {
            let got =
                eval(|g| normal_kl_grad(g.scalar(0.5), g.scalar(0.3), g.scalar(-0.2), g.scalar(1.7), g.scalar(2.0), k));
            assert!((got[0] - 2.0 * want).abs() < 1e-14, "wrt {k}: {} vs {}", got[0], 2.0 * want);
        }
    }

    #[test]
    fn normal_kl_grad_grad() {
        let p = Domain::Positive;
        for wrt in 0..4 {
            check_grads(
                move |_, x| normal_kl_grad(x[0], x[1], x[2], x[3], x[4], wrt),
                &[Spec::new([3]), Spec::new([3]).domain(p), Spec::new([3]), Spec::new([1]).domain(p), Spec::new([3])],
                2,
            );
        }
    }
}
