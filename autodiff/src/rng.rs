//! Counter-based random numbers: every value is a pure function of
//! `(seed, key, step, block, index)`, so any run can be replayed and parallel filling gives the
//! same bits as serial filling.
//!
//! The generator is SplitMix64 over a counter: `next = mix(base + i * γ)`. Each block of
//! [`BLOCK`] values gets its own base derived by mixing the seed, the node's key (a hash of its
//! scope and salt), the run's step and the block index. The stream never depends on `rand`'s
//! `StdRng`, whose algorithm may change between versions.

use rand::RngCore;

/// Values per independently keyed block.
pub const BLOCK: usize = 4096;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finalizer: a bijective mix of 64 bits.
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Combines two 64-bit values into a well-mixed key (order matters).
#[inline]
pub fn fold_in(key: u64, data: u64) -> u64 {
    mix64(key ^ mix64(data.wrapping_add(GAMMA)))
}

/// FNV-1a hash of a string, then mixed: the stable key of a random node's salt.
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// The base key of one block of one random node in one run.
#[inline]
pub fn block_key(seed: u64, key: u64, step: u64, block: u64) -> u64 {
    fold_in(fold_in(fold_in(seed, key), step), block)
}

/// A counter-based generator positioned at the start of one block.
#[derive(Clone, Debug)]
pub struct CounterRng {
    base: u64,
    counter: u64,
}

impl CounterRng {
    /// A generator for the given block key.
    pub fn new(key: u64) -> Self {
        CounterRng { base: key, counter: 0 }
    }
    /// A generator keyed from a seed and a string (e.g. a parameter path).
    pub fn from_seed_and_path(seed: u64, path: &str) -> Self {
        CounterRng::new(fold_in(seed, hash_str(path)))
    }
    /// The next 64 random bits.
    #[inline(always)]
    pub fn next_u64_fast(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        mix64(self.base.wrapping_add(self.counter.wrapping_mul(GAMMA)))
    }
    /// Fills `out` with the next `out.len()` words of the stream, the values `out.len()` calls
    /// of [`next_u64_fast`](Self::next_u64_fast) would return. Each word depends only on its
    /// counter, so the loop vectorizes (always inlined, so that it is compiled for the
    /// instruction set of its caller, see [`kernels::simd`](crate::kernels::simd)).
    #[inline(always)]
    pub fn fill_u64(&mut self, out: &mut [u64]) {
        let mut x = self.base.wrapping_add(self.counter.wrapping_mul(GAMMA));
        for v in out.iter_mut() {
            x = x.wrapping_add(GAMMA);
            *v = mix64(x);
        }
        self.counter = self.counter.wrapping_add(out.len() as u64);
    }
    /// A uniform `f64` in `[0, 1)` with 53 random bits.
    #[inline(always)]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64_fast() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// A uniform `f64` in `(0, 1]` (safe to take the log of).
    #[inline(always)]
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64_fast() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

impl RngCore for CounterRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64_fast() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.next_u64_fast()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64_fast().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_moments() {
        let mut r = CounterRng::new(block_key(1, 2, 3, 4));
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            s += u;
            s2 += u * u;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        // standard errors: mean 0.29/sqrt(n) = 6.5e-4; variance ~ 2e-4
        assert!((mean - 0.5).abs() < 4.0 * 6.5e-4, "{mean}");
        assert!((var - 1.0 / 12.0).abs() < 4.0 * 2e-4, "{var}");
    }

    #[test]
    fn fill_u64_continues_the_stream() {
        let mut a = CounterRng::new(block_key(5, 6, 7, 8));
        let mut b = a.clone();
        let mut words = [0u64; 37];
        a.fill_u64(&mut words[..1]);
        a.fill_u64(&mut words[1..]);
        for w in words {
            assert_eq!(w, b.next_u64_fast());
        }
        assert_eq!(a.next_u64_fast(), b.next_u64_fast());
    }

    #[test]
    fn keys_differ_by_every_component() {
        let k = block_key(1, 2, 3, 4);
        assert_ne!(k, block_key(2, 2, 3, 4));
        assert_ne!(k, block_key(1, 3, 3, 4));
        assert_ne!(k, block_key(1, 2, 4, 4));
        assert_ne!(k, block_key(1, 2, 3, 5));
        assert_eq!(k, block_key(1, 2, 3, 4));
    }
}
