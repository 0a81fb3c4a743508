//! `ScaleMixtureNormal(π, σ₁, σ₂)`: the scale-mixture prior of Blundell et al. (2015),
//! "Weight Uncertainty in Neural Networks", eq. (7): `p(w) = π N(w; 0, σ₁²) + (1−π) N(w; 0, σ₂²)`,
//! zero mean, with fixed hyperparameters.
//!
//! - `log_prob(w) = logsumexp(log π + log N(w; 0, σ₁²), log(1−π) + log N(w; 0, σ₂²))`, so a
//!   narrow component (`σ₂ = e⁻⁶`) far in its tail neither underflows nor produces NaN, and
//!   `π ∈ {0, 1}` works (one term is `−∞`).
//! - `cdf(w) = π Φ(w/σ₁) + (1−π) Φ(w/σ₂)` with `Φ(z) = ½ erfc(−z/√2)` (relative precision in
//!   the lower tail); `mean = mode = 0`; `variance = πσ₁² + (1−π)σ₂²`.
//! - No closed-form entropy and no analytic KL: use [`crate::mc_kl`] (as Blundell et al. do).
//! - `sample`: a component per element from a Bernoulli(π) leaf, times a standard normal leaf.
//!   There are no parameters to differentiate; the draw is not a reparameterization
//!   (`is_reparameterized` is `false`, as for TFP's mixtures).

use autodiff::ops::{erfc, logsumexp, sqrt, square, stack};
use autodiff::random::{Bernoulli, StandardNormal};
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::util::{bcast, check_value, fail, full, sample_shape, HALF_LN_2PI};
use crate::{Distribution, Family};

/// The two-component, zero-mean scale mixture of normals used as a weight prior.
#[derive(Debug, Clone)]
pub struct ScaleMixtureNormal<'g, F: Scalar> {
    g: &'g Graph<F>,
    pi: f64,
    sigma1: f64,
    sigma2: f64,
    batch: Shape,
    poisoned: bool,
}

impl<'g, F: Scalar> ScaleMixtureNormal<'g, F> {
    /// `π N(0, σ₁²) + (1−π) N(0, σ₂²)` for every element of a batch of shape `batch_shape`
    /// (e.g. a kernel's `[in, out]`, so that `Independent::new(Box::new(prior), 2)` has the
    /// posterior's event shape; `[]` for a single prior). `π` outside `[0, 1]` or a
    /// non-positive `σ` is recorded as an error naming `ScaleMixtureNormal`.
    #[track_caller]
    pub fn new(g: &'g Graph<F>, batch_shape: impl Into<Shape>, pi: f64, sigma1: f64, sigma2: f64) -> Self {
        let mut poisoned = false;
        // Written so that NaN fails too.
        let valid = (0.0..=1.0).contains(&pi) && sigma1 > 0.0 && sigma2 > 0.0;
        if !valid {
            fail::<F>(
                g,
                "ScaleMixtureNormal",
                format!("needs 0 <= pi <= 1 and sigma1, sigma2 > 0, got pi {pi}, sigma1 {sigma1}, sigma2 {sigma2}"),
                &[],
            );
            poisoned = true;
        }
        ScaleMixtureNormal { g, pi, sigma1, sigma2, batch: batch_shape.into(), poisoned }
    }

    /// The mixing weight `π` of the first component.
    pub fn pi(&self) -> f64 {
        self.pi
    }

    /// The two standard deviations `(σ₁, σ₂)`.
    pub fn sigmas(&self) -> (f64, f64) {
        (self.sigma1, self.sigma2)
    }

    fn component_log_prob(&self, x: Tensor<'g, F>, weight: f64, sigma: f64) -> Tensor<'g, F> {
        let z = x * F::of(1.0 / sigma);
        square(z) * F::of(-0.5) + F::of(weight.ln() - sigma.ln() - HALF_LN_2PI)
    }

    fn guard(&self) -> Option<Tensor<'g, F>> {
        self.poisoned.then(|| self.g.poisoned())
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for ScaleMixtureNormal<'g, F> {
    fn name(&self) -> &'static str {
        "ScaleMixtureNormal"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        if let Some(p) = self.guard() {
            return p;
        }
        let s = sample_shape(sample, &self.batch, &Shape::scalar());
        let z = self.g.random(StandardNormal, s.clone(), salt);
        let first = self.g.random(Bernoulli { p: self.pi }, s, &format!("{salt}/component"));
        // σ = σ₂ + c (σ₁ − σ₂) with c ∈ {0, 1}.
        z * (first * F::of(self.sigma1 - self.sigma2) + F::of(self.sigma2))
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        fail(
            self.g,
            "ScaleMixtureNormal.sample_with_noise",
            "a mixture's draw is not a transform of standard noise (it picks a component); use sample".into(),
            &[eps],
        );
        self.g.poisoned()
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if let Some(p) = self.guard() {
            return p;
        }
        if !check_value("ScaleMixtureNormal.log_prob", x, &self.batch, &Shape::scalar()) {
            return self.g.poisoned();
        }
        let x = match x.shape().broadcast_with(&self.batch) {
            Ok(s) => bcast(x, &s),
            Err(_) => x,
        };
        let a = self.component_log_prob(x, self.pi, self.sigma1);
        let b = self.component_log_prob(x, 1.0 - self.pi, self.sigma2);
        logsumexp(stack(&[a, b], -1), &[-1], false)
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        if let Some(p) = self.guard() {
            return Some(p);
        }
        if !check_value("ScaleMixtureNormal.cdf", x, &self.batch, &Shape::scalar()) {
            return Some(self.g.poisoned());
        }
        let phi = |sigma: f64| erfc(x * F::of(-std::f64::consts::FRAC_1_SQRT_2 / sigma)) * F::of(0.5);
        let c = phi(self.sigma1) * F::of(self.pi) + phi(self.sigma2) * F::of(1.0 - self.pi);
        Some(match x.shape().broadcast_with(&self.batch) {
            Ok(s) => bcast(c, &s),
            Err(_) => c,
        })
    }
    fn entropy(&self) -> Tensor<'g, F> {
        fail::<F>(
            self.g,
            "ScaleMixtureNormal.entropy",
            "a mixture of normals has no closed-form entropy; estimate it as -mean(log_prob(sample))".into(),
            &[],
        );
        self.g.poisoned()
    }
    fn mean(&self) -> Tensor<'g, F> {
        self.guard().unwrap_or_else(|| full(self.g, &self.batch, 0.0))
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.mean()
    }
    fn stddev(&self) -> Tensor<'g, F> {
        self.guard().unwrap_or_else(|| sqrt(self.variance()))
    }
    fn variance(&self) -> Tensor<'g, F> {
        let v = self.pi * self.sigma1 * self.sigma1 + (1.0 - self.pi) * self.sigma2 * self.sigma2;
        self.guard().unwrap_or_else(|| full(self.g, &self.batch, v))
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::ScaleMixture(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.g
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use autodiff::testing::{check_grads, Spec};

    use super::*;
    use crate::test_util::*;

    fn normal_pdf(x: f64, s: f64) -> f64 {
        (-0.5 * (x / s) * (x / s)).exp() / (s * (2.0 * PI).sqrt())
    }

    #[test]
    fn scale_mixture_forward_log_prob_cdf_moments() {
        // ¼ N(0, 2²) + ¾ N(0, ½²) at x = 0, 1, −3; the CDF at 0, 0.3, −1, 2.5.
        let out = eval_many(|g| {
            let p = ScaleMixtureNormal::new(g, Shape::scalar(), 0.25, 2.0, 0.5);
            let x = g.constant_f64(&[0.0, 1.0, -3.0], [3]);
            let c = g.constant_f64(&[0.0, 0.3, -1.0, 2.5], [4]);
            vec![p.log_prob(x), p.cdf(c).unwrap(), p.mean(), p.variance(), p.stddev()]
        });
        let want: Vec<f64> =
            [0.0, 1.0, -3.0].iter().map(|&x| (0.25 * normal_pdf(x, 2.0) + 0.75 * normal_pdf(x, 0.5)).ln()).collect();
        close(&out[0], &want, 1e-14);
        // ¼ Φ(x/2) + ¾ Φ(2x), Φ(t) = ½(1 + erf(t/√2)), evaluated with python's math.erf:
        // ½ by symmetry at 0; ¼Φ(0.15) + ¾Φ(0.6) at 0.3; ¼Φ(−0.5) + ¾Φ(−2) at −1;
        // ¼Φ(1.25) + ¾Φ(5) at 2.5. A few ulps of erf, well below 1e-15 relative to 1.
        close(&out[1], &[0.5, 0.6842145847800054, 0.09419698364263113, 0.9735873415946072], 1e-15);
        close(&out[2], &[0.0], 0.0);
        // ¼·4 + ¾·¼ = 1.1875.
        close(&out[3], &[1.1875], 1e-15);
        close(&out[4], &[1.1875f64.sqrt()], 1e-15);
    }

    #[test]
    fn scale_mixture_forward_is_stable_with_a_narrow_component() {
        // With σ₂ = 1e-6 the narrow density underflows at x = 1 (exp(−5e11)); the mixture is then
        // log π + log N(x; 0, σ₁²) exactly, not −∞. At x = 0 the narrow component dominates.
        let out = eval_many(|g| {
            let p = ScaleMixtureNormal::new(g, Shape::scalar(), 0.5, 1.0, 1e-6);
            vec![p.log_prob(g.constant_f64(&[1.0, 1e3, 0.0], [3]))]
        });
        let h = 0.5 * (2.0 * PI).ln();
        let wide = |x: f64| 0.5f64.ln() - 0.5 * x * x - h;
        // At 0: log(½ N(0;0,1) + ½ N(0;0,1e-6)) = log ½ − h + log(1 + 1e6).
        close(&out[0], &[wide(1.0), wide(1e3), 0.5f64.ln() - h + (1.0 + 1e6f64).ln()], 1e-14);
    }

    #[test]
    fn scale_mixture_batch_shape_and_errors() {
        let v = eval1(|g| {
            let p = ScaleMixtureNormal::new(g, [2, 3], 0.5, 1.0, 0.1);
            assert_eq!(p.sample(&[4], "w").shape(), Shape::from([4, 2, 3]));
            p.log_prob(g.scalar(0.0))
        });
        assert_eq!(v.len(), 6);
        let e = build_error(|g| {
            ScaleMixtureNormal::<f64>::new(g, Shape::scalar(), 1.5, 1.0, 0.1);
        });
        assert!(e.contains("ScaleMixtureNormal") && e.contains("pi 1.5"), "{e}");
        let e = build_error(|g| {
            ScaleMixtureNormal::new(g, Shape::scalar(), 0.5, 1.0, 0.1).entropy();
        });
        assert!(e.contains("ScaleMixtureNormal.entropy") && e.contains("no closed-form entropy"), "{e}");
        let e = build_error(|g| {
            ScaleMixtureNormal::new(g, Shape::scalar(), 0.5, 1.0, 0.1).sample_with_noise(g.scalar(0.0));
        });
        assert!(e.contains("ScaleMixtureNormal.sample_with_noise"), "{e}");
    }

    #[test]
    fn scale_mixture_grad_log_prob() {
        check_grads(
            |g, x| ScaleMixtureNormal::new(g, Shape::scalar(), 0.3, 1.5, 0.2).log_prob(x[0]),
            &[Spec::new([4])],
            2,
        );
    }
}
