//! Uniform noise on `[low, high)`.

use super::Sampler;
use crate::rng::CounterRng;
use crate::scalar::Scalar;

/// Uniform noise on `[low, high)`.
#[derive(Debug, Clone, Copy)]
pub struct Uniform {
    /// Inclusive lower bound.
    pub low: f64,
    /// Exclusive upper bound.
    pub high: f64,
}

impl Default for Uniform {
    fn default() -> Self {
        Uniform { low: 0.0, high: 1.0 }
    }
}

impl<F: Scalar> Sampler<F> for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
    }
    fn fill(&self, out: &mut [F], rng: &mut CounterRng) {
        let w = self.high - self.low;
        for v in out {
            *v = F::of(self.low + w * rng.uniform());
        }
    }
}
