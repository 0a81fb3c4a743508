//! Random leaves. A [`Sampler`] fills a buffer from counter-based generators; the session
//! keys each block of [`BLOCK`] values separately, so filling in parallel
//! gives the same bits as filling serially. A new distribution is one new file.

use std::fmt::Debug;

use crate::kernels::should_par;
use crate::rng::{block_key, CounterRng, BLOCK};
use crate::scalar::Scalar;
use crate::team::for_each_chunk_mut;

mod bernoulli;
mod rademacher;
mod standard_normal;
mod uniform;

pub use bernoulli::Bernoulli;
pub use rademacher::Rademacher;
pub use standard_normal::StandardNormal;
pub use uniform::Uniform;

/// Fills a random leaf's buffer.
pub trait Sampler<F: Scalar>: Debug + Send + Sync + 'static {
    /// Name used in error messages (e.g. `"standard_normal"`).
    fn name(&self) -> &'static str;
    /// Fills `out` (one block, at most [`BLOCK`] values) from `rng`.
    fn fill(&self, out: &mut [F], rng: &mut CounterRng);
    /// Why the sampler's parameters are unusable, if they are (checked when the leaf is built).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Fills a whole buffer block by block, in parallel above a size threshold.
pub(crate) fn fill_blocks<F: Scalar>(sampler: &dyn Sampler<F>, out: &mut [F], seed: u64, key: u64, step: u64) {
    let go = |(b, chunk): (usize, &mut [F])| {
        let mut rng = CounterRng::new(block_key(seed, key, step, b as u64));
        sampler.fill(chunk, &mut rng);
    };
    if should_par(out.len()) {
        for_each_chunk_mut(out, BLOCK, |b, chunk| go((b, chunk)));
    } else {
        out.chunks_mut(BLOCK).enumerate().for_each(go);
    }
}
