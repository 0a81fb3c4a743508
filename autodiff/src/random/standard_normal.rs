//! Standard normal noise, `N(0, 1)`, by the Box–Muller transform (two normals per pair of
//! uniforms). Portable: it depends only on the counter stream and `f64` math.

use std::f64::consts::TAU;

use super::Sampler;
use crate::rng::CounterRng;
use crate::scalar::Scalar;

/// Standard normal noise.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardNormal;

impl<F: Scalar> Sampler<F> for StandardNormal {
    fn name(&self) -> &'static str {
        "standard_normal"
    }
    fn fill(&self, out: &mut [F], rng: &mut CounterRng) {
        let mut pairs = out.chunks_exact_mut(2);
        for p in &mut pairs {
            let (z0, z1) = box_muller(rng);
            p[0] = F::of(z0);
            p[1] = F::of(z1);
        }
        if let [last] = pairs.into_remainder() {
            *last = F::of(box_muller(rng).0);
        }
    }
}

#[inline(always)]
fn box_muller(rng: &mut CounterRng) -> (f64, f64) {
    let r = (-2.0 * rng.uniform_open0().ln()).sqrt();
    let (s, c) = (TAU * rng.uniform()).sin_cos();
    (r * c, r * s)
}
