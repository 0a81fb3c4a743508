//! `normal_kl_grad(μa, σa, μb, σb, gy, k)`: `gy · ∂KL/∂input_k` of [`normal_kl`](crate::ops::normal_kl),
//! fused into one pass (k = 0: μa, 1: σa, 2: μb, 3: σb), with broadcasting.
//!
//! With `z = (μa − μb)/σb` and `e = (σa/σb)² − 1` (the forward KL uses the `expm1` form for
//! accuracy of the value near σa = σb; a gradient only needs `e` to absolute precision):
//! `∂/∂μa = z/σb`, `∂/∂μb = −z/σb`, `∂/∂σa = e/σa`, `∂/∂σb = −(z² + e)/σb`.
//!
//! With an addend (built by the gradient driver through [`Op::with_addend`]): a sixth input of
//! the output's shape is added to the result, in its buffer when it dies. A Bayesian layer's
//! weight gradient is the likelihood's part plus the KL's; the sum is then formed as the KL's part
//! is stored, instead of in a pass of its own.
//!
//! VJP: the same partial written with primitive ops and differentiated by the gradient driver,
//! so second derivatives of the KL work (at the cost of speed, which only first order needs).
//! Domain: σa, σb positive.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::for_each_chunk;
use crate::op::{ForwardCx, Grads, Op, VjpCx};
use crate::ops::normal_kl::{broadcast_all, for_each_broadcast};
use crate::ops::{broadcast_to, expm1, log, square};
use crate::scalar::Scalar;
use crate::shape::Shape;
use std::sync::Arc;

/// One partial derivative of the normal KL, times a cotangent.
#[derive(Debug, Clone, Copy)]
pub struct NormalKlGrad {
    /// Which input: 0 μa, 1 σa, 2 μb, 3 σb.
    pub wrt: usize,
    /// Add a sixth input, of the output's shape, to the result.
    pub addend: bool,
}

impl<F: Scalar> Op<F> for NormalKlGrad {
    fn name(&self) -> &'static str {
        "normal_kl_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        if self.wrt > 3 {
            return Err(ShapeError::Custom(format!("wrt must be 0..=3, got {}", self.wrt)));
        }
        let out = broadcast_all(&inputs[..5])?;
        if self.addend && inputs[5].broadcast_with(&out).as_ref() != Ok(&out) {
            return Err(ShapeError::Custom(format!("the addend {} does not broadcast to {out}", inputs[5])));
        }
        Ok(out)
    }
    fn in_place(&self) -> Option<usize> {
        self.addend.then_some(5)
    }
    fn with_addend(&self) -> Option<Arc<dyn Op<F>>> {
        (!self.addend).then(|| Arc::new(NormalKlGrad { wrt: self.wrt, addend: true }) as Arc<dyn Op<F>>)
    }
    fn broadcasts_inputs(&self) -> bool {
        true
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (ma, sa, mb, sb, gy) = (cx.input(0), cx.input(1), cx.input(2), cx.input(3), cx.input(4));
        let dims = [cx.input_dims(0), cx.input_dims(1), cx.input_dims(2), cx.input_dims(3), cx.input_dims(4)];
        let od = cx.out_dims();
        let wrt = self.wrt;
        // The addend goes into `out` first (it is there already when the op works in its
        // buffer; broadcast elision may hand over a smaller one), and the partial is added.
        let addend = if self.addend { Some((cx.input_opt(5), cx.input_dims(5))) } else { None };
        let out = cx.out();
        let n = out.len();
        if let Some((Some(c), cd)) = addend {
            if c.len() == n {
                out.copy_from_slice(c);
            } else {
                for_each_broadcast([cd], od, |i, [k]| out[i] = c[k]);
            }
        }
        let acc = addend.is_some();
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
                    for_each_chunk(out, |start, out| {
                        let r = start..start + out.len();
                        let (ma, sa) = (&ma[r.clone()], &sa[r.clone()]);
                        if gy.len() == n {
                            for (((o, &m), &s), &g) in out.iter_mut().zip(ma).zip(sa).zip(&gy[r]) {
                                let v = g * $expr(m, s);
                                *o = if acc { *o + v } else { v };
                            }
                        } else {
                            let g = gy[0];
                            for ((o, &m), &s) in out.iter_mut().zip(ma).zip(sa) {
                                let v = g * $expr(m, s);
                                *o = if acc { *o + v } else { v };
                            }
                        }
                    })
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
            let v = gy[e] * partial(ma[a], sa[b], mb[c], sb[d]);
            out[i] = if acc { out[i] + v } else { v };
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let ins: Vec<Tensor<'g, F>> = (0..if self.addend { 6 } else { 5 }).map(|i| cx.input(i)).collect();
        let (ma, sa, mb, sb, gy) = (ins[0], ins[1], ins[2], ins[3], ins[4]);
        let z = (ma - mb) / sb;
        let partial = match self.wrt {
            0 => z / sb,
            2 => -(z / sb),
            1 => expm1((log(sa) - log(sb)) * F::of(2.0)) / sa,
            _ => -(square(z) + expm1((log(sa) - log(sb)) * F::of(2.0))) / sb,
        };
        let y = if self.addend { gy * partial + ins[5] } else { gy * partial };
        // The partial may not involve every input (∂/∂σa has no μ), so the expression can be
        // narrower than the op's output when the cotangent is a single value, as it is for a sum.
        let shape = cx.output().shape();
        let y = if y.shape() == shape { y } else { broadcast_to(y, shape) };
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
    mu_a.graph().apply(NormalKlGrad { wrt, addend: false }, &[mu_a, sigma_a, mu_b, sigma_b, gy])
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
            // A single cotangent for every element (the gradient of a summed KL) with inputs
            // of different shapes: ∂/∂σa involves no μ, so its expression is narrower than the
            // output and is broadcast before it is differentiated again.
            check_grads(
                move |_, x| normal_kl_grad(x[0], x[1], x[2], x[3], x[4], wrt),
                &[
                    Spec::new([2, 1]),
                    Spec::new([3]).domain(p),
                    Spec::new([2, 3]),
                    Spec::new([1, 3]).domain(p),
                    Spec::new(Shape::scalar()),
                ],
                2,
            );
        }
    }

    /// `addend + gy · ∂KL/∂input_wrt` through the addend form the gradient driver builds.
    fn with_addend<'g>(x: &[Tensor<'g, f64>], wrt: usize) -> Tensor<'g, f64> {
        let op = Op::<f64>::with_addend(&NormalKlGrad { wrt, addend: false }).expect("normal_kl_grad takes an addend");
        x[0].graph().apply_at(op, x, std::panic::Location::caller())
    }

    #[test]
    fn normal_kl_grad_with_addend_forward() {
        // The flat scalar-prior path and the broadcasting one, with a full and a broadcast
        // addend: μa = (0.5, 1), σa = (0.3, 2), prior N(0, 1), gy = 2, addend (10, 20) or 7:
        // ∂/∂μa = μa, ∂/∂σa = σa − 1/σa.
        let (ma, sa) = ([0.5, 1.0], [0.3, 2.0]);
        let d_mu = [0.5, 1.0];
        let d_sigma = [0.3 - 1.0 / 0.3, 2.0 - 0.5];
        for (wrt, d) in [(0, d_mu), (1, d_sigma)] {
            for (add, add_shape, want) in [
                (&[10.0, 20.0][..], [2], [10.0 + 2.0 * d[0], 20.0 + 2.0 * d[1]]),
                (&[7.0][..], [1], [7.0 + 2.0 * d[0], 7.0 + 2.0 * d[1]]),
            ] {
                let got = eval(|g| {
                    let x = [
                        g.constant_f64(&ma, [2]),
                        g.constant_f64(&sa, [2]),
                        g.scalar(0.0),
                        g.scalar(1.0),
                        g.scalar(2.0),
                        g.constant_f64(add, add_shape),
                    ];
                    with_addend(&x, wrt)
                });
                assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-14), "wrt {wrt}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn normal_kl_grad_with_addend_grad() {
        let p = Domain::Positive;
        for wrt in [0, 1, 3] {
            check_grads(
                move |_, x| with_addend(x, wrt),
                &[
                    Spec::new([3]),
                    Spec::new([3]).domain(p),
                    Spec::new([3]),
                    Spec::new([1]).domain(p),
                    Spec::new([1]),
                    Spec::new([3]),
                ],
                2,
            );
        }
    }

    #[test]
    fn normal_kl_grad_addend_must_broadcast_to_the_output() {
        let g = Graph::<f64>::new();
        let x = [g.input("m", [3]), g.input("s", [3]), g.scalar(0.0), g.scalar(1.0), g.scalar(1.0), g.input("c", [4])];
        let _ = with_addend(&x, 1);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("normal_kl_grad") && msg.contains("addend [4]") && msg.contains("[3]"), "{msg}");
    }
}
