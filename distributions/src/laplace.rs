//! `Laplace(loc, scale)`: density `exp(−|x−μ|/b) / 2b`, a batch with broadcast parameters.
//!
//! - `log_prob(x) = −|x−μ|/b − log b − log 2`
//! - `cdf(x) = ½ − ½ sign(z) expm1(−|z|)`, `z = (x−μ)/b` (TFP's form: no cancellation in
//!   either tail)
//! - `entropy = 1 + log 2 + log b`; `stddev = √2 b`
//! - `sample = μ + b ε` with `ε ~ Laplace(0, 1)` drawn by [`StandardLaplace`] (a random sign
//!   times an `Exp(1)` draw from a uniform on `(0, 1]`, so never infinite): reparameterized.

use autodiff::ops::{abs, expm1, log, sign, square};
use autodiff::random::Sampler;
use autodiff::rng::CounterRng;
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::util::{any_poisoned, bcast, check_value, fail, sample_shape};
use crate::validate::{assert_valid, Constraint};
use crate::{Distribution, Family};

/// Standard Laplace noise: `±E` with `E ~ Exp(1)` and a fair sign.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardLaplace;

impl<F: Scalar> Sampler<F> for StandardLaplace {
    fn name(&self) -> &'static str {
        "standard_laplace"
    }
    fn fill(&self, out: &mut [F], rng: &mut CounterRng) {
        for v in out {
            // uniform_open0 is in (0, 1], so the magnitude is finite.
            let e = -rng.uniform_open0().ln();
            let negative = rng.next_u64_fast() & 1 == 1;
            *v = F::of(if negative { -e } else { e });
        }
    }
}

/// A batch of Laplace distributions.
#[derive(Debug, Clone)]
pub struct Laplace<'g, F: Scalar> {
    loc: Tensor<'g, F>,
    scale: Tensor<'g, F>,
    batch: Shape,
}

impl<'g, F: Scalar> Laplace<'g, F> {
    /// `Laplace(loc, scale)`; the shapes broadcast to the batch shape (else an error naming
    /// `Laplace` is recorded).
    #[track_caller]
    pub fn new(loc: Tensor<'g, F>, scale: Tensor<'g, F>) -> Self {
        let g = loc.graph();
        if any_poisoned(&[loc, scale]) {
            return Laplace { loc, scale, batch: Shape::scalar() };
        }
        match loc.shape().broadcast_with(&scale.shape()) {
            Ok(batch) => Laplace { loc, scale, batch },
            Err(_) => {
                fail(
                    g,
                    "Laplace",
                    format!("loc of shape {} and scale of shape {} do not broadcast", loc.shape(), scale.shape()),
                    &[loc, scale],
                );
                let p = g.poisoned();
                Laplace { loc: p, scale: p, batch: Shape::scalar() }
            }
        }
    }

    /// The same distribution with a run-time check that `scale > 0`.
    #[track_caller]
    pub fn validated(self) -> Self {
        let scale = assert_valid(self.scale, Constraint::Positive, "Laplace", "scale");
        Laplace { scale, ..self }
    }

    /// The location parameter.
    pub fn loc(&self) -> Tensor<'g, F> {
        self.loc
    }

    /// The scale parameter `b`.
    pub fn scale(&self) -> Tensor<'g, F> {
        self.scale
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for Laplace<'g, F> {
    fn name(&self) -> &'static str {
        "Laplace"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        let eps = self.graph().random(StandardLaplace, sample_shape(sample, &self.batch, &Shape::scalar()), salt);
        self.sample_with_noise(eps)
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        self.loc + self.scale * eps
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("Laplace.log_prob", x, &self.batch, &Shape::scalar()) {
            return self.graph().poisoned();
        }
        -(abs(x - self.loc) / self.scale) - log(self.scale) - F::of(std::f64::consts::LN_2)
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        if !check_value("Laplace.cdf", x, &self.batch, &Shape::scalar()) {
            return Some(self.graph().poisoned());
        }
        let z = (x - self.loc) / self.scale;
        Some(sign(z) * expm1(-abs(z)) * F::of(-0.5) + F::of(0.5))
    }
    fn entropy(&self) -> Tensor<'g, F> {
        bcast(log(self.scale) + F::of(1.0 + std::f64::consts::LN_2), &self.batch)
    }
    fn mean(&self) -> Tensor<'g, F> {
        bcast(self.loc, &self.batch)
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.mean()
    }
    fn stddev(&self) -> Tensor<'g, F> {
        bcast(self.scale * F::of(std::f64::consts::SQRT_2), &self.batch)
    }
    fn variance(&self) -> Tensor<'g, F> {
        bcast(square(self.scale) * F::of(2.0), &self.batch)
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::Laplace(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.loc.graph()
    }
}
