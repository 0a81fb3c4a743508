//! `Bernoulli`: `P(X = 1) = p` per element, parameterized by logits (the stable choice) or by
//! probabilities.
//!
//! - From logits `l`: `log_prob(x) = −sigmoid_cross_entropy_with_logits(l, x)
//!   = −(max(l, 0) − l x + log1p(e^{−|l|}))`, finite for any finite `l`.
//! - From probabilities `p`: `log_prob(x) = x log p + (1−x) log1p(−p)`, each term guarded so a
//!   certain outcome (`p ∈ {0, 1}`) gives `0` at its atom, not `0 · log 0 = NaN`, with finite
//!   gradients there.
//! - `mean = p`, `variance = p(1−p)` (from logits: `σ(l)σ(−l)`), `mode = 1` iff `p > ½`.
//! - `entropy = p softplus(−l) + (1−p) softplus(l)` from logits, the same
//!   `−p log p − (1−p) log(1−p)` from probabilities (guarded at 0 and 1).
//! - `cdf(x) = 0` for `x < 0`, `1−p` for `0 ≤ x < 1`, `1` for `x ≥ 1`.
//! - `sample = [u < p]` with `u` a uniform leaf: discrete, not reparameterized.

use autodiff::ops::{greater, less, log, log1p, select, sigmoid, sigmoid_cross_entropy_with_logits, softplus, sqrt};
use autodiff::random::Uniform;
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::util::{bcast, check_value, fail, sample_shape};
use crate::validate::{assert_valid, Constraint};
use crate::{Distribution, Family};

#[derive(Debug, Clone, Copy)]
enum Param<'g, F: Scalar> {
    Logits(Tensor<'g, F>),
    Probs(Tensor<'g, F>),
}

/// A batch of Bernoulli distributions over `{0, 1}`.
#[derive(Debug, Clone)]
pub struct Bernoulli<'g, F: Scalar> {
    param: Param<'g, F>,
}

impl<'g, F: Scalar> Bernoulli<'g, F> {
    /// `P(X = 1) = sigmoid(logits)`.
    #[track_caller]
    pub fn from_logits(logits: Tensor<'g, F>) -> Self {
        Bernoulli { param: Param::Logits(logits) }
    }

    /// `P(X = 1) = probs`. Prefer [`from_logits`](Self::from_logits) for learned parameters.
    #[track_caller]
    pub fn from_probs(probs: Tensor<'g, F>) -> Self {
        Bernoulli { param: Param::Probs(probs) }
    }

    /// The same distribution with a run-time check that the probabilities are in `[0, 1]`
    /// (logits need no check).
    #[track_caller]
    pub fn validated(self) -> Self {
        match self.param {
            Param::Logits(_) => self,
            Param::Probs(p) => {
                Bernoulli { param: Param::Probs(assert_valid(p, Constraint::UnitInterval, "Bernoulli", "probs")) }
            }
        }
    }

    /// The logits `log p − log1p(−p)`.
    #[track_caller]
    pub fn logits(&self) -> Tensor<'g, F> {
        match self.param {
            Param::Logits(l) => l,
            Param::Probs(p) => log(p) - log1p(-p),
        }
    }

    /// The probabilities of a one.
    #[track_caller]
    pub fn probs(&self) -> Tensor<'g, F> {
        match self.param {
            Param::Logits(l) => sigmoid(l),
            Param::Probs(p) => p,
        }
    }

    /// `1 − p`, as `σ(−l)` from logits (no cancellation for large logits).
    fn prob_of_zero(&self) -> Tensor<'g, F> {
        match self.param {
            Param::Logits(l) => sigmoid(-l),
            Param::Probs(p) => -p + F::one(),
        }
    }

    fn raw(&self) -> Tensor<'g, F> {
        match self.param {
            Param::Logits(t) | Param::Probs(t) => t,
        }
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for Bernoulli<'g, F> {
    fn name(&self) -> &'static str {
        "Bernoulli"
    }
    fn batch_shape(&self) -> Shape {
        self.raw().shape()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        let u =
            self.graph().random(Uniform::default(), sample_shape(sample, &self.batch_shape(), &Shape::scalar()), salt);
        less(u, self.probs())
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        fail(
            self.graph(),
            "Bernoulli.sample_with_noise",
            "a Bernoulli draw is discrete, not a transform of standard noise; use sample".into(),
            &[eps],
        );
        self.graph().poisoned()
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        let g = self.graph();
        let batch = self.batch_shape();
        if !check_value("Bernoulli.log_prob", x, &batch, &Shape::scalar()) {
            return g.poisoned();
        }
        let full = x.shape().broadcast_with(&batch).unwrap_or(batch);
        match self.param {
            Param::Logits(l) => -sigmoid_cross_entropy_with_logits(bcast(l, &full), bcast(x, &full)),
            Param::Probs(p) => {
                // Substitute a harmless argument where the factor in front is 0, so neither
                // the value nor the gradient sees log 0.
                let (zero, one) = (g.scalar(0.0), g.scalar(1.0));
                let p1 = select(greater(x, zero), p, one);
                let p0 = select(less(x, one), p, zero);
                x * log(p1) + (-x + F::one()) * log1p(-p0)
            }
        }
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        let g = self.graph();
        if !check_value("Bernoulli.cdf", x, &self.batch_shape(), &Shape::scalar()) {
            return Some(g.poisoned());
        }
        let (zero, one) = (g.scalar(0.0), g.scalar(1.0));
        let q = self.prob_of_zero();
        Some(select(less(x, zero), zero, select(less(x, one), q, one)))
    }
    fn entropy(&self) -> Tensor<'g, F> {
        match self.param {
            Param::Logits(l) => {
                // 1 − p as σ(−l): rounding 1 − σ(l) loses it once l is large.
                sigmoid(l) * softplus(-l) + sigmoid(-l) * softplus(l)
            }
            Param::Probs(p) => {
                // −p log p − (1−p) log(1−p), guarded as in log_prob so p ∈ {0, 1} gives 0.
                let g = self.graph();
                let (zero, one) = (g.scalar(0.0), g.scalar(1.0));
                let p1 = select(greater(p, zero), p, one);
                let p0 = select(less(p, one), p, zero);
                -(p * log(p1) + (-p + F::one()) * log1p(-p0))
            }
        }
    }
    fn mean(&self) -> Tensor<'g, F> {
        self.probs()
    }
    fn mode(&self) -> Tensor<'g, F> {
        greater(self.probs(), self.graph().scalar(0.5))
    }
    fn stddev(&self) -> Tensor<'g, F> {
        sqrt(self.variance())
    }
    fn variance(&self) -> Tensor<'g, F> {
        self.probs() * self.prob_of_zero()
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::Bernoulli(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.raw().graph()
    }
}

#[cfg(test)]
mod tests {
    use autodiff::testing::{check_grads, Domain, Spec};

    use super::*;
    use crate::test_util::*;

    fn sigmoid64(l: f64) -> f64 {
        1.0 / (1.0 + (-l).exp())
    }

    #[test]
    fn bernoulli_forward_from_logits_is_stable() {
        // log P(x) = x log σ(l) + (1−x) log σ(−l); at l = ∓1000 the likely outcome has log mass
        // −e^{−1000} = −0 and the unlikely one −1000, both without overflow.
        let out = eval_many(|g| {
            let d = Bernoulli::from_logits(g.constant_f64(&[-1000.0, 0.0, 2.0, 1000.0, 1000.0], [5]));
            let x = g.constant_f64(&[0.0, 1.0, 1.0, 0.0, 1.0], [5]);
            vec![d.log_prob(x), d.entropy(), d.mean(), d.variance(), d.mode(), d.cdf(g.scalar(0.5)).unwrap()]
        });
        let sp = |l: f64| (1.0 + l.exp()).ln();
        close(&out[0], &[0.0, -(2f64.ln()), -sp(-2.0), -1000.0, 0.0], 1e-15);
        // H = p softplus(−l) + (1−p) softplus(l); ln 2 at l = 0, 0 at l = ±1000.
        let p2 = sigmoid64(2.0);
        close(&out[1], &[0.0, 2f64.ln(), p2 * sp(-2.0) + (1.0 - p2) * sp(2.0), 0.0, 0.0], 1e-15);
        close(&out[2], &[0.0, 0.5, p2, 1.0, 1.0], 1e-15);
        close(&out[3], &[0.0, 0.25, p2 * (1.0 - p2), 0.0, 0.0], 1e-15);
        close(&out[4], &[0.0, 0.0, 1.0, 1.0, 1.0], 0.0);
        // P(X ≤ ½) = 1 − p.
        close(&out[5], &[1.0, 0.5, 1.0 - p2, 0.0, 0.0], 1e-15);
    }

    #[test]
    fn bernoulli_from_large_logits_keeps_the_unlikely_outcomes_mass() {
        // At l = 40, 1 − p = σ(−40) = 4.248e-18 is below an ulp of 1: computed as 1 − σ(l) it
        // would be 0 (the cdf) or 40× too small (the entropy). H = σ(l) softplus(−l) +
        // σ(−l) softplus(l) by hand in f64.
        let out = eval_many(|g| {
            let d = Bernoulli::from_logits(g.constant_f64(&[40.0, 25.0], [2]));
            vec![d.entropy(), d.cdf(g.scalar(0.5)).unwrap(), d.variance()]
        });
        let sp = |l: f64| if l > 0.0 { l + (-l).exp().ln_1p() } else { l.exp().ln_1p() };
        let h = |l: f64| sigmoid64(l) * sp(-l) + sigmoid64(-l) * sp(l);
        for (k, l) in [40.0, 25.0].into_iter().enumerate() {
            let want = [h(l), sigmoid64(-l), sigmoid64(l) * sigmoid64(-l)];
            for (what, got, want) in
                [("entropy", &out[0], want[0]), ("cdf", &out[1], want[1]), ("variance", &out[2], want[2])]
            {
                assert!((got[k] / want - 1.0).abs() < 1e-14, "{what} at l = {l}: {} vs {want}", got[k]);
            }
        }
    }

    #[test]
    fn bernoulli_forward_from_probs_handles_certain_outcomes() {
        // p ∈ {0, 1} at its atom gives log mass 0 (not 0 · log 0 = NaN), off it −∞.
        let out = eval_many(|g| {
            let d = Bernoulli::from_probs(g.constant_f64(&[0.0, 1.0, 0.25, 0.0, 1.0], [5]));
            let x = g.constant_f64(&[0.0, 1.0, 1.0, 1.0, 0.0], [5]);
            vec![d.log_prob(x), d.cdf(g.constant_f64(&[-1.0, 0.0, 0.0, 1.0, 2.0], [5])).unwrap()]
        });
        let ninf = f64::NEG_INFINITY;
        close(&out[0], &[0.0, 0.0, 0.25f64.ln(), ninf, ninf], 1e-15);
        close(&out[1], &[0.0, 0.0, 0.75, 1.0, 1.0], 0.0);
    }

    #[test]
    fn bernoulli_grad_log_prob_entropy() {
        let x = Spec::new([4]).values(vec![0.0, 1.0, 1.0, 0.0]);
        check_grads(|_, v| Bernoulli::from_logits(v[0]).log_prob(v[1]), &[Spec::new([4]), x], 2);
        check_grads(|_, v| Bernoulli::from_logits(v[0]).entropy(), &[Spec::new([4])], 2);
        // With probabilities, the outcome picks the branch of the guard: a constant here.
        check_grads(
            |g, v| Bernoulli::from_probs(v[0]).log_prob(g.constant_f64(&[0.0, 1.0, 1.0, 0.0], [4])),
            &[Spec::new([4]).domain(Domain::Unit)],
            2,
        );
        check_grads(|_, v| Bernoulli::from_probs(v[0]).entropy(), &[Spec::new([4]).domain(Domain::Unit)], 2);
    }

    #[test]
    fn bernoulli_errors() {
        let e = run_error(|g| {
            let p = g.constant_f64(&[0.5, 1.25], [2]);
            vec![Bernoulli::from_probs(p).validated().mean()]
        });
        assert!(e.contains("Bernoulli: probs must be in [0, 1], got 1.25 at element 1"), "{e}");
        let e = build_error(|g| {
            Bernoulli::from_logits(g.scalar(0.0)).sample_with_noise(g.scalar(0.0));
        });
        assert!(e.contains("Bernoulli.sample_with_noise") && e.contains("discrete"), "{e}");
    }
}
