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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::fill_blocks;

    #[test]
    fn rademacher_signs_are_balanced() {
        // 2^20 signs: the mean is within 4 standard errors 1/√n of 0.
        let n = 1 << 20;
        let mut v = vec![0f32; n + 13];
        fill_blocks(&Rademacher, &mut v, 1, 2, 3);
        assert!(v.iter().all(|&x| x == 1.0 || x == -1.0));
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 4.0 / (n as f64).sqrt(), "{mean}");
    }
}
