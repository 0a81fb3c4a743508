//! `normal_kl(μa, σa, μb, σb)`: KL(N(μa, σa²) ‖ N(μb, σb²)) elementwise, fused into one pass,
//! with NumPy broadcasting of the four inputs.
//!
//! Forward (TFP's form): with `d = ln(σa/σb)` and `z = (μa − μb)/σb`,
//! `KL = ½ z² + ½ expm1(2d) − d`. The scale part `½ expm1(2d) − d` is evaluated from `d` and
//! `σa/σb` without an `expm1` (see `scale_term`), within 5 ulps in `f32`, and with full relative
//! precision as σa → σb: `d` is then `ln1p((σa − σb)/σb)`, whose difference `σa − σb` is exact
//! (so `d` is rounded a few times, not to an ulp of `ln σb`), rather than `ln σa − ln σb`.
//!
//! VJP: `∂/∂μa = z/σb`, `∂/∂μb = −z/σb`, `∂/∂σa = expm1(2d)/σa`,
//! `∂/∂σb = −(z² + expm1(2d))/σb`, each times `gy`, computed by [`NormalKlGrad`] in one pass.
//! The mean-field KL of a Bayesian layer runs over every weight on every step, where the
//! composed formula costs a dozen passes forward and more backward; this is one and four.
//! Domain: σa, σb positive.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::{broadcast_strides, for_each_chunk};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::normal_kl_grad;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Elementwise KL divergence between normals.
#[derive(Debug, Clone, Copy)]
pub struct NormalKl;

/// Broadcast shape of several inputs.
pub(crate) fn broadcast_all(inputs: &[&Shape]) -> Result<Shape, ShapeError> {
    let mut s = inputs[0].clone();
    for x in &inputs[1..] {
        s = s.broadcast_with(x)?;
    }
    Ok(s)
}

/// Calls `f(out_index, [offsets of each input])` for every output element, with NumPy
/// broadcasting. Flat when every input is full-size or a single value.
pub(crate) fn for_each_broadcast<const N: usize>(
    in_dims: [&[usize]; N],
    out_dims: &[usize],
    mut f: impl FnMut(usize, [usize; N]),
) {
    let n: usize = out_dims.iter().product();
    let lens: [usize; N] = in_dims.map(|d| d.iter().product());
    if lens.iter().all(|&l| l == n || l == 1) {
        let step: [usize; N] = lens.map(|l| usize::from(l == n));
        for i in 0..n {
            f(i, step.map(|s| s * i));
        }
        return;
    }
    let strides: SmallVec<[SmallVec<[usize; 6]>; 4]> = in_dims.iter().map(|d| broadcast_strides(d, out_dims)).collect();
    let r = out_dims.len();
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r);
    let mut off = [0usize; N];
    for i in 0..n {
        f(i, off);
        for ax in (0..r).rev() {
            idx[ax] += 1;
            for k in 0..N {
                off[k] += strides[k][ax];
            }
            if idx[ax] < out_dims[ax] {
                break;
            }
            for k in 0..N {
                off[k] -= strides[k][ax] * out_dims[ax];
            }
            idx[ax] = 0;
        }
    }
}

/// `P(d) = Σₖ 2ᵏ⁺¹/(k+2)! dᵏ`, so that `½ expm1(2d) − d = d² P(d)`: enough terms for `f64` at
/// `|d| = ½` (the next one is below 2⁻⁵⁹); `f32` stops after ten (the next is below 2⁻²⁷).
const SCALE_SERIES: [f64; 18] = [
    1.0,
    2.0 / 3.0,
    1.0 / 3.0,
    2.0 / 15.0,
    2.0 / 45.0,
    4.0 / 315.0,
    1.0 / 315.0,
    2.0 / 2835.0,
    2.0 / 14175.0,
    4.0 / 155925.0,
    2.0 / 467775.0,
    4.0 / 6081075.0,
    4.0 / 42567525.0,
    8.0 / 638512875.0,
    1.0 / 638512875.0,
    2.0 / 10854718875.0,
    2.0 / 97692469875.0,
    4.0 / 1856156927625.0,
];

/// The scale part of the normal KL, `½ expm1(2d) − d` with `d = ln(σa/σb)` and `r = σa/σb`,
/// without a second transcendental per element: the series `d² P(d)` for `|d| <= ½`, where the
/// two terms cancel to `≈ d²` (exact relative precision down to `d → 0`, like the `expm1`
/// form), and `½(r² − 1) − d` beyond, where they cancel by at most a factor 2.4 (within a few
/// ulps, with `r² − 1` rounded once where the target has FMA).
#[inline(always)]
fn scale_term<F: Scalar>(d: F, r: F) -> F {
    if is_near(d) {
        scale_near(d)
    } else {
        scale_far(d, r)
    }
}

/// Whether `d` is in the series' range.
#[inline(always)]
fn is_near<F: Scalar>(d: F) -> bool {
    d.abs() <= F::of(0.5)
}

/// [`scale_term`] for `|d| <= ½`.
#[inline(always)]
fn scale_near<F: Scalar>(d: F) -> F {
    let terms = if F::EPS > F::of(1e-10) { 10 } else { SCALE_SERIES.len() };
    let p = SCALE_SERIES[..terms].iter().rev().fold(F::zero(), |acc, &c| acc.mul_add_v(d, F::of(c)));
    d * d * p
}

/// [`scale_term`] for `|d| > ½`.
#[inline(always)]
fn scale_far<F: Scalar>(d: F, r: F) -> F {
    F::of(0.5) * r.mul_add_v(r, -F::one()) - d
}

impl<F: Scalar> Op<F> for NormalKl {
    fn name(&self) -> &'static str {
        "normal_kl"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        broadcast_all(inputs)
    }
    fn broadcasts_inputs(&self) -> bool {
        true
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (ma, sa, mb, sb) = (cx.input(0), cx.input(1), cx.input(2), cx.input(3));
        let dims = [cx.input_dims(0), cx.input_dims(1), cx.input_dims(2), cx.input_dims(3)];
        let od = cx.out_dims();
        let out = cx.out();
        let n = out.len();
        if ma.len() == n && sa.len() == n && mb.len() == 1 && sb.len() == 1 {
            // A posterior against a scalar prior (every Bayesian layer's kernel).
            let prior = ScalarPrior::new(mb[0], sb[0]);
            for_each_chunk(out, |start, out| {
                let end = start + out.len();
                prior.kl(&ma[start..end], &sa[start..end], out);
            });
            return Ok(());
        }
        for_each_broadcast(dims, od, |i, [a, b, c, d]| out[i] = kl(ma[a], sa[b], mb[c], sb[d]));
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let ins: Vec<Tensor<'g, F>> = (0..4).map(|i| cx.input(i)).collect();
        grads((0..4).map(|k| Some(normal_kl_grad(ins[0], ins[1], ins[2], ins[3], cx.grad_output(), k))))
    }
}

/// A scalar prior `N(μ, σ²)` with the terms every element shares computed once.
#[derive(Clone, Copy)]
struct ScalarPrior<F> {
    mu: F,
    sigma: F,
    ln_sigma: F,
    inv_sigma: F,
}

impl<F: Scalar> ScalarPrior<F> {
    fn new(mu: F, sigma: F) -> Self {
        ScalarPrior { mu, sigma, ln_sigma: sigma.ln(), inv_sigma: F::one() / sigma }
    }

    /// The KL of posteriors `(ma, sa)` against this prior, into `out`, in flat loops that
    /// vectorize. Blocks whose scales are all far from the prior's (a Bayesian layer's weights
    /// start at σ ≈ 0.05 against a prior of 1, and most stay there) skip the series, which
    /// costs as much as the logarithm.
    #[inline]
    fn kl(&self, ma: &[F], sa: &[F], out: &mut [F]) {
        const BLOCK: usize = 512;
        let half = F::of(0.5);
        for ((out, ma), sa) in out.chunks_mut(BLOCK).zip(ma.chunks(BLOCK)).zip(sa.chunks(BLOCK)) {
            let mut near = false;
            for (o, &s) in out.iter_mut().zip(sa) {
                let d = s.ln_v() - self.ln_sigma;
                near |= is_near(d);
                *o = d;
            }
            let z2 = |m: F| {
                let z = (m - self.mu) * self.inv_sigma;
                half * z * z
            };
            if near {
                for ((o, &m), &s) in out.iter_mut().zip(ma).zip(sa) {
                    // Near the prior's scale, ln σa − ln σb would carry the rounding of both
                    // logarithms (an ulp of ln σb, against d ≈ 0): ln(1 + (σa − σb)/σb) keeps d's
                    // relative precision, since σa − σb is exact there.
                    let d = if is_near(*o) { ((s - self.sigma) * self.inv_sigma).ln_1p_v() } else { *o };
                    *o = z2(m) + scale_term(d, s * self.inv_sigma);
                }
            } else {
                for ((o, &m), &s) in out.iter_mut().zip(ma).zip(sa) {
                    *o = z2(m) + scale_far(*o, s * self.inv_sigma);
                }
            }
        }
    }
}

/// The KL of one pair of normals: `½ z²` plus the scale part of [`scale_term`].
#[inline]
fn kl<F: Scalar>(ma: F, sa: F, mb: F, sb: F) -> F {
    // As in `ScalarPrior::kl`: within a factor 1.5 of each other, σa − σb is exact and the
    // `ln_1p` form keeps d's relative precision; the difference of logarithms would not.
    let ratio = sa / sb;
    let dl =
        if ratio > F::of(2.0 / 3.0) && ratio < F::of(1.5) { ((sa - sb) / sb).ln_1p_v() } else { sa.ln_v() - sb.ln_v() };
    let z = (ma - mb) / sb;
    F::of(0.5) * z * z + scale_term(dl, ratio)
}

/// `KL(N(μa, σa²) ‖ N(μb, σb²))` elementwise, broadcasting.
#[track_caller]
pub fn normal_kl<'g, F: Scalar>(
    mu_a: Tensor<'g, F>,
    sigma_a: Tensor<'g, F>,
    mu_b: Tensor<'g, F>,
    sigma_b: Tensor<'g, F>,
) -> Tensor<'g, F> {
    mu_a.graph().apply(NormalKl, &[mu_a, sigma_a, mu_b, sigma_b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn normal_kl_forward_reference_values() {
        // KL(N(0,1)‖N(1,2)) = ln 2 + (1 + 1)/8 − ½ = 0.4431471805599453; KL(N(1,2)‖N(0,1)) =
        // −ln 2 + (4 + 1)/2 − ½ = 1.3068528194400546; KL(N(0.5,0.3)‖N(−0.2,1.7)) =
        // 1.3349470761493523 (reference §6.1); KL(p‖p) = 0.
        assert_forward(
            |g| {
                normal_kl(
                    g.constant_f64(&[0.0, 1.0, 0.5, 0.7], [4]),
                    g.constant_f64(&[1.0, 2.0, 0.3, 0.2], [4]),
                    g.constant_f64(&[1.0, 0.0, -0.2, 0.7], [4]),
                    g.constant_f64(&[2.0, 1.0, 1.7, 0.2], [4]),
                )
            },
            &[0.4431471805599453, 1.3068528194400546, 1.3349470761493523, 0.0],
        );
    }

    #[test]
    fn normal_kl_against_a_scalar_prior_far_near_and_mixed_blocks() {
        // 1536 scales in three blocks of the flat path: all far from the prior's σ = 1.3 (from
        // 0.05), mixed (0.05 to 3), all near (0.9 to 1.6, |ln(σ/1.3)| ≤ ½). Each KL matches
        // ln(σb/σa) + (σa² + (μa − μb)²)/(2σb²) − ½ evaluated in f64, to a few f32 ulps of the
        // value plus what the rounding of ln σa and ln σb does to their difference d (the KL
        // moves by about 2d per unit of d).
        let n = 1536;
        let scale = |i: usize| -> f32 {
            let t = (i % 512) as f32 / 511.0;
            match i / 512 {
                0 => 0.05 + 0.2 * t,
                1 => 0.05 + 2.95 * t,
                _ => 0.9 + 0.7 * t,
            }
        };
        let mu: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32 / 100.0 - 0.5).collect();
        let sigma: Vec<f32> = (0..n).map(scale).collect();
        // The prior as the f32 graph holds it.
        let (mb, sb) = (0.25f32 as f64, 1.3f32 as f64);
        let g = crate::Graph::<f32>::new();
        let kl = normal_kl(g.constant(mu.clone(), [n]), g.constant(sigma.clone(), [n]), g.scalar(mb), g.scalar(sb));
        let opts = crate::SessionOptions { threads: Some(1), check_finite: false };
        let mut s = crate::Session::with_options(g.compile(&[kl]).unwrap(), 0, opts);
        let out = s.run(&crate::ParamStore::new(0), &[]).unwrap();
        for (i, &got) in out.get(0).iter().enumerate() {
            let (m, s) = (mu[i] as f64, sigma[i] as f64);
            let want = (sb / s).ln() + (s * s + (m - mb) * (m - mb)) / (2.0 * sb * sb) - 0.5;
            let (ln_a, ln_b) = (s.ln(), sb.ln());
            let tol = 8.0 * f32::EPSILON as f64 * (want + (ln_a - ln_b).abs() * (ln_a.abs() + ln_b.abs()));
            assert!((got as f64 - want).abs() <= tol, "element {i} (σ = {s}): {got} vs {want}");
        }
    }

    #[test]
    fn normal_kl_broadcasts_a_scalar_prior() {
        // N(μ, σ) against a scalar N(0, 1): ½(μ² + σ²) − ln σ − ½.
        let want: Vec<f64> =
            [(0.1, 0.5), (-0.3, 1.5)].iter().map(|&(m, s): &(f64, f64)| 0.5 * (m * m + s * s) - s.ln() - 0.5).collect();
        assert_forward(
            |g| {
                normal_kl(
                    g.constant_f64(&[0.1, -0.3], [2, 1]),
                    g.constant_f64(&[0.5, 1.5], [2, 1]),
                    g.scalar(0.0),
                    g.scalar(1.0),
                )
            },
            &want,
        );
    }

    #[test]
    fn kl_near_a_prior_scale_other_than_one_keeps_its_relative_precision() {
        // KL(N(0, σa²) ‖ N(0, σb²)) ≈ d² for σa ≈ σb: computed from ln σa − ln σb in f32 it
        // would be off by thousands of ulps (an ulp of ln 10 against d ≈ 1e-4). Reference: the
        // same f32 scales in f64, d = ln1p((σa − σb)/σb) and ½ expm1(2d) − d.
        for (sa, sb) in [(10.001f32, 10.0f32), (10.01, 10.0), (0.2999, 0.3), (3.0, 2.5)] {
            let d = ((sa as f64 - sb as f64) / sb as f64).ln_1p();
            let want = 0.5 * (2.0 * d).exp_m1() - d;
            let mut scalar = [0.0f32];
            ScalarPrior::new(0.0, sb).kl(&[0.0], &[sa], &mut scalar);
            let general = kl(0.0, sa, 0.0, sb);
            for (what, got) in [("scalar prior", scalar[0]), ("general", general)] {
                let err = (got as f64 - want).abs() / want;
                assert!(err < 8.0 * f32::EPSILON as f64, "{what} at σa = {sa}, σb = {sb}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn scale_term_matches_the_expm1_form() {
        // ½ expm1(2d) − d, within 1e-15 relative in f64 and 6 ulps in f32, on both sides of the
        // switch at |d| = ½ and down to d = 3e-9 (where the terms cancel to d²). Reference: the
        // Taylor series Σₖ₌₂ (2d)ᵏ/(2·k!) summed term by term for |d| <= 1 (the expm1 form
        // would lose 1/|d| of its relative precision there), the expm1 form beyond.
        let h = |d: f64| {
            if d.abs() > 1.0 {
                return 0.5 * (2.0 * d).exp_m1() - d;
            }
            let (mut term, mut sum) = (d * d, 0.0);
            for k in 2..40 {
                sum += term;
                term *= 2.0 * d / (k + 1) as f64;
            }
            sum
        };
        let mut worst32 = 0.0f64;
        for i in -400..=400 {
            let d = i as f64 / 100.0 + 0.003;
            for d in [d, d * 1e-6] {
                let r = d.exp();
                let got = scale_term(d, r);
                assert!((got - h(d)).abs() <= 1e-15 * h(d), "f64 at d = {d}: {got} vs {}", h(d));
                let (d32, r32) = (d as f32, (d as f32 as f64).exp() as f32);
                let want = h(d32 as f64);
                let got = scale_term(d32, r32) as f64;
                let w = want as f32;
                worst32 = worst32.max((got - want).abs() / (f32::from_bits(w.to_bits() + 1) - w) as f64);
            }
        }
        assert!(worst32 <= 6.0, "f32 worst {worst32} ulp");
    }

    #[test]
    fn normal_kl_grad() {
        let p = Domain::Positive;
        check_grads(
            |_, x| normal_kl(x[0], x[1], x[2], x[3]),
            &[Spec::new([2, 3]), Spec::new([2, 3]).domain(p), Spec::new([3]), Spec::new([2, 1]).domain(p)],
            2,
        );
        check_grads(
            |g, x| normal_kl(x[0], x[1], g.scalar(0.0), g.scalar(1.0)),
            &[Spec::new([4]), Spec::new([4]).domain(p)],
            2,
        );
    }

    #[test]
    fn normal_kl_shape_error() {
        let g = Graph::<f64>::new();
        let _ = normal_kl(g.input("a", [2]), g.input("b", [3]), g.scalar(0.0), g.scalar(1.0));
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("normal_kl") && e.contains("[2]") && e.contains("[3]"), "{e}");
    }
}
