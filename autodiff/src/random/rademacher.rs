//! Rademacher signs: `-1` or `+1` with probability ½ each (TFP's `random_rademacher`).

use super::Sampler;
use crate::rng::CounterRng;
use crate::scalar::Scalar;

/// Random signs ±1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rademacher;

impl<F: Scalar> Sampler<F> for Rademacher {
    fn name(&self) -> &'static str {
        "rademacher"
    }
    fn fill(&self, out: &mut [F], rng: &mut CounterRng) {
        // 64 signs per draw.
        for chunk in out.chunks_mut(64) {
            let bits = rng.next_u64_fast();
            for (i, v) in chunk.iter_mut().enumerate() {
                *v = if (bits >> i) & 1 == 1 { F::one() } else { -F::one() };
            }
        }
    }
}
