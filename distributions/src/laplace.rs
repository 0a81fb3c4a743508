//! `Laplace(loc, scale)`: density `exp(−|x−μ|/b) / 2b`, a batch with broadcast parameters.
//!
//! - `log_prob(x) = −|x−μ|/b − log b − log 2`
//! - `cdf(x) = ½e^{z}` for `z = (x−μ)/b < 0`, else `1 − ½e^{−z}`: both tails from `e^{−|z|}`, so
//!   the lower tail keeps full relative precision (TFP's `½ − ½ sign(z) expm1(−|z|)` cancels
//!   there). At the median the derivative uses `abs`'s subgradient.
//! - `entropy = 1 + log 2 + log b`; `stddev = √2 b`
//! - `sample = μ + b ε` with `ε ~ Laplace(0, 1)` drawn by [`StandardLaplace`] (a random sign
//!   times an `Exp(1)` draw from a uniform on `(0, 1]`, so never infinite): reparameterized.

use autodiff::ops::{abs, exp, less, log, select, square};
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
        // Each side from its own tail mass t = ½e^{−|z|}: F = t below the median, 1 − t above.
        // (TFP's ½ − ½ sign(z) expm1(−|z|) cancels to 0 far below the median.)
        let t = exp(-abs(z)) * F::of(0.5);
        Some(select(less(z, self.graph().scalar(0.0)), t, -t + F::one()))
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

#[cfg(test)]
mod tests {
    use std::f64::consts::{E, LN_2};

    use autodiff::testing::{check_grads, Domain, Spec};

    use super::*;
    use crate::test_util::*;

    #[test]
    fn laplace_forward_log_prob_cdf_entropy_moments() {
        // Laplace(1, 2) at x = −1, 1, 3: z = −1, 0, 1.
        let out = eval_many(|g| {
            let d = Laplace::new(g.scalar(1.0), g.scalar(2.0));
            let x = g.constant_f64(&[-1.0, 1.0, 3.0], [3]);
            vec![d.log_prob(x), d.cdf(x).unwrap(), d.entropy(), d.mean(), d.stddev(), d.variance()]
        });
        // log p = −|z| − log 2b = −|z| − log 4.
        let l4 = 4f64.ln();
        close(&out[0], &[-1.0 - l4, -l4, -1.0 - l4], 1e-15);
        // F(x) = ½e^{z} below the median, 1 − ½e^{−z} above.
        close(&out[1], &[0.5 / E, 0.5, 1.0 - 0.5 / E], 1e-15);
        close(&out[2], &[1.0 + LN_2 + 2f64.ln()], 1e-15);
        close(&out[3], &[1.0], 0.0);
        close(&out[4], &[2.0 * 2f64.sqrt()], 1e-15);
        close(&out[5], &[8.0], 1e-15);
    }

    #[test]
    fn laplace_forward_cdf_tails_keep_precision() {
        // Far below the median F = ½e^{z} is tiny but exact; far above, 1 − F = ½e^{−z}.
        let v = eval1(|g| Laplace::new(g.scalar(0.0), g.scalar(1e-6)).cdf(g.scalar(-5e-5)).unwrap());
        close(&v, &[0.5 * (-50f64).exp()], 1e-12);
    }

    #[test]
    fn laplace_standard_noise_is_standard_laplace() {
        // E|ε| = 1 and P(ε > 0) = ½ for ε ~ Laplace(0, 1); Var|ε| = 1.
        let v = eval_seeded(3, |g| vec![g.random(StandardLaplace, [20000], "eps")]).remove(0);
        let abs: Vec<f64> = v.iter().map(|x| x.abs()).collect();
        let (m, se) = mean_se(&abs);
        within_4se("E|eps|", m, 1.0, se);
        let pos: Vec<f64> = v.iter().map(|&x| if x > 0.0 { 1.0 } else { 0.0 }).collect();
        let (p, se) = mean_se(&pos);
        within_4se("P(eps > 0)", p, 0.5, se);
    }

    #[test]
    fn laplace_grad_log_prob_cdf_entropy_sample() {
        // |x − μ| has a kink at 0: keep the points apart.
        let specs = [
            Spec::new([3]).values(vec![0.0, 1.0, -1.0]),
            Spec::new([3]).domain(Domain::Positive),
            Spec::new([3]).values(vec![0.7, -0.4, 0.3]),
        ];
        check_grads(|_, x| Laplace::new(x[0], x[1]).log_prob(x[2]), &specs, 2);
        check_grads(|_, x| Laplace::new(x[0], x[1]).cdf(x[2]).unwrap(), &specs, 2);
        check_grads(|_, x| Laplace::new(x[0], x[1]).entropy(), &specs[..2], 2);
        check_grads(|_, x| Laplace::new(x[0], x[1]).sample(&[2], "eps"), &specs[..2], 2);
    }

    #[test]
    fn laplace_errors() {
        let e = build_error(|g| {
            Laplace::new(g.constant_f64(&[0.0; 2], [2]), g.constant_f64(&[1.0; 3], [3]));
        });
        assert!(e.contains("Laplace") && e.contains("[2]") && e.contains("[3]"), "{e}");
        let e = run_error(|g| vec![Laplace::new(g.scalar(0.0), g.scalar(-1.0)).validated().entropy()]);
        assert!(e.contains("Laplace: scale must be > 0, got -1 at element 0"), "{e}");
    }
}
