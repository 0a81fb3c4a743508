//! `StudentT(df, loc, scale)`: the location-scale Student-t, parameters broadcast.
//!
//! - `log_prob(x) = −½(ν+1) log1p(z²/ν) − log|σ| − ½ log ν − ½ log π − lgamma(ν/2) + lgamma((ν+1)/2)`,
//!   `z = (x−μ)/σ` (TFP's form).
//! - `entropy = ½(ν+1)(ψ((ν+1)/2) − ψ(ν/2)) + ½ log ν + lbeta(ν/2, ½) + log|σ|`.
//! - `mean = μ` for `ν > 1`, else NaN; `variance = σ²ν/(ν−2)` for `ν > 2`, `∞` for `1 < ν ≤ 2`,
//!   NaN otherwise (TFP's `allow_nan_stats=True`); `mode = μ`.
//! - No closed-form CDF (it needs the regularized incomplete beta function): `cdf` is `None`.
//! - Precision at large `ν`: `lgamma((ν+1)/2) − lgamma(ν/2)` and `ψ((ν+1)/2) − ψ(ν/2)` are
//!   differences of rounded values much larger than the results, as in TFP. In `f32`,
//!   `log_prob` is off by ~5e-3 at `ν = 1e4` and by ~0.08 at `ν = 1e6`; in `f64` by ~1e-3
//!   relative at `ν = 1e12`. At `ν = 1e3` the log density is already within 2e-3 of the
//!   Normal's for `|z| <= 2` (0.015 at `|z| = 3`); a [`Normal`](crate::Normal) serves there.
//!
//! Sampling: `x = μ + σ t` with `t = z / √(G/α)`, `z ~ N(0, 1)`, `G ~ Gamma(α = ν/2, 1)`, so
//! `2G ~ χ²_ν`. The gamma draw uses Marsaglia and Tsang's (2000) rejection method with a fixed
//! budget of [`GAMMA_CANDIDATES`] candidates per element, taken from random leaves (so runs
//! replay exactly), and the boost `G(α) = G(α+1) U^{1/α}` for `α < 1`. Gradients reach `loc`
//! and `scale` (the draw is `μ + σ t`), but not `df`: TFP differentiates the gamma draw by
//! implicit reparameterization, which is not implemented here, so
//! [`is_reparameterized`](Distribution::is_reparameterized) is `false`. Use a score-function or
//! fixed-`df` model when `df` is learned.

use autodiff::op::{grads, ForwardCx, Grads, Op, VjpCx};
use autodiff::ops::{abs, digamma, greater, lgamma, log, log1p, select, square};
use autodiff::random::{StandardNormal, Uniform};
use autodiff::{Dim, Graph, OpFailure, Scalar, Shape, ShapeError, Tensor};

use crate::util::{any_poisoned, bcast, broadcast_all, check_value, concat, fail, sample_shape};
use crate::validate::{assert_valid, Constraint};
use crate::{Distribution, Family};

/// Rejection candidates per gamma draw. Marsaglia–Tsang accepts a candidate with probability
/// at least 0.95 for shape `>= 1` (the boost keeps it there), so all eight fail with probability
/// below `0.05⁸ ≈ 4e-11`; such an element then takes the candidate-free value `d = α − ⅓`
/// (close to the mode), a bias far below any Monte-Carlo error.
pub const GAMMA_CANDIDATES: usize = 8;

/// Standard Student-t draws from a budget of normal and uniform noise; see the module docs.
///
/// Inputs: `df [S]`, `normals [S, K+1]`, `uniforms [S, K+1]` with `K =` [`GAMMA_CANDIDATES`];
/// output `[S]`. No gradient: the draw is not differentiated in `df` (and the noise is a leaf).
/// A `df` that is not positive gives NaN, as in TFP.
#[derive(Debug, Clone, Copy, Default)]
pub struct StudentTNoise;

fn gamma_draw(alpha: f64, z: &[f64], u: &[f64], boost_u: f64) -> f64 {
    let boost = alpha < 1.0;
    let a = if boost { alpha + 1.0 } else { alpha };
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    let mut g = d;
    for (&zk, &uk) in z.iter().zip(u) {
        let v = 1.0 + c * zk;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        if uk.ln() < 0.5 * zk * zk + d - d * v + d * v.ln() {
            g = d * v;
            break;
        }
    }
    if boost {
        // 1 − u is in (0, 1], so the log is finite.
        g * ((1.0 - boost_u).ln() / alpha).exp()
    } else {
        g
    }
}

impl<F: Scalar> Op<F> for StudentTNoise {
    fn name(&self) -> &'static str {
        "student_t_noise"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let want = concat(inputs[0], &Shape::from([GAMMA_CANDIDATES + 1]));
        if *inputs[1] != want || *inputs[2] != want {
            return Err(ShapeError::Custom(format!(
                "noise must have shape {want} (df's shape plus {} candidates), got {} and {}",
                GAMMA_CANDIDATES + 1,
                inputs[1],
                inputs[2]
            )));
        }
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (df, zn, un) = (cx.input(0), cx.input(1), cx.input(2));
        let k = GAMMA_CANDIDATES + 1;
        let mut z = [0.0; GAMMA_CANDIDATES];
        let mut u = [0.0; GAMMA_CANDIDATES];
        for (i, o) in cx.out().iter_mut().enumerate() {
            let nu = df[i].to_f64_lossless();
            if nu.is_nan() || nu <= 0.0 {
                *o = F::nan();
                continue;
            }
            let (zs, us) = (&zn[i * k..(i + 1) * k], &un[i * k..(i + 1) * k]);
            for j in 0..GAMMA_CANDIDATES {
                z[j] = zs[j].to_f64_lossless();
                u[j] = us[j].to_f64_lossless();
            }
            let alpha = 0.5 * nu;
            let g = gamma_draw(alpha, &z, &u, us[GAMMA_CANDIDATES].to_f64_lossless());
            *o = F::of(zs[GAMMA_CANDIDATES].to_f64_lossless() / (g / alpha).sqrt());
        }
        Ok(())
    }
    fn vjp<'g>(&self, _cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([None, None, None])
    }
}

/// Standard Student-t draws with `df` degrees of freedom from the given noise (see
/// [`StudentTNoise`]).
#[track_caller]
pub fn student_t_noise<'g, F: Scalar>(
    df: Tensor<'g, F>,
    normals: Tensor<'g, F>,
    uniforms: Tensor<'g, F>,
) -> Tensor<'g, F> {
    df.graph().apply(StudentTNoise, &[df, normals, uniforms])
}

/// A batch of Student-t distributions.
#[derive(Debug, Clone)]
pub struct StudentT<'g, F: Scalar> {
    df: Tensor<'g, F>,
    loc: Tensor<'g, F>,
    scale: Tensor<'g, F>,
    batch: Shape,
}

impl<'g, F: Scalar> StudentT<'g, F> {
    /// `StudentT(df, loc, scale)`; the three shapes broadcast to the batch shape (else an error
    /// naming `StudentT` is recorded).
    #[track_caller]
    pub fn new(df: Tensor<'g, F>, loc: Tensor<'g, F>, scale: Tensor<'g, F>) -> Self {
        let g = loc.graph();
        if any_poisoned(&[df, loc, scale]) {
            return StudentT { df, loc, scale, batch: Shape::scalar() };
        }
        match broadcast_all(&[df.shape(), loc.shape(), scale.shape()]) {
            Ok(batch) => StudentT { df, loc, scale, batch },
            Err(_) => {
                fail(
                    g,
                    "StudentT",
                    format!(
                        "df of shape {}, loc of shape {} and scale of shape {} do not broadcast",
                        df.shape(),
                        loc.shape(),
                        scale.shape()
                    ),
                    &[df, loc, scale],
                );
                let p = g.poisoned();
                StudentT { df: p, loc: p, scale: p, batch: Shape::scalar() }
            }
        }
    }

    /// The same distribution with run-time checks that `df > 0` and `scale > 0`.
    #[track_caller]
    pub fn validated(self) -> Self {
        let df = assert_valid(self.df, Constraint::Positive, "StudentT", "df");
        let scale = assert_valid(self.scale, Constraint::Positive, "StudentT", "scale");
        StudentT { df, scale, ..self }
    }

    /// Degrees of freedom `ν`.
    pub fn df(&self) -> Tensor<'g, F> {
        self.df
    }

    /// The location.
    pub fn loc(&self) -> Tensor<'g, F> {
        self.loc
    }

    /// The scale `σ`.
    pub fn scale(&self) -> Tensor<'g, F> {
        self.scale
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for StudentT<'g, F> {
    fn name(&self) -> &'static str {
        "StudentT"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        let g = self.graph();
        let s = sample_shape(sample, &self.batch, &Shape::scalar());
        let noise = concat(&s, &Shape::new([Dim::Fixed(GAMMA_CANDIDATES + 1)]));
        let normals = g.random(StandardNormal, noise.clone(), salt);
        let uniforms = g.random(Uniform::default(), noise, &format!("{salt}/gamma_uniform"));
        let t = student_t_noise(bcast(self.df, &s), normals, uniforms);
        self.sample_with_noise(t)
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        self.loc + self.scale * eps
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("StudentT.log_prob", x, &self.batch, &Shape::scalar()) {
            return self.graph().poisoned();
        }
        let nu = self.df;
        let z = (x - self.loc) / self.scale;
        let half = F::of(0.5);
        let unnormalized = log1p(square(z) / nu) * ((nu + F::one()) * -half);
        let log_norm =
            log(abs(self.scale)) + log(nu) * half + F::of(0.5 * std::f64::consts::PI.ln()) + lgamma(nu * half)
                - lgamma((nu + F::one()) * half);
        unnormalized - log_norm
    }
    fn cdf(&self, _x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        None
    }
    fn entropy(&self) -> Tensor<'g, F> {
        let nu = self.df;
        let half = F::of(0.5);
        let a = nu * half;
        let b = (nu + F::one()) * half;
        // lbeta(ν/2, ½) = lgamma(ν/2) + lgamma(½) − lgamma((ν+1)/2), lgamma(½) = ½ log π.
        let lbeta = lgamma(a) + F::of(0.5 * std::f64::consts::PI.ln()) - lgamma(b);
        let h = b * (digamma(b) - digamma(a)) + log(nu) * half + lbeta + log(abs(self.scale));
        bcast(h, &self.batch)
    }
    fn mean(&self) -> Tensor<'g, F> {
        let g = self.graph();
        bcast(select(greater(self.df, g.scalar(1.0)), self.loc, g.scalar(f64::NAN)), &self.batch)
    }
    fn mode(&self) -> Tensor<'g, F> {
        bcast(self.loc, &self.batch)
    }
    fn stddev(&self) -> Tensor<'g, F> {
        autodiff::ops::sqrt(self.variance())
    }
    fn variance(&self) -> Tensor<'g, F> {
        let g = self.graph();
        let nu = self.df;
        let finite = square(self.scale) * nu / (nu - F::of(2.0));
        let heavy = select(greater(nu, g.scalar(1.0)), g.scalar(f64::INFINITY), g.scalar(f64::NAN));
        bcast(select(greater(nu, g.scalar(2.0)), finite, heavy), &self.batch)
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::StudentT(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.loc.graph()
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use autodiff::rng::CounterRng;
    use autodiff::testing::{check_grads, Domain, Spec};

    use super::*;
    use crate::test_util::*;

    #[test]
    fn student_t_forward_log_prob_entropy_moments() {
        // t₃ density at z: Γ(2)/(√(3π) Γ(3/2)) (1 + z²/3)^{−2} = 2/(π√3) (1 + z²/3)^{−2};
        // with σ = 2 the density is halved. At z = 0 and z = 1 (x = 1 and 3, μ = 1).
        let out = eval_many(|g| {
            let d = StudentT::new(g.scalar(3.0), g.scalar(1.0), g.scalar(2.0));
            let x = g.constant_f64(&[1.0, 3.0], [2]);
            vec![d.log_prob(x), d.entropy(), d.mean(), d.variance(), d.stddev(), d.mode()]
        });
        let c = (1.0 / (PI * 3f64.sqrt())).ln();
        close(&out[0], &[c, c + 2.0 * (0.75f64).ln()], 1e-14);
        // ν = 3: 2(ψ(2) − ψ(3/2)) = 2(−1 + 2 log 2); log(√3 B(3/2, ½)) = log(√3 π/2); + log σ.
        let h = 2.0 * (-1.0 + 2.0 * 2f64.ln()) + (3f64.sqrt() * PI / 2.0).ln() + 2f64.ln();
        close(&out[1], &[h], 1e-13);
        close(&out[2], &[1.0], 0.0);
        // σ²ν/(ν − 2) = 4 · 3.
        close(&out[3], &[12.0], 1e-15);
        close(&out[4], &[12f64.sqrt()], 1e-15);
        close(&out[5], &[1.0], 0.0);
    }

    #[test]
    fn student_t_forward_cauchy_and_undefined_moments() {
        // ν = 1 is the Cauchy: entropy log(4πσ); mean undefined (NaN), variance undefined.
        // ν = 1.5: mean μ, variance ∞.
        let out = eval_many(|g| {
            let df = g.constant_f64(&[1.0, 1.5, 0.5], [3]);
            let d = StudentT::new(df, g.scalar(1.0), g.scalar(3.0));
            vec![d.entropy(), d.mean(), d.variance(), d.log_prob(g.scalar(4.0))]
        });
        close(&out[0][..1], &[(4.0 * PI * 3.0).ln()], 1e-13);
        close(&out[1], &[f64::NAN, 1.0, f64::NAN], 0.0);
        close(&out[2], &[f64::NAN, f64::INFINITY, f64::NAN], 0.0);
        // Cauchy density at z = 1: 1/(πσ(1 + 1)).
        close(&out[3][..1], &[(1.0 / (PI * 3.0 * 2.0)).ln()], 1e-14);
    }

    #[test]
    fn student_t_gamma_draws_have_gamma_moments() {
        // Gamma(α, 1) has mean α and variance α; check the sampler directly (20000 draws) for a
        // shape that needs the boost, the boundary, and a large one.
        for &alpha in &[0.3, 1.0, 4.5] {
            let mut rng = CounterRng::new(17);
            let normal = |rng: &mut CounterRng| {
                (-2.0 * rng.uniform_open0().ln()).sqrt() * (std::f64::consts::TAU * rng.uniform()).cos()
            };
            let draws: Vec<f64> = (0..20000)
                .map(|_| {
                    let z: Vec<f64> = (0..GAMMA_CANDIDATES).map(|_| normal(&mut rng)).collect();
                    let u: Vec<f64> = (0..GAMMA_CANDIDATES).map(|_| rng.uniform()).collect();
                    gamma_draw(alpha, &z, &u, rng.uniform())
                })
                .collect();
            let (m, se) = mean_se(&draws);
            within_4se(&format!("mean of Gamma({alpha})"), m, alpha, se);
            let sq: Vec<f64> = draws.iter().map(|g| (g - alpha) * (g - alpha)).collect();
            let (v, se) = mean_se(&sq);
            within_4se(&format!("variance of Gamma({alpha})"), v, alpha, se);
        }
    }

    #[test]
    fn student_t_grad_log_prob_entropy_sample() {
        let specs = [
            Spec::new([3]).domain(Domain::Range(1.5, 6.0)),
            Spec::new([3]),
            Spec::new([3]).domain(Domain::Positive),
            Spec::new([3]),
        ];
        check_grads(|_, x| StudentT::new(x[0], x[1], x[2]).log_prob(x[3]), &specs, 2);
        // The entropy's second derivative in ν needs the derivative of trigamma, which autodiff
        // does not have (trigamma has no VJP, so it would silently come out as zero): order 1
        // in all parameters, order 2 with ν fixed.
        check_grads(|_, x| StudentT::new(x[0], x[1], x[2]).entropy(), &specs[..3], 1);
        check_grads(|g, x| StudentT::new(g.scalar(3.0), x[0], x[1]).entropy(), &specs[1..3], 2);
        // The draw is differentiated in loc and scale; df is a constant here (no gradient).
        check_grads(|g, x| StudentT::new(g.scalar(4.0), x[0], x[1]).sample(&[2], "eps"), &specs[1..3], 2);
    }

    #[test]
    fn student_t_errors() {
        let e = build_error(|g| {
            StudentT::new(g.constant_f64(&[3.0; 2], [2]), g.constant_f64(&[0.0; 3], [3]), g.scalar(1.0));
        });
        assert!(e.contains("StudentT") && e.contains("df of shape [2], loc of shape [3]"), "{e}");
        let e = run_error(|g| {
            vec![StudentT::new(g.constant_f64(&[3.0, -1.0], [2]), g.scalar(0.0), g.scalar(1.0)).validated().entropy()]
        });
        assert!(e.contains("StudentT: df must be > 0, got -1 at element 1"), "{e}");
    }
}
