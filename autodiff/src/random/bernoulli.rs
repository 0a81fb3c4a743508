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
    fn check(&self) -> Result<(), String> {
        if (0.0..=1.0).contains(&self.p) {
            Ok(())
        } else {
            Err(format!("the probability p must be in [0, 1], got {}", self.p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::fill_blocks;

    #[test]
    fn bernoulli_frequency_and_extremes() {
        // 2^20 draws at p = 0.3: the frequency is within 4 binomial standard errors √(p(1-p)/n).
        let n = 1 << 20;
        let mut v = vec![0f32; n];
        fill_blocks(&Bernoulli { p: 0.3 }, &mut v, 1, 2, 3);
        assert!(v.iter().all(|&x| x == 0.0 || x == 1.0));
        let freq = v.iter().sum::<f32>() as f64 / n as f64;
        assert!((freq - 0.3).abs() < 4.0 * (0.3 * 0.7 / n as f64).sqrt(), "{freq}");
        // u ∈ [0, 1): p = 0 never fires, p = 1 always does.
        let mut v = vec![0f64; 5000];
        fill_blocks(&Bernoulli { p: 0.0 }, &mut v, 1, 2, 3);
        assert!(v.iter().all(|&x| x == 0.0));
        fill_blocks(&Bernoulli { p: 1.0 }, &mut v, 1, 2, 3);
        assert!(v.iter().all(|&x| x == 1.0));
    }
}
