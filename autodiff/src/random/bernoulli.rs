//! Bernoulli noise: `1` with probability `p`, else `0`.

use super::Sampler;
use crate::rng::CounterRng;
use crate::scalar::Scalar;

/// Bernoulli(p) noise, values in {0, 1}.
#[derive(Debug, Clone, Copy)]
pub struct Bernoulli {
    /// Probability of a one.
    pub p: f64,
}

impl<F: Scalar> Sampler<F> for Bernoulli {
    fn name(&self) -> &'static str {
        "bernoulli"
    }
    fn fill(&self, out: &mut [F], rng: &mut CounterRng) {
        for v in out {
            *v = if rng.uniform() < self.p { F::one() } else { F::zero() };
        }
    }
}
