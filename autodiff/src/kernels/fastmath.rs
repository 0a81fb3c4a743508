//! Branch-free `f32` versions of `exp`, `expm1`, `ln`, `ln_1p`, `tanh`, the logistic sigmoid and
//! softplus that the compiler can inline and vectorize (libm's `expf`/`logf` are opaque calls,
//! one element at a time). The elementwise ops reach them through [`Scalar`](crate::Scalar)'s
//! `*_v` methods; `f64` keeps std's functions there, so gradient checks in `f64` see libm's
//! values.
//!
//! Every function is straight-line code: special inputs (±0, ±∞, NaN, out-of-range arguments)
//! are handled by clamping the argument and selecting the result at the end, never by an early
//! return, so a loop over a slice compiles to vector code with blends.
//!
//! Accuracy: the largest error over every `f32` input, in ulps of the result, against `f64`
//! references (the `exhaustive` test, ignored by default; the regular tests check about 10⁶
//! points per function against a 2 ulp bound, which softplus reaches: it trades accuracy for
//! speed, see [`softplus`]):
//!
//! | exp   | exp_m1 | ln    | ln_1p | tanh  | sigmoid | softplus |
//! |-------|--------|-------|-------|-------|---------|----------|
//! | 0.759 | 0.874  | 0.852 | 0.940 | 1.011 | 0.772   | 1.999    |
//!
//! Results in the subnormal range are rounded once, and subnormal arguments are exact, when the
//! FPU honours subnormals. Under the kernels' flush-to-zero mode (FTZ and DAZ) subnormal results
//! are 0 and subnormal arguments may read as 0, except in `ln`, which reads them from their bits.
//!
//! Methods: `exp` reduces `x = n ln 2 + r` with `|r| <= ln 2 / 2` (Cody–Waite, with a two-part
//! `ln 2`, keeping the rounding error of `r`), evaluates `eʳ - 1 = r + r² P(r)` with a degree-5
//! minimax `P` (relative error 2⁻²⁸·⁸ with the coefficients rounded to `f32`), sums `1 + r` with
//! its rounding error carried, and scales by `2ⁿ` in two steps, so that results near the
//! overflow threshold and in the subnormal range are rounded once. `exp_m1` is the same with
//! `1 - 2⁻ⁿ` in place of 1. `ln` splits `x = 2ᵉ m` with `m` in `[√½, √2)` and evaluates
//! `ln(1 + f) = f - f²/2 + f³ Q(f)` on `f = m - 1` (degree-8 minimax `Q`, relative error
//! 2⁻²⁸·²); `e ln 2 + f` is summed with its rounding error carried, so the cancellation near
//! `x = √2` costs nothing. `ln_1p` runs the same on `u = 1 + x` and adds the rounding error of
//! `u` as a first-order correction. Coefficients were fitted with the Remez exchange algorithm
//! for the relative error of `expm1`, `ln_1p` and `tanh`. The table is for targets with FMA
//! (x86-64 with `target-cpu=native` here); without it the products round separately, and the
//! test grids (built for `x86-64-v2`) stay within 1.1 ulp.

// Minimax coefficients are printed with the digits that identify their f32 values.
#![allow(clippy::excessive_precision)]

/// `a * b + c`, fused where the target has FMA (one rounding, and the hardware instruction);
/// two roundings otherwise.
#[inline(always)]
fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_feature = "fma")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        a * b + c
    }
}

/// `ln 2` split as `LN2_HI + LN2_LO`: `LN2_HI` has 15 significant bits, so `n * LN2_HI` is exact
/// for `|n| < 2⁹`; `LN2_LO` is positive so that the reduction keeps the sign of a zero argument.
const LN2_HI: f32 = 0.693_145_751_953_125;
const LN2_LO: f32 = 1.428_606_765_330_187_045e-6;
/// `1.5 * 2²³`: adding it to a float of magnitude below 2²² rounds it to an integer held in the
/// low mantissa bits.
const ROUND: f32 = 12_582_912.0;
/// exp overflows from `ln(f32::MAX) ≈ 88.7228` on and is below half the smallest subnormal from
/// `≈ -103.973` down; arguments are clamped just outside so that `n` stays in `[-150, 128]`.
const EXP_HI: f32 = 89.0;
const EXP_LO: f32 = -104.0;
/// Below this, `eˣ - 1` rounds to -1 (`eˣ < 2⁻²⁵`).
const EXPM1_LO: f32 = -18.0;

/// `P` in `eʳ - 1 = r + r² P(r)` on `|r| <= ln 2 / 2`, lowest degree first.
const EXP_P: [f32; 6] = [
    0.5,
    0.166_666_656_732_559_2,
    0.041_666_362_434_625_626,
    0.008_333_389_647_305_012,
    0.001_394_061_720_930_04,
    0.000_198_458_772_501_908_24,
];

/// `Q` in `ln(1 + f) = f - f²/2 + f³ Q(f)` on `[√½ - 1, √2 - 1]`, lowest degree first.
const LN_Q: [f32; 9] = [
    0.333_333_134_651_184_1,
    -0.250_000_089_406_967_16,
    0.200_021_192_431_449_9,
    -0.166_679_963_469_505_3,
    0.142_195_522_785_186_77,
    -0.124_055_892_229_080_2,
    0.118_881_620_466_709_14,
    -0.116_756_521_165_370_94,
    0.067_466_415_464_878_08,
];

/// `P` in `ln(1 + t) = t + t² P(t)` on `[0, 1]`, lowest degree first: minimax for the relative
/// error of `ln(1 + t)` (2⁻³⁰ before rounding the coefficients to `f32`, 2⁻²⁵·⁷ after).
const LN_1P_UNIT_P: [f32; 10] = [
    -0.499_999_880_790_710_45,
    0.333_326_905_965_805_05,
    -0.249_885_797_500_610_35,
    0.198_979_318_141_937_26,
    -0.161_293_357_610_702_51,
    0.124_671_213_328_838_35,
    -0.083_074_055_612_087_25,
    0.041_981_350_630_521_774,
    -0.013_631_474_226_713_18,
    0.002_072_946_168_482_303_6,
];

/// `P` in `tanh(x) = x + x³ P(x²)` on `|x| <= 0.75`, lowest degree first.
const TANH_P: [f32; 7] = [
    -0.333_333_313_465_118_4,
    0.133_332_774_043_083_2,
    -0.053_959_582_000_970_84,
    0.021_804_373_711_347_58,
    -0.008_596_692_234_277_725,
    0.002_969_752_531_498_670_6,
    -0.000_632_828_625_384_799_1,
];

/// `2ᵏ` for `k` in `[-126, 127]`, built from the exponent bits.
#[inline(always)]
fn pow2i(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// `x = n ln 2 + r + r_lo` for `x` in `[EXP_LO, EXP_HI]` (or NaN): `(r, r_lo, n)` with
/// `|r| <= ln 2 / 2` and `r_lo` the rounding error of `r` (to first order).
#[inline(always)]
fn exp_reduce(x: f32) -> (f32, f32, i32) {
    let t = fma(x, std::f32::consts::LOG2_E, ROUND);
    let nf = t - ROUND;
    let n = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    // x - n LN2_HI is exact (Sterbenz: x and n LN2_HI are within a factor of 2 for n != 0).
    let r_hi = fma(-nf, LN2_HI, x);
    let r = fma(-nf, LN2_LO, r_hi);
    (r, fma(-nf, LN2_LO, r_hi - r), n)
}

/// `eʳ⁺ʳˡᵒ - (hi + lo)` for the reduced argument as an unevaluated sum `(s, t)`, `|t|` far below
/// `|s|`, given `|hi| >= |r|` or `hi = 0`. The leading sum `hi + r` is carried with its rounding
/// error, so `s + t` is rounded once even where `hi + r` cancels.
#[inline(always)]
fn exp_sum(r: f32, r_lo: f32, hi: f32, lo: f32) -> (f32, f32) {
    let p = EXP_P.iter().rev().fold(0.0, |acc, &c| fma(acc, r, c));
    let s = hi + r;
    let err = (hi - s) + r;
    (s, fma(r * r, p, (err + lo) + r_lo))
}

/// `y 2ⁿ` for `n` in `[-150, 128]`, as `y 2^(n - n/2) 2^(n/2)` with both factors normal: the
/// first product is exact, and the second rounds once (to ∞ or into the subnormals where it
/// must).
#[inline(always)]
fn scale(y: f32, n: i32) -> f32 {
    let h = n >> 1;
    y * pow2i(n.wrapping_sub(h)) * pow2i(h)
}

/// Clamps `x` into `[lo, hi]`, keeping NaN (unlike `f32::clamp`, which compiles to more code
/// and `f32::max`, which drops NaN).
#[inline(always)]
fn clamp_keep_nan(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x > hi { hi } else { x };
    if x < lo {
        lo
    } else {
        x
    }
}

/// `eˣ` as `(hi, lo)`: `hi` is [`exp`] and `lo` its rounding error, so that `hi + lo` is within
/// about 2⁻²⁸ of `eˣ` where `eˣ` is a normal number.
#[inline(always)]
fn exp_parts(x: f32) -> (f32, f32) {
    let (r, r_lo, n) = exp_reduce(clamp_keep_nan(x, EXP_LO, EXP_HI));
    let (s, t) = exp_sum(r, r_lo, 1.0, 0.0);
    let y = s + t;
    (scale(y, n), scale((s - y) + t, n))
}

/// `eˣ`. Overflows to `+∞` above `≈ 88.7228`, 0 below `≈ -103.973`; NaN in, NaN out.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // The unused low part compiles away.
    exp_parts(x).0
}

/// `eˣ - 1`, accurate relative to the result near `x = 0`.
#[inline(always)]
pub fn exp_m1(x: f32) -> f32 {
    // Below -18, eˣ - 1 rounds to -1; the tighter clamp keeps 2⁻ⁿ below in range.
    let (r, r_lo, n) = exp_reduce(clamp_keep_nan(x, EXPM1_LO, EXP_HI));
    // 2ⁿ eʳ - 1 = 2ⁿ (eʳ - (1 - 2⁻ⁿ)) with 1 - 2⁻ⁿ = hi + lo: exact for n >= 0 (Fast2Sum) and
    // with lo = 0 for |n| <= 24, where hi is exact; below that the result rounds to -1 anyway.
    // Past n = 24 the -1 is still up to half an ulp of the result, so it must not be rounded
    // away. n = 0 gives hi = 0 and exactly r + r² P(r).
    let m = pow2i(n.wrapping_neg().max(-126));
    let hi = 1.0 - m;
    let (s, t) = exp_sum(r, r_lo, hi, (1.0 - hi) - m);
    let y = scale(s + t, n);
    // hi + r above turns -0 into +0.
    if x == 0.0 {
        x
    } else {
        y
    }
}

/// `ln(u)` for the positive float `u` with bits `ubits` (which may hold an exponent field pushed
/// below 0 by whole multiples of 2²³, for subnormals), plus the first-order correction for
/// `ln(u + c)` with `|c|` below half an ulp of `u`. Garbage for other `ubits`: callers select
/// the special cases afterwards.
#[inline(always)]
fn ln_kernel(ubits: i32, c: Option<f32>) -> f32 {
    // u = 2ᵉ m with m in [√½, √2): subtract the bits of √½ so that e is the exponent field.
    let e = ubits.wrapping_sub(0x3f35_04f3) >> 23;
    let f = f32::from_bits(ubits.wrapping_sub(e << 23) as u32) - 1.0;
    let ef = e as f32;
    let z = f * f;
    let q = LN_Q.iter().rev().fold(0.0, |acc, &c| fma(acc, f, c));
    let low = fma(ef, LN2_LO, z * fma(f, q, -0.5));
    // ln(m + d) ≈ ln(m) + d/m - d²/2m² for d = c 2⁻ᵉ, with 1/m ≈ 1 - f + f² (within 2⁻⁴). The
    // correction is below 2⁻²³ of the result except when x is within a few ulps of 0 in
    // `ln_1p`, where f is tiny and the d² term matters. 2⁻ᵉ is clamped to stay normal for
    // e = 128, where the correction is negligible.
    let tail = match c {
        Some(c) => {
            let d = c * pow2i(e.wrapping_neg().max(-126));
            low + fma(d, fma(f, f - 1.0, -0.5 * d), d)
        }
        None => low,
    };
    // e LN2_HI + f with its rounding error (Fast2Sum: |e LN2_HI| >= |f| unless e = 0, where
    // the sum is exact), so that ln(x) near x = √2 (e = 1, f ≈ -0.29) keeps its low bits.
    let hi = fma(ef, LN2_HI, f);
    let err = fma(ef, LN2_HI, -hi) + f;
    hi + (tail + err)
}

/// The natural logarithm: `-∞` at ±0, NaN below 0 and at NaN, `+∞` at `+∞`.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    // A positive subnormal is its mantissa field times 2⁻¹⁴⁹: convert the integer (exact, and
    // independent of the FPU's denormals-are-zero mode) and take 149 off the exponent field.
    // Special inputs are recognised by their bits too, so that the result does not depend on
    // that mode either.
    let tiny = (bits as i32 as f32).to_bits().wrapping_sub(149 << 23);
    let ubits = if bits < 0x0080_0000 { tiny } else { bits };
    let y = ln_kernel(ubits as i32, None);
    // Negative (sign bit set) or NaN; -0 is overridden below.
    let y = if bits > 0x7f80_0000 { f32::NAN } else { y };
    let y = if bits == 0x7f80_0000 { f32::INFINITY } else { y };
    if bits & 0x7fff_ffff == 0 {
        f32::NEG_INFINITY
    } else {
        y
    }
}

/// `ln(1 + x)`, accurate relative to the result near `x = 0`: `-∞` at -1, NaN below -1 and at
/// NaN, `+∞` at `+∞`.
#[inline(always)]
pub fn ln_1p(x: f32) -> f32 {
    let u = 1.0 + x;
    // c = (1 + x) - u exactly (Fast2Sum, ordered by magnitude).
    let c = if x.abs() <= 1.0 { (1.0 - u) + x } else { (x - u) + 1.0 };
    let y = ln_kernel(u.to_bits() as i32, Some(c));
    let y = if x == f32::INFINITY { x } else { y };
    let y = if x == -1.0 { f32::NEG_INFINITY } else { y };
    // ln(1 + ±0) = ±0.
    let y = if x == 0.0 { x } else { y };
    if x >= -1.0 {
        y
    } else {
        f32::NAN
    }
}

/// The logistic sigmoid `1/(1 + e⁻ˣ)`: `num / (1 + e)` with `e = e^(-|x|)` and `num = 1` for
/// `x >= 0`, `e` below, so nothing overflows and the negative tail keeps its relative
/// precision. `e` is carried in two parts and the quotient corrected by its remainder, so the
/// result is rounded about once.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let (eh, el) = exp_parts(-x.abs());
    // den = dh + dl = 1 + e exactly (Fast2Sum: e <= 1).
    let dh = 1.0 + eh;
    let dl = ((1.0 - dh) + eh) + el;
    let pos = x >= 0.0;
    let (nh, nl) = if pos { (1.0, 0.0) } else { (eh, el) };
    let q = nh / dh;
    // (num - q den) / den with the exact division remainder nh - q dh, and 1/den ≈ q for x >= 0,
    // 1 - q below (σ(-a) = 1 - 1/(1 + e^-a)).
    let rem = (fma(-q, dh, nh) + nl) - q * dl;
    let inv = if pos { q } else { 1.0 - q };
    fma(rem, inv, q)
}

/// softplus `ln(1 + eˣ) = max(x, 0) + ln(1 + t)` with `t = e^(-|x|)` in `(0, 1]`: `exp` never
/// overflows, and the negative tail (`≈ eˣ`) keeps its relative precision. On `[0, 1]`,
/// `ln(1 + t)` is a polynomial (`LN_1P_UNIT_P`), so softplus costs one `exp` and ten FMAs
/// rather than an `exp` and a logarithm with its range reduction: about half the time, for
/// at most 2 ulps instead of 1.1 (carrying the rounding errors of `exp` and of the final sum would
/// buy 0.2 ulp back for a third more time).
#[inline(always)]
pub fn softplus(x: f32) -> f32 {
    let t = exp(-x.abs());
    let p = LN_1P_UNIT_P.iter().rev().fold(0.0, |acc, &c| fma(acc, t, c));
    let pos = if x > 0.0 { x } else { 0.0 };
    pos + fma(t * t, p, t)
}

/// The hyperbolic tangent: an odd minimax polynomial below `|x| = 0.75`, `1 - 2/(e^(2|x|) + 1)`
/// above (the quotient is at most 0.37 there, so its rounding errors shrink in the difference).
/// `|x|` is clamped where tanh rounds to ±1, so `exp` never overflows.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    // Above 9.02, 1 - tanh|x| ≈ 2e^(-2|x|) is below half an ulp of 1.
    let a = x.abs();
    let a = if a > 9.5 { 9.5 } else { a };
    let s = a * a;
    let p = TANH_P.iter().rev().fold(0.0, |acc, &c| fma(acc, s, c));
    let near0 = fma(a * s, p, a);
    let far = 1.0 - 2.0 / (exp(a + a) + 1.0);
    let y = if a < 0.75 { near0 } else { far };
    y.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Unary = fn(f32) -> f32;
    type Case = (&'static str, Unary, fn(f64) -> f64);

    /// One ulp of the finite `f32` `y`: the spacing of `f32`s at its magnitude (the subnormal
    /// spacing below the normal range).
    fn ulp(y: f32) -> f64 {
        let a = y.abs();
        if a < f32::MIN_POSITIVE {
            2f64.powi(-149)
        } else {
            2f64.powi(((a.to_bits() >> 23) as i32) - 127 - 23)
        }
    }

    /// Max error in ulps of `f` against the `f64` `reference` over `xs`, with its argument.
    /// Where the reference rounds to a non-finite `f32` (overflow, a pole, NaN), `f` must
    /// return exactly that.
    fn max_ulps(
        name: &str,
        xs: impl Iterator<Item = f32>,
        f: impl Fn(f32) -> f32,
        reference: impl Fn(f64) -> f64,
    ) -> (f64, f32) {
        let mut worst = (0.0, 0.0f32);
        for x in xs {
            let (got, want) = (f(x), reference(x as f64));
            let want32 = want as f32;
            if !want32.is_finite() {
                let ok = got == want32 || (got.is_nan() && want32.is_nan());
                assert!(ok, "{name}({x:e}) = {got:e}, want {want:e}");
                continue;
            }
            assert!(got.is_finite(), "{name}({x:e}) = {got:e}, want {want:e}");
            // The smaller of the ulps of the result and of the rounded reference, which differ
            // across a power of 2.
            let e = (got as f64 - want).abs() / ulp(got).min(ulp(want32));
            if e > worst.0 {
                worst = (e, x);
            }
        }
        worst
    }

    /// Asserts `f` is within 2 ulp of `reference` over about 10⁶ points: every 8209th bit
    /// pattern (all magnitudes of both signs, subnormals, ±0, ±∞, NaNs) and a uniform grid over
    /// each of `dense`.
    #[track_caller]
    fn assert_within_2_ulp(name: &str, f: impl Fn(f32) -> f32, reference: impl Fn(f64) -> f64, dense: &[(f32, f32)]) {
        let n = 500_000 / dense.len();
        let patterns = (0..=u32::MAX).step_by(8209).map(f32::from_bits);
        let grids = dense.iter().flat_map(|&(lo, hi)| (0..=n).map(move |i| lo + (hi - lo) * (i as f32 / n as f32)));
        let (e, at) = max_ulps(name, patterns.chain(grids), f, reference);
        eprintln!("{name}: max {e:.3} ulp at {at:e}");
        assert!(e <= 2.0, "{name}: {e:.3} ulp at {at:e}");
    }

    // Reference f64 formulas for the composites: their own rounding (~1e-16) is far below an
    // f32 ulp.
    fn sigmoid64(x: f64) -> f64 {
        let e = (-x.abs()).exp();
        if x >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        }
    }
    fn softplus64(x: f64) -> f64 {
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }

    #[test]
    fn exp_accuracy() {
        assert_within_2_ulp("exp", exp, f64::exp, &[(-104.0, 89.0), (-1.0, 1.0)]);
    }

    #[test]
    fn exp_m1_accuracy() {
        assert_within_2_ulp("exp_m1", exp_m1, f64::exp_m1, &[(-20.0, 89.0), (-1.0, 1.0), (-1e-3, 1e-3)]);
    }

    #[test]
    fn ln_accuracy() {
        assert_within_2_ulp("ln", ln, f64::ln, &[(0.0, 4.0), (0.9, 1.1)]);
    }

    #[test]
    fn ln_1p_accuracy() {
        assert_within_2_ulp("ln_1p", ln_1p, f64::ln_1p, &[(-1.0, 4.0), (-1e-3, 1e-3), (-1e-7, 1e-7)]);
    }

    #[test]
    fn tanh_accuracy() {
        assert_within_2_ulp("tanh", tanh, f64::tanh, &[(-10.0, 10.0), (-1.0, 1.0)]);
    }

    #[test]
    fn sigmoid_accuracy() {
        assert_within_2_ulp("sigmoid", sigmoid, sigmoid64, &[(-104.0, 20.0), (-4.0, 4.0)]);
    }

    #[test]
    fn softplus_accuracy() {
        assert_within_2_ulp("softplus", softplus, softplus64, &[(-104.0, 20.0), (-4.0, 4.0)]);
    }

    #[test]
    fn special_values() {
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        let check = |name: &str, f: Unary, pairs: &[(f32, f32)]| {
            for &(x, want) in pairs {
                let got = f(x);
                let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
                assert!(same, "{name}({x:e}) = {got:e}, want {want:e}");
            }
        };
        // e^88.72 ≈ 3.393e38 < f32::MAX ≈ 3.403e38 < e^88.73; e^-103.97 ≈ 7.02e-46 is above half
        // the smallest subnormal 2⁻¹⁴⁹ ≈ 1.40e-45 and rounds up to it, e^-103.98 ≈ 6.95e-46 is
        // below half and rounds to 0.
        let exp_cases = [(0.0, 1.0), (-0.0, 1.0), (inf, inf), (-inf, 0.0), (nan, nan), (88.73, inf), (1e30, inf)];
        check("exp", exp, &exp_cases);
        check("exp", exp, &[(-103.98, 0.0), (-103.97, 1e-45), (-1e30, 0.0)]);
        check("exp_m1", exp_m1, &[(0.0, 0.0), (-0.0, -0.0), (inf, inf), (-inf, -1.0), (nan, nan), (88.73, inf)]);
        check("exp_m1", exp_m1, &[(-20.0, -1.0), (1e-30, 1e-30), (-1e-30, -1e-30)]);
        check("ln", ln, &[(1.0, 0.0), (0.0, -inf), (-0.0, -inf), (inf, inf), (-1.0, nan), (-inf, nan)]);
        check("ln", ln, &[(-1e-45, nan), (nan, nan)]);
        check("ln_1p", ln_1p, &[(0.0, 0.0), (-0.0, -0.0), (-1.0, -inf), (-1.5, nan), (-inf, nan), (inf, inf)]);
        check("ln_1p", ln_1p, &[(nan, nan), (1e-30, 1e-30), (-1e-30, -1e-30)]);
        check("tanh", tanh, &[(0.0, 0.0), (-0.0, -0.0), (inf, 1.0), (-inf, -1.0), (10.0, 1.0), (-1e30, -1.0)]);
        check("tanh", tanh, &[(nan, nan), (1e-30, 1e-30), (-1e-30, -1e-30)]);
        // softplus(±100): 100 + ln(1 + e⁻¹⁰⁰) rounds to 100; e⁻¹⁰⁰ ≈ 3.72e-44 is a subnormal.
        let sp_cases = [(0.0, std::f32::consts::LN_2), (100.0, 100.0), (-100.0, (-100f64).exp() as f32)];
        check("softplus", softplus, &sp_cases);
        check("softplus", softplus, &[(inf, inf), (-inf, 0.0), (nan, nan)]);
        check("sigmoid", sigmoid, &[(0.0, 0.5), (100.0, 1.0), (inf, 1.0), (-inf, 0.0), (-1000.0, 0.0), (nan, nan)]);
        // Overflow thresholds: the largest finite results.
        assert!(exp(88.72).is_finite() && exp(88.72) > 3.39e38);
        assert!(exp_m1(88.72).is_finite() && exp_m1(88.72) > 3.39e38);
        assert_eq!(ln(f32::MAX), 88.72284);
        assert_eq!(ln_1p(f32::MAX), 88.72284);
        // ln of the smallest subnormal: -149 ln 2.
        assert_eq!(ln(f32::from_bits(1)), -103.27893);
    }

    /// Under the kernels' flush-to-zero mode (FTZ and DAZ), subnormal results are flushed to 0
    /// and subnormal inputs may read as 0; `ln` reads them exactly either way.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn flush_to_zero() {
        use std::hint::black_box;
        let sub = f32::from_bits(1 << 20); // 2⁻¹²⁹ ≈ 1.5e-39
        let exact = [ln(sub), ln_1p(sub), exp_m1(sub), tanh(sub)];
        let word = crate::kernels::ftz::enable();
        // black_box keeps the evaluation at run time and between the mode switches.
        let (s, m100) = black_box((sub, -100.0));
        let got = black_box([exp(m100), softplus(m100), sigmoid(m100), ln(s), ln_1p(s), exp_m1(s), tanh(s)]);
        crate::kernels::ftz::restore(word);
        assert_eq!(&got[..3], &[0.0; 3]);
        assert_eq!(got[3], exact[0]);
        for (g, e) in got[4..].iter().zip(&exact[1..]) {
            assert!(*g == 0.0 || g == e, "{got:?}");
        }
    }

    /// Every `f32` input (about 4·10⁹; some 8 minutes on two cores); prints the worst errors.
    #[test]
    #[ignore = "exhaustive: run with --ignored --nocapture"]
    fn exhaustive() {
        use rayon::prelude::*;
        let cases: [Case; 7] = [
            ("exp", exp, f64::exp),
            ("exp_m1", exp_m1, f64::exp_m1),
            ("ln", ln, f64::ln),
            ("ln_1p", ln_1p, f64::ln_1p),
            ("tanh", tanh, f64::tanh),
            ("sigmoid", sigmoid, sigmoid64),
            ("softplus", softplus, softplus64),
        ];
        for (name, f, reference) in cases {
            let (e, at) = (0..1u64 << 16)
                .into_par_iter()
                .map(|hi| {
                    let xs = (0..1u32 << 16).map(move |lo| f32::from_bits(((hi as u32) << 16) | lo));
                    max_ulps(name, xs, f, reference)
                })
                .reduce(|| (0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
            eprintln!("{name}: max {e:.3} ulp at {at:e}");
            assert!(e <= 2.0, "{name}: {e:.3} ulp at {at:e}");
        }
    }
}
