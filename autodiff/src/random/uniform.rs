//! Uniform noise on `[low, high)`.
//!
//! `f32` draws take 24 random bits, two per 64-bit word, and are computed in `f32` in a loop
//! that vectorizes (run through [`kernels::simd`](crate::kernels::simd)); `f64` draws take 53
//! bits, one word each. `low + (high - low)·u` can round up to `high` (for `[0.5, 1.5)` in `f32`
//! the largest `u` lands on a tie that rounds to even, `1.5`), so draws are clamped below `high`
//! as rounded to the element type.

use std::any::TypeId;

use super::Sampler;
use crate::kernels::simd::{self, Kernel};
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
    fn check(&self) -> Result<(), String> {
        if self.low.is_finite() && self.high.is_finite() && self.low < self.high {
            Ok(())
        } else {
            Err(format!("the interval [low, high) must be finite and non-empty, got [{}, {})", self.low, self.high))
        }
    }
    fn fill(&self, out: &mut [F], rng: &mut CounterRng) {
        if TypeId::of::<F>() == TypeId::of::<f32>() {
            let (low, high) = (self.low as f32, self.high as f32);
            // The largest f32 below `high`, or `low` if rounding left no room.
            let top = high.next_down().max(low);
            simd::run(FillF32 { out, rng, low, width: (self.high - self.low) as f32, top });
        } else {
            let top = self.high.next_down().max(self.low);
            let w = self.high - self.low;
            for v in out {
                *v = F::of((self.low + w * rng.uniform()).min(top));
            }
        }
    }
}

/// Values per batch of the `f32` fill (two per word).
const BATCH: usize = 512;

/// Fills `out` with `low + width·u` for 24-bit uniforms `u`, clamped to `top`.
struct FillF32<'a, F> {
    out: &'a mut [F],
    rng: &'a mut CounterRng,
    low: f32,
    width: f32,
    top: f32,
}

impl<F: Scalar> Kernel for FillF32<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let mut words = [0u64; BATCH / 2];
        let (low, width, top) = (self.low, self.width, self.top);
        for chunk in self.out.chunks_mut(BATCH) {
            // The first half of a batch takes the words' high halves, the second their low.
            let n = chunk.len().div_ceil(2);
            let words = &mut words[..n];
            self.rng.fill_u64(words);
            let (a, b) = chunk.split_at_mut(n);
            for (v, &w) in a.iter_mut().zip(words.iter()) {
                *v = F::of(f64::from(scale_f32((w >> 40) as u32, low, width, top)));
            }
            for (v, &w) in b.iter_mut().zip(words.iter()) {
                *v = F::of(f64::from(scale_f32((w as u32) >> 8, low, width, top)));
            }
        }
    }
}

/// `low + width·(bits·2⁻²⁴)`, at most `top`, for 24 random `bits`.
#[inline(always)]
fn scale_f32(bits: u32, low: f32, width: f32, top: f32) -> f32 {
    let v = low + width * ((bits as i32) as f32 * (1.0 / 16_777_216.0));
    if v > top {
        top
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::fill_blocks;

    /// Mean `(a+b)/2` and variance `(b-a)²/12` of 2²⁰ draws, within 4 standard errors: the
    /// mean's is `σ/√n`, the variance's `√((μ₄ - σ⁴)/n)` with `μ₄ = (b-a)⁴/80`.
    fn check_moments(v: &[f64], a: f64, b: f64) {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
        let s2 = (b - a).powi(2) / 12.0;
        let mu4 = (b - a).powi(4) / 80.0;
        assert!((m - (a + b) / 2.0).abs() < 4.0 * (s2 / n).sqrt(), "mean {m}");
        assert!((var - s2).abs() < 4.0 * ((mu4 - s2 * s2) / n).sqrt(), "variance {var}");
        assert!(v.iter().all(|x| (a..b).contains(x)));
    }

    fn sample<F: Scalar>(u: Uniform, n: usize) -> Vec<f64> {
        let mut out = vec![F::zero(); n];
        fill_blocks(&u, &mut out, 3, 5, 0);
        out.into_iter().map(F::to_f64_lossless).collect()
    }

    #[test]
    fn uniform_moments_f32_and_f64() {
        let u = Uniform { low: -1.0, high: 3.0 };
        check_moments(&sample::<f32>(u, 1 << 20), -1.0, 3.0);
        check_moments(&sample::<f64>(u, 1 << 20), -1.0, 3.0);
    }

    #[test]
    fn uniform_never_reaches_high() {
        // [0.5, 1.5): the largest 24-bit u gives 0.5 + (1 - 2⁻²⁴) = 1.5 - 2⁻²⁴, a tie between
        // 1.5 - 2⁻²³ and 1.5 that rounds to the even 1.5; the clamp returns 1.5 - 2⁻²³.
        assert_eq!(scale_f32(0x00ff_ffff, 0.5, 1.0, 1.5f32.next_down()), 1.5f32.next_down());
        assert_eq!(scale_f32(0, 0.5, 1.0, 1.5f32.next_down()), 0.5);
        // Through the sampler, in both types.
        let u = Uniform { low: 0.5, high: 1.5 };
        assert!(sample::<f32>(u, 1 << 16).iter().all(|x| (0.5..1.5).contains(x)));
        assert!(sample::<f64>(u, 1 << 16).iter().all(|x| (0.5..1.5).contains(x)));
        // A range narrower than an f32 ulp: every draw is low.
        let tiny = Uniform { low: 1.0, high: 1.0 + 1e-9 };
        assert!(sample::<f32>(tiny, 100).iter().all(|&x| x == 1.0));
    }

    #[test]
    fn uniform_f32_dispatched_and_baseline_give_identical_bits() {
        let (mut a, mut b) = (vec![0f32; 5000], vec![0f32; 5000]);
        let (low, width, top) = (-1.0, 4.0, 3f32.next_down());
        simd::run(FillF32 { out: &mut a, rng: &mut CounterRng::new(8), low, width, top });
        simd::run_baseline(FillF32 { out: &mut b, rng: &mut CounterRng::new(8), low, width, top });
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
