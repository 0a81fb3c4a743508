//! Standard normal noise, `N(0, 1)`, by the Box–Muller transform: a pair of uniforms `(u, θ)`
//! gives the independent pair `r·(cos θ, sin θ)` with `r = √(-2 ln u)`.
//!
//! Speed: a Bayesian layer draws one normal per weight per step, so the sampler works in
//! batches that the compiler vectorizes. The words of a batch come from
//! [`CounterRng::fill_u64`], and `ln`, `sin` and `cos` are polynomials in plain `+ - × ÷` and
//! `sqrt`, with no branches and no calls into libm. `f32` draws are computed in `f32` from one
//! 64-bit word per pair; `f64` draws in `f64` from two words per pair. The loops run through
//! [`kernels::simd`](crate::kernels::simd), which uses AVX2 when the CPU has it.
//!
//! Portability: every step is IEEE arithmetic with one rounding (no fused multiply-add, which
//! Rust never introduces on its own), so the stream is the same on every platform and for every
//! instruction set the loops are compiled for. No intermediate is subnormal (the smallest,
//! `x⁴` for the smallest nonzero angle, is about `5e-36` in `f32`), so the flush-to-zero mode
//! that sessions set does not change the bits either.
//!
//! The bits (`f32`: one word per pair; `f64`: a radius word and an angle word):
//! * radius, `f32`: the top 31 bits `a` give `u = (a + ½)·2⁻³¹`, computed as `a·2⁻³¹ + 2⁻³²`
//!   and so rounded to `f32` (to `1` for the largest `a`, giving `r = 0`). `f64`: the top 52
//!   bits give `u = (a + ½)·2⁻⁵²` exactly. `u` is never `0`: `r` is at most `√(64 ln 2) ≈ 6.66`
//!   (`f64`: `√(106 ln 2) ≈ 8.57`), where the tail of `r` beyond the last grid step lands, so
//!   `|z|` never exceeds it; the normal's mass out there is `3e-11` (`f64`: `1e-17`).
//! * angle: the low 32 bits `t` (`f64`: bits 10 to 63) pick a point of the circle without a
//!   range reduction: bit 31 (63) flips the sign of `cos x`, bit 30 (62) swaps it with `sin x`,
//!   and the bits below give `x` uniform on `[-π/4, π/4)`. The four cones `x`, `π - x`,
//!   `π/2 - x` and `x - π/2` tile the circle, so the angle is uniform.
//!
//! Accuracy: `ln`, `sin` and `cos` are within 1 ulp on the tests' grids, `f32` against `f64`
//! arithmetic (worst seen: `ln` 0.95 ulp, `sin`/`cos` 0.78 ulp) and `f64` against libm (itself
//! within an ulp). The polynomials are minimax fits (Remez exchange, relative error) on:
//! `sin x = x + x³P(x²)` and `cos x = 1 - x²/2 + x⁴Q(x²)` on `|x| ≤ π/4`, and
//! `ln(1+f) = f - s·(f - s²L(s²))` with `s = f/(2+f)` on `1+f ∈ [√½, √2)`; design errors are
//! `2⁻²⁸` (`f32`) and below `2⁻⁵⁷` (`f64`).
//!
//! Layout: a batch of `2n` values holds the `r cos θ` of its `n` pairs in the first half and the
//! `r sin θ` in the second.

use std::any::TypeId;
use std::f32::consts::FRAC_PI_2 as FRAC_PI_2_F32;
use std::f64::consts::FRAC_PI_2;

use super::Sampler;
use crate::kernels::simd::{self, Kernel};
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
        if TypeId::of::<F>() == TypeId::of::<f32>() {
            simd::run(FillF32 { out, rng });
        } else {
            simd::run(FillF64 { out, rng });
        }
    }
}

/// Pairs per batch: the words of a batch live on the stack.
const PAIRS: usize = 256;

/// Fills `out` with normals computed in `f32` (`F` is `f32`, so the conversions vanish).
struct FillF32<'a, F> {
    out: &'a mut [F],
    rng: &'a mut CounterRng,
}

impl<F: Scalar> Kernel for FillF32<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let mut words = [0u64; PAIRS];
        let (mut hi, mut lo) = ([0u32; PAIRS], [0u32; PAIRS]);
        for chunk in self.out.chunks_mut(2 * PAIRS) {
            let pairs = chunk.len().div_ceil(2);
            let words = &mut words[..pairs];
            self.rng.fill_u64(words);
            // Split the words so that the transform's loop is all 32-bit lanes.
            for ((&w, h), l) in words.iter().zip(&mut hi).zip(&mut lo) {
                (*h, *l) = ((w >> 32) as u32, w as u32);
            }
            let (zc, zs) = chunk.split_at_mut(pairs);
            normals_f32(&hi[..pairs], &lo[..pairs], zc, zs);
        }
    }
}

/// Fills `out` with normals computed in `f64` (`F` is `f64`).
struct FillF64<'a, F> {
    out: &'a mut [F],
    rng: &'a mut CounterRng,
}

impl<F: Scalar> Kernel for FillF64<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let mut words = [0u64; 2 * PAIRS];
        for chunk in self.out.chunks_mut(2 * PAIRS) {
            let pairs = chunk.len().div_ceil(2);
            let words = &mut words[..2 * pairs];
            self.rng.fill_u64(words);
            let (radius, angle) = words.split_at(pairs);
            let (zc, zs) = chunk.split_at_mut(pairs);
            normals_f64(radius, angle, zc, zs);
        }
    }
}

/// One normal pair per word, given as its high and low halves: `zc[i] = r cos θ` and
/// `zs[i] = r sin θ`. `zs` may be one shorter than `zc` (an odd fill).
#[inline(always)]
fn normals_f32<F: Scalar>(hi: &[u32], lo: &[u32], zc: &mut [F], zs: &mut [F]) {
    let n = zs.len();
    for (((&h, &l), c), s) in hi.iter().zip(lo).zip(zc.iter_mut()).zip(zs) {
        let (a, b) = pair_f32(h, l);
        (*c, *s) = (F::of(f64::from(a)), F::of(f64::from(b)));
    }
    if let Some(c) = zc.get_mut(n) {
        *c = F::of(f64::from(pair_f32(hi[n], lo[n]).0));
    }
}

/// One normal pair per radius word and angle word, as [`normals_f32`].
#[inline(always)]
fn normals_f64<F: Scalar>(radius: &[u64], angle: &[u64], zc: &mut [F], zs: &mut [F]) {
    let n = zs.len();
    for (((&wr, &wa), c), s) in radius.iter().zip(angle).zip(zc.iter_mut()).zip(zs) {
        let (a, b) = pair_f64(wr, wa);
        (*c, *s) = (F::of(a), F::of(b));
    }
    if let Some(c) = zc.get_mut(n) {
        *c = F::of(pair_f64(radius[n], angle[n]).0);
    }
}

/// `2⁻³¹` and `2⁻³²`.
const TWO_M31: f32 = 1.0 / 2_147_483_648.0;
const TWO_M32: f32 = TWO_M31 / 2.0;
/// A quarter turn over 2³² steps.
const STEP_F32: f32 = FRAC_PI_2_F32 / 4_294_967_296.0;
/// `2⁵²`, whose ulp is 1: `2⁵² + m` for an integer `m < 2⁵²` has `m` as its mantissa bits.
const TWO_P52: f64 = 4_503_599_627_370_496.0;
/// A quarter turn over 2⁵² steps.
const STEP_F64: f64 = FRAC_PI_2 / TWO_P52;

/// The Box–Muller pair of one word given as its high and low halves, in `f32` (see the module
/// docs for the bits).
#[inline(always)]
fn pair_f32(hi: u32, t: u32) -> (f32, f32) {
    // Radius: `(a + ½)·2⁻³¹` with `a` the top 31 bits.
    let u = ((hi >> 1) as i32) as f32 * TWO_M31 + TWO_M32;
    let r = (-2.0 * ln_f32(u)).sqrt();
    // Angle: bits 0..29 of `t` as a signed fraction of a quarter turn.
    let x = ((t << 2) as i32) as f32 * STEP_F32;
    let (s, c) = sin_cos_f32(x);
    let (rc, rs) = ((r * c).to_bits() ^ (t & 0x8000_0000), (r * s).to_bits());
    let swap = 0u32.wrapping_sub((t >> 30) & 1);
    (f32::from_bits((rc & !swap) | (rs & swap)), f32::from_bits((rs & !swap) | (rc & swap)))
}

/// The Box–Muller pair of a radius word and an angle word, in `f64`.
#[inline(always)]
fn pair_f64(wr: u64, wa: u64) -> (f64, f64) {
    // Integers below 2⁵² convert exactly through the mantissa of 2⁵² + m, which vectorizes
    // (converting a 64-bit integer does not, before AVX-512).
    let int52 = |m: u64| f64::from_bits(TWO_P52.to_bits() | m) - TWO_P52;
    // Radius: `(a + ½)·2⁻⁵²` with `a` the top 52 bits, exact.
    let u = (int52(wr >> 12) + 0.5) * (1.0 / TWO_P52);
    let r = (-2.0 * ln_f64(u)).sqrt();
    // Angle: bits 10..61 as a signed fraction of a quarter turn.
    let x = (int52((wa >> 10) & 0x000f_ffff_ffff_ffff) - 0.5 * TWO_P52) * STEP_F64;
    let (s, c) = sin_cos_f64(x);
    let (rc, rs) = ((r * c).to_bits() ^ (wa & (1 << 63)), (r * s).to_bits());
    let swap = 0u64.wrapping_sub((wa >> 62) & 1);
    (f64::from_bits((rc & !swap) | (rs & swap)), f64::from_bits((rs & !swap) | (rc & swap)))
}

/// `sin x = x + x³P(x²)` on `|x| ≤ π/4`.
const SIN_F32: [f32; 3] = [-1.6666655e-1, 8.33216e-3, -1.9515282e-4];
/// `cos x = 1 - x²/2 + x⁴Q(x²)` on `|x| ≤ π/4`.
const COS_F32: [f32; 3] = [4.1666646e-2, -1.3887316e-3, 2.4433157e-5];
/// `ln(1+f) = f - s·(f - zL(z))`, `s = f/(2+f)`, `z = s²`, on `1+f ∈ [√½, √2)`.
const LN_F32: [f32; 3] = [6.6666776e-1, 3.9977574e-1, 2.987094e-1];
/// `ln 2` split so that `k·LN2_HI` is exact for `|k| < 2⁹` (15 significant bits).
const LN2_HI_F32: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO_F32: f32 = 1.4286068e-6;
/// The bits of `√½` rounded to `f32`.
const SQRT_HALF_F32: u32 = 0x3f35_04f3;

const SIN_F64: [f64; 6] = [
    -0.1666666666666663,
    0.008333333333322118,
    -0.00019841269829589433,
    2.7557313621348605e-6,
    -2.5050747756951264e-8,
    1.5896229808970433e-10,
];
const COS_F64: [f64; 6] = [
    0.041666666666666595,
    -0.0013888888888873056,
    2.4801587288851602e-5,
    -2.755731417926634e-7,
    2.0875700837736898e-9,
    -1.1358536296675807e-11,
];
const LN_F64: [f64; 7] = [
    0.6666666666666734,
    0.3999999999941637,
    0.28571428742016763,
    0.22222198610646343,
    0.18183562412796786,
    0.15314098624909683,
    0.14795477416148817,
];
/// `ln 2` split so that `k·LN2_HI` is exact for `|k| < 2³²` (21 significant bits).
const LN2_HI_F64: f64 = f64::from_bits(0x3fe6_2e42_0000_0000);
const LN2_LO_F64: f64 = 4.7493250390316726e-7;
/// The bits of `√½` rounded to `f64`.
const SQRT_HALF_F64: u64 = 0x3fe6_a09e_667f_3bcd;

/// `(sin x, cos x)` for `|x| ≤ π/4` (slightly beyond is fine).
#[inline(always)]
fn sin_cos_f32(x: f32) -> (f32, f32) {
    let z = x * x;
    let s = x + x * z * (SIN_F32[0] + z * (SIN_F32[1] + z * SIN_F32[2]));
    let q = z * z * (COS_F32[0] + z * (COS_F32[1] + z * COS_F32[2]));
    // 1 - z/2 rounds by up to half an ulp where z/2 nears 0.3; its error (1 - w) - z/2 is
    // exact (Fast2Sum, as 1 ≥ z/2) and is added back with q, keeping cos within an ulp.
    let (hz, w) = (0.5 * z, 1.0 - 0.5 * z);
    (s, w + (((1.0 - w) - hz) + q))
}

/// `(sin x, cos x)` for `|x| ≤ π/4` (slightly beyond is fine).
#[inline(always)]
fn sin_cos_f64(x: f64) -> (f64, f64) {
    let z = x * x;
    let [s0, s1, s2, s3, s4, s5] = SIN_F64;
    let [c0, c1, c2, c3, c4, c5] = COS_F64;
    let s = x + x * z * (s0 + z * (s1 + z * (s2 + z * (s3 + z * (s4 + z * s5)))));
    let q = z * z * (c0 + z * (c1 + z * (c2 + z * (c3 + z * (c4 + z * c5)))));
    let (hz, w) = (0.5 * z, 1.0 - 0.5 * z);
    (s, w + (((1.0 - w) - hz) + q))
}

/// Natural log of a positive normal `f32` (no checks: zero, subnormals, infinities and NaN give
/// garbage). `x = 2ᵏ(1+f)` with `1+f ∈ [√½, √2)`, read off the bits.
#[inline(always)]
fn ln_f32(x: f32) -> f32 {
    // Subtracting √½'s bits makes the exponent field k and leaves the mantissa's offset from √½.
    let ix = x.to_bits().wrapping_sub(SQRT_HALF_F32);
    let k = ((ix as i32) >> 23) as f32;
    let f = f32::from_bits((ix & 0x007f_ffff) + SQRT_HALF_F32) - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let l = z * (LN_F32[0] + z * (LN_F32[1] + z * LN_F32[2]));
    // ln(1+f) = 2 atanh(s) = 2s + s·l = f - s·(f - l), as 2s = f - sf: the leading term f is
    // exact and the rounded correction is at most a fifth of the result.
    k * LN2_HI_F32 + (k * LN2_LO_F32 + (f - s * (f - l)))
}

/// Natural log of a positive normal `f64` (no checks, as [`ln_f32`]).
#[inline(always)]
fn ln_f64(x: f64) -> f64 {
    let ix = x.to_bits().wrapping_sub(SQRT_HALF_F64);
    // |k| < 2¹¹, so i32 (whose conversion vectorizes) holds it.
    let k = f64::from(((ix as i64) >> 52) as i32);
    let f = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + SQRT_HALF_F64) - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let [l0, l1, l2, l3, l4, l5, l6] = LN_F64;
    let l = z * (l0 + z * (l1 + z * (l2 + z * (l3 + z * (l4 + z * (l5 + z * l6))))));
    k * LN2_HI_F64 + (k * LN2_LO_F64 + (f - s * (f - l)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::special::erfc;
    use crate::random::fill_blocks;

    /// Distance from `got` to `want` in units of the `f32` ulp at `want`.
    fn ulps_f32(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if w == 0.0 {
            return if got == 0.0 { 0.0 } else { f64::INFINITY };
        }
        let ulp = (w.abs().next_up() - w.abs()) as f64;
        (got as f64 - want).abs() / ulp
    }

    /// Distance from `got` to `want` in units of the `f64` ulp at `want`.
    fn ulps_f64(got: f64, want: f64) -> f64 {
        if want == 0.0 {
            return if got == 0.0 { 0.0 } else { f64::INFINITY };
        }
        (got - want).abs() / (want.abs().next_up() - want.abs())
    }

    #[test]
    fn ln_f32_within_one_ulp() {
        // Every float in [½, 2) (where the result is smallest relative to its terms) and a
        // stride over all positive normals, against f64's ln rounded to nothing.
        let near_one = (0.5f32.to_bits()..2.0f32.to_bits()).map(f32::from_bits);
        let all = (f32::MIN_POSITIVE.to_bits()..f32::MAX.to_bits()).step_by(101).map(f32::from_bits);
        let mut worst = (0.0, 0.0f32);
        for x in near_one.chain(all) {
            let e = ulps_f32(ln_f32(x), (x as f64).ln());
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 1.0, "ln_f32 error {} ulp at {:e}", worst.0, worst.1);
        assert_eq!(ln_f32(1.0), 0.0);
    }

    #[test]
    fn sin_cos_f32_within_one_ulp() {
        // The angles the sampler forms, a stride of 2⁹ steps over [-π/4, π/4).
        let mut worst = (0.0, 0.0f32);
        for j in (i32::MIN..=i32::MAX).step_by(1 << 9) {
            let x = j as f32 * STEP_F32;
            let (s, c) = sin_cos_f32(x);
            let e = ulps_f32(s, (x as f64).sin()).max(ulps_f32(c, (x as f64).cos()));
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 1.0, "sin_cos_f32 error {} ulp at {:e}", worst.0, worst.1);
        assert_eq!(sin_cos_f32(0.0), (0.0, 1.0));
    }

    #[test]
    fn ln_f64_within_one_ulp() {
        // Dense near 1 and a stride over all positive normals, against libm (itself within an ulp).
        let near_one = (0..1 << 22).map(|i| 0.5 + i as f64 * (1.5 / (1 << 22) as f64));
        let all = (f64::MIN_POSITIVE.to_bits()..f64::MAX.to_bits()).step_by(1 << 42 | 12_345).map(f64::from_bits);
        let mut worst = (0.0, 0.0);
        for x in near_one.chain(all) {
            let e = ulps_f64(ln_f64(x), x.ln());
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 1.0, "ln_f64 error {} ulp at {:e}", worst.0, worst.1);
        assert_eq!(ln_f64(1.0), 0.0);
    }

    #[test]
    fn sin_cos_f64_within_one_ulp() {
        // The angles the sampler forms, a stride of about 2²⁹ steps over [-π/4, π/4).
        let mut worst = (0.0, 0.0);
        for j in (-(1i64 << 51)..1 << 51).step_by((1 << 29) + 12_345) {
            let x = j as f64 * STEP_F64;
            let (s, c) = sin_cos_f64(x);
            let e = ulps_f64(s, x.sin()).max(ulps_f64(c, x.cos()));
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 1.0, "sin_cos_f64 error {} ulp at {:e}", worst.0, worst.1);
        assert_eq!(sin_cos_f64(0.0), (0.0, 1.0));
    }

    fn pair_f32_word(w: u64) -> (f32, f32) {
        pair_f32((w >> 32) as u32, w as u32)
    }

    /// The pair of a word by libm's `f64` functions, for the same uniforms and cones.
    fn reference_pair(u: f64, x: f64, flip: bool, swap: bool) -> (f64, f64) {
        let r = (-2.0 * u.ln()).sqrt();
        let (c, s) = (if flip { -x.cos() } else { x.cos() }, x.sin());
        if swap {
            (r * s, r * c)
        } else {
            (r * c, r * s)
        }
    }

    /// Words whose radius and angle bits hit the ends of their ranges, and a spread between.
    fn probe_words() -> Vec<u64> {
        let ends = [0u64, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX as u64, 0x5555_5555, 0xaaaa_aaaa];
        let mut words: Vec<u64> = Vec::new();
        for hi in ends {
            for lo in ends {
                words.push(hi << 32 | lo);
            }
        }
        let mut rng = CounterRng::new(3);
        words.extend((0..100_000).map(|_| rng.next_u64_fast()));
        words
    }

    #[test]
    fn pair_f32_matches_f64_box_muller() {
        for w in probe_words() {
            let (z0, z1) = pair_f32_word(w);
            let u = f64::from(((w >> 33) as i32) as f32 * TWO_M31 + TWO_M32);
            let x = f64::from(((w as u32) << 2) as i32) * f64::from(STEP_F32);
            let (r0, r1) = reference_pair(u, x, w & (1 << 31) != 0, w & (1 << 30) != 0);
            let r = r0.hypot(r1);
            // Same u; then ln, sqrt, sin/cos and the products round in f32: a few ulps of r.
            let tol = 4.0 * f32::EPSILON as f64 * r;
            assert!(
                (z0 as f64 - r0).abs() <= tol && (z1 as f64 - r1).abs() <= tol,
                "{w:#x}: ({z0}, {z1}) vs ({r0}, {r1})"
            );
        }
    }

    #[test]
    fn pair_f64_matches_libm_box_muller_to_1e_15() {
        let words = probe_words();
        for (&wr, &wa) in words.iter().zip(words.iter().rev()) {
            let (z0, z1) = pair_f64(wr, wa);
            let u = ((wr >> 12) as f64 + 0.5) / TWO_P52;
            let x = (((wa >> 10) & 0x000f_ffff_ffff_ffff) as f64 - 0.5 * TWO_P52) * STEP_F64;
            let (r0, r1) = reference_pair(u, x, wa & (1 << 63) != 0, wa & (1 << 62) != 0);
            let tol = 1e-15 * r0.hypot(r1);
            assert!((z0 - r0).abs() <= tol && (z1 - r1).abs() <= tol, "{wr:#x} {wa:#x}: ({z0}, {z1}) vs ({r0}, {r1})");
        }
    }

    #[test]
    fn extreme_uniforms_stay_finite() {
        // Angle bits 0 (f32) and 2⁶¹ (f64) give x = 0: the pair is (r, 0).
        // a = 0: u = 2⁻³², the largest radius √(-2 ln 2⁻³²) = √(64 ln 2).
        let r_max = (64.0 * std::f64::consts::LN_2).sqrt();
        let (z0, z1) = pair_f32(0, 0);
        assert!((z0 as f64 - r_max).abs() < 1e-5 && z1 == 0.0, "({z0}, {z1})");
        // a = 2³¹ - 2⁷: u = 1 - 2⁻²⁴, the largest below 1; r = √(-2 ln(1 - 2⁻²⁴)) ≈ √(2⁻²³).
        let (z0, z1) = pair_f32(0xffff_ff00, 0);
        let r_min = 2f64.powi(-23).sqrt();
        assert!((z0 as f64 - r_min).abs() < 4e-7 * r_min && z1 == 0.0, "({z0}, {z1})");
        // The largest a: u rounds to 1, so r = 0 in every cone.
        for t in [0, 0x4000_0000, 0x8000_0000, 0xc000_0000, u32::MAX] {
            assert_eq!(pair_f32(u32::MAX, t), (0.0, 0.0));
        }
        // f64: a = 0 gives u = 2⁻⁵³, r = √(106 ln 2); the largest a gives u = 1 - 2⁻⁵³,
        // r = √(-2 ln(1 - 2⁻⁵³)) ≈ 2⁻²⁶.
        let r_max64 = (106.0 * std::f64::consts::LN_2).sqrt();
        let (z0, z1) = pair_f64(0, 1 << 61);
        assert!((z0 - r_max64).abs() < 1e-14 && z1 == 0.0, "({z0}, {z1})");
        let (z0, z1) = pair_f64(u64::MAX, 1 << 61);
        assert!((z0 - 2f64.powi(-26)).abs() < 1e-15 * 2f64.powi(-26) && z1 == 0.0, "({z0}, {z1})");
        for w in probe_words() {
            let (a, b) = pair_f32_word(w);
            let (c, d) = pair_f64(w, w.rotate_left(17));
            assert!(a.is_finite() && b.is_finite() && c.is_finite() && d.is_finite(), "{w:#x}");
            assert!(a.abs().max(b.abs()) as f64 <= r_max + 1e-5 && c.abs().max(d.abs()) <= r_max64 + 1e-12);
        }
    }

    fn sample<F: Scalar>(n: usize, seed: u64) -> Vec<f64> {
        let mut out = vec![F::zero(); n];
        fill_blocks(&StandardNormal, &mut out, seed, 11, 0);
        out.into_iter().map(F::to_f64_lossless).collect()
    }

    /// Mean, variance, skewness and excess kurtosis of 2²⁰ draws, each within 4 standard errors
    /// of N(0, 1)'s `(0, 1, 0, 0)`: the standard errors are `√(1/n)`, `√(2/n)`, `√(6/n)` and
    /// `√(24/n)`.
    fn check_moments(z: &[f64]) {
        let n = z.len() as f64;
        let m = z.iter().sum::<f64>() / n;
        let c = |p: i32| z.iter().map(|x| (x - m).powi(p)).sum::<f64>() / n;
        let (var, skew, kurt) = (c(2), c(3) / c(2).powf(1.5), c(4) / (c(2) * c(2)) - 3.0);
        assert!(m.abs() < 4.0 * (1.0 / n).sqrt(), "mean {m}");
        assert!((var - 1.0).abs() < 4.0 * (2.0 / n).sqrt(), "variance {var}");
        assert!(skew.abs() < 4.0 * (6.0 / n).sqrt(), "skewness {skew}");
        assert!(kurt.abs() < 4.0 * (24.0 / n).sqrt(), "excess kurtosis {kurt}");
        assert!(z.iter().all(|x| x.is_finite()));
    }

    /// The normal CDF Φ(x) = erfc(-x/√2)/2.
    fn phi(x: f64) -> f64 {
        0.5 * erfc(-x / std::f64::consts::SQRT_2)
    }

    /// Kolmogorov–Smirnov statistic √n·D below 1.63, the 1% critical value.
    fn check_ks(z: &[f64]) {
        let mut z = z.to_vec();
        z.sort_by(f64::total_cmp);
        let n = z.len() as f64;
        let d = z
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let p = phi(x);
                (p - i as f64 / n).max((i + 1) as f64 / n - p)
            })
            .fold(0.0, f64::max);
        assert!(d * n.sqrt() < 1.63, "KS statistic √n·D = {}", d * n.sqrt());
    }

    /// P(|z| > 3) and P(|z| > 4) within 4 binomial standard errors √(p(1-p)/n).
    fn check_tails(z: &[f64]) {
        let n = z.len() as f64;
        for t in [3.0, 4.0] {
            let p = 2.0 * phi(-t);
            let freq = z.iter().filter(|x| x.abs() > t).count() as f64 / n;
            let se = (p * (1.0 - p) / n).sqrt();
            assert!((freq - p).abs() < 4.0 * se, "P(|z| > {t}) = {freq}, want {p} ± {se}");
        }
    }

    #[test]
    fn standard_normal_f32_moments_ks_and_tails() {
        let z = sample::<f32>(1 << 20, 1);
        check_moments(&z);
        check_ks(&z);
        check_tails(&z);
    }

    #[test]
    fn standard_normal_f64_moments_ks_and_tails() {
        let z = sample::<f64>(1 << 20, 2);
        check_moments(&z);
        check_ks(&z);
        check_tails(&z);
    }

    #[test]
    fn the_two_halves_of_a_batch_are_uncorrelated() {
        // The cos and sin of one pair land PAIRS apart; Box–Muller makes them independent.
        let z = sample::<f32>(1 << 20, 3);
        let n = (z.len() / 2) as f64;
        let rho: f64 =
            z.chunks_exact(2 * PAIRS).flat_map(|b| b[..PAIRS].iter().zip(&b[PAIRS..]).map(|(a, b)| a * b)).sum::<f64>()
                / n;
        assert!(rho.abs() < 4.0 / n.sqrt(), "correlation {rho}");
    }

    #[test]
    fn parallel_and_serial_fill_give_identical_bits() {
        let n = 3 * crate::kernels::PAR_MIN + 1234;
        let mut par = vec![0f32; n];
        fill_blocks(&StandardNormal, &mut par, 9, 4, 2);
        let mut ser = vec![0f32; n];
        crate::kernels::serial(|| fill_blocks(&StandardNormal, &mut ser, 9, 4, 2));
        assert!(par.iter().zip(&ser).all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut par = vec![0f64; n];
        fill_blocks(&StandardNormal, &mut par, 9, 4, 2);
        let mut ser = vec![0f64; n];
        crate::kernels::serial(|| fill_blocks(&StandardNormal, &mut ser, 9, 4, 2));
        assert!(par.iter().zip(&ser).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn dispatched_and_baseline_fills_give_identical_bits() {
        // On a CPU with AVX2 `simd::run` takes the AVX2 build of the same loops.
        let (mut a, mut b) = (vec![0f32; 3 * PAIRS + 7], vec![0f32; 3 * PAIRS + 7]);
        simd::run(FillF32 { out: &mut a, rng: &mut CounterRng::new(5) });
        simd::run_baseline(FillF32 { out: &mut b, rng: &mut CounterRng::new(5) });
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        let (mut a, mut b) = (vec![0f64; 3 * PAIRS + 7], vec![0f64; 3 * PAIRS + 7]);
        simd::run(FillF64 { out: &mut a, rng: &mut CounterRng::new(5) });
        simd::run_baseline(FillF64 { out: &mut b, rng: &mut CounterRng::new(5) });
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn flush_to_zero_does_not_change_the_bits() {
        let fill = || {
            let (mut a, mut b) = (vec![0f32; 5000], vec![0f64; 5000]);
            StandardNormal.fill(&mut a, &mut CounterRng::new(6));
            StandardNormal.fill(&mut b, &mut CounterRng::new(6));
            (
                a.iter().map(|x| x.to_bits() as u64).collect::<Vec<_>>(),
                b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            )
        };
        let plain = fill();
        let saved = crate::kernels::ftz::enable();
        let flushed = fill();
        crate::kernels::ftz::restore(saved);
        assert_eq!(plain, flushed);
        // The smallest nonzero angle's x⁴ (in cos) and x³ (in sin) are normal floats.
        let x = 4.0 * STEP_F32;
        assert!((x * x * x * x).is_normal() && (x * x * x).is_normal());
    }

    #[test]
    fn short_and_odd_fills_draw_their_pairs_in_order() {
        // A fill of length 2k+1 uses k+1 words; the first k+1 values are the cosines.
        for len in [1, 2, 3, 7, 511, 512, 513, 4095] {
            let mut out = vec![0f32; len];
            let mut rng = CounterRng::new(77);
            StandardNormal.fill(&mut out, &mut rng);
            let mut words = CounterRng::new(77);
            let first = pair_f32_word(words.next_u64_fast());
            assert_eq!(out[0].to_bits(), first.0.to_bits(), "len {len}");
            if len > 1 {
                let k = len.min(2 * PAIRS).div_ceil(2);
                assert_eq!(out[k].to_bits(), first.1.to_bits(), "len {len}");
            }
            assert!(out.iter().all(|x| x.is_finite()));
            // The generator moved past exactly the words it used.
            let used = (len / (2 * PAIRS)) * PAIRS + (len % (2 * PAIRS)).div_ceil(2);
            let mut expect = CounterRng::new(77);
            let mut skip = vec![0u64; used];
            expect.fill_u64(&mut skip);
            assert_eq!(rng.next_u64_fast(), expect.next_u64_fast(), "len {len}");
        }
    }
}
