//! `ScaleMixtureNormal(π, σ₁, σ₂)`: the scale-mixture prior of Blundell et al. (2015),
//! "Weight Uncertainty in Neural Networks", eq. (7): `p(w) = π N(w; 0, σ₁²) + (1−π) N(w; 0, σ₂²)`,
//! zero mean, with fixed hyperparameters.
//!
//! - `log_prob(w) = logsumexp(log π + log N(w; 0, σ₁²), log(1−π) + log N(w; 0, σ₂²))`, so a
//!   narrow component (`σ₂ = e⁻⁶`) far in its tail neither underflows nor produces NaN, and
//!   `π ∈ {0, 1}` works (one term is `−∞`).
//! - `cdf(w) = π Φ(w/σ₁) + (1−π) Φ(w/σ₂)`; `mean = mode = 0`; `variance = πσ₁² + (1−π)σ₂²`.
//! - No closed-form entropy and no analytic KL: use [`crate::mc_kl`] (as Blundell et al. do).
//! - `sample`: a component per element from a Bernoulli(π) leaf, times a standard normal leaf.
//!   There are no parameters to differentiate; the draw is not a reparameterization
//!   (`is_reparameterized` is `false`, as for TFP's mixtures).

use autodiff::ops::{erf, logsumexp, sqrt, square, stack};
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
    /// `π N(0, σ₁²) + (1−π) N(0, σ₂²)` with batch shape `[]` (see
    /// [`with_batch_shape`](Self::with_batch_shape)). `π` outside `[0, 1]` or a non-positive
    /// `σ` is recorded as an error naming `ScaleMixtureNormal`.
    #[track_caller]
    pub fn new(g: &'g Graph<F>, pi: f64, sigma1: f64, sigma2: f64) -> Self {
        let mut poisoned = false;
        if !(0.0..=1.0).contains(&pi) || !(sigma1 > 0.0) || !(sigma2 > 0.0) {
            fail::<F>(
                g,
                "ScaleMixtureNormal",
                format!("needs 0 <= pi <= 1 and sigma1, sigma2 > 0, got pi {pi}, sigma1 {sigma1}, sigma2 {sigma2}"),
                &[],
            );
            poisoned = true;
        }
        ScaleMixtureNormal { g, pi, sigma1, sigma2, batch: Shape::scalar(), poisoned }
    }

    /// The same prior for a whole batch of shape `batch` (e.g. a kernel's `[in, out]`), so that
    /// `Independent::new(Box::new(prior.with_batch_shape([in, out])), 2)` has the posterior's
    /// event shape.
    pub fn with_batch_shape(self, batch: impl Into<Shape>) -> Self {
        ScaleMixtureNormal { batch: batch.into(), ..self }
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
        let phi = |sigma: f64| (erf(x * F::of(std::f64::consts::FRAC_1_SQRT_2 / sigma)) + F::one()) * F::of(0.5);
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
