//! `polygamma(x, n) = ψₙ(x) = dⁿ⁺¹/dxⁿ⁺¹ ln Γ(x)`, elementwise (TensorFlow's
//! `tf.math.polygamma(n, x)`, with the tensor first as everywhere in this crate). `n = 0` is
//! `digamma`, `n = 1` `trigamma`, `n = 2` the tetragamma function.
//!
//! VJP: `gx = gy * polygamma(x, n + 1)`, so every order differentiates again, up to
//! [`Polygamma::MAX_ORDER`]: an order above it is recorded as an error when the node is built,
//! whether by the user or by a VJP (so a derivative past the limit is an error at `compile`,
//! never a silent zero). Shape: `x`'s. Gradient checks (order 2): `x` uniform on [0.5, 2], and
//! points on both sides of the series threshold (`10 + 2n`) and between negative poles.
//!
//! The kernel (`kernels::special::polygamma`) shifts `x` up to at least `10 + 2n` with
//! `ψₙ(x) = ψₙ(x + 1) - (-1)ⁿ n!/x^(n+1)`, applies the asymptotic series there, and for `x <= 0`
//! uses the reflection `ψₙ(x) = (-1)ⁿ ψₙ(1-x) - π^(n+1) Pₙ(cot πx)` with the derivative polynomials
//! of `cot`. Relative error in `f64`, against 40-digit references on a grid over [-30, 30] and
//! at geometrically spaced points in [1e-8, 6e7]: within 3 ulps for `ψ₂`, 5 for `ψ₃`, 30 at
//! order 32; next to the zeros of `ψₙ` between negative poles the reflection cancels and the
//! error is absolute instead. At the poles (0, -1, -2, …) `+inf` for odd `n`, NaN for even `n`
//! (one-sided limits of opposite signs). Large `x`: `ψₙ(x) ≈ (-1)^(n+1) (n-1)!/xⁿ`, which
//! underflows to zero without NaN; `x → 0⁺`: `≈ (-1)^(n+1) n!/x^(n+1)`, infinite only where that
//! overflows.

use crate::elementwise::{Unary, UnaryElementwise};
use crate::error::ShapeError;
use crate::graph::Tensor;
use crate::kernels::special;
use crate::scalar::Scalar;

/// `ψₙ(x)`, the polygamma function of order `n`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Polygamma {
    /// The order `n`: the number of derivatives of `digamma` (NaN above [`Polygamma::MAX_ORDER`]).
    pub order: u32,
}

impl Polygamma {
    /// The highest order evaluated.
    pub const MAX_ORDER: u32 = special::POLYGAMMA_MAX_ORDER;
}

impl<F: Scalar> UnaryElementwise<F> for Polygamma {
    const NAME: &'static str = "polygamma";
    #[inline(always)]
    fn f(&self, x: F) -> F {
        special::polygamma(self.order, x)
    }
    fn vjp<'g>(&self, x: Tensor<'g, F>, _y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        Some(gy * polygamma(x, self.order.saturating_add(1)))
    }
}

/// `ψₙ(x)`, the `n`-th derivative of the digamma function, elementwise. `n` above
/// [`Polygamma::MAX_ORDER`] is recorded as an error.
#[track_caller]
pub fn polygamma<F: Scalar>(x: Tensor<'_, F>, n: u32) -> Tensor<'_, F> {
    let g = x.graph();
    if n > Polygamma::MAX_ORDER {
        let msg = format!("order {n} is above the highest supported order, {}", Polygamma::MAX_ORDER);
        g.record_shape_error("polygamma", ShapeError::Custom(msg), &[x]);
        return g.poisoned();
    }
    g.apply(Unary(Polygamma { order: n }), &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::ops::{digamma, trigamma};
    use crate::testing::*;

    /// ζ(3), Apéry's constant, to more digits than an `f64` holds.
    #[allow(clippy::excessive_precision)]
    const ZETA3: f64 = 1.2020569031595942854;

    fn psi(n: u32, x: &[f64]) -> Vec<f64> {
        eval(|g| polygamma(g.constant_f64(x, [x.len()]), n))
    }

    fn assert_close(got: &[f64], want: &[f64], rtol: f64) {
        for (k, (&a, &b)) in got.iter().zip(want).enumerate() {
            let ok = a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= rtol * b.abs();
            assert!(ok, "element {k}: got {a:e}, want {b:e}");
        }
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the specification's constants, digit for digit
    fn polygamma_forward_tetragamma() {
        let pi = std::f64::consts::PI;
        // ψ₂(1) = -2ζ(3); ψ₂(½) = -2·(2³ - 1)ζ(3) = -14ζ(3); the recurrence ψ₂(x+1) = ψ₂(x) + 2/x³
        // gives ψ₂(2) = ψ₂(1) + 2 and ψ₂(3/2) = ψ₂(½) + 16; the reflection
        // ψ₂(x) = ψ₂(1-x) - 2π³ cot(πx) / sin²(πx) has cot = 0 at half-integers, so
        // ψ₂(-½) = ψ₂(3/2) and ψ₂(-3/2) = ψ₂(5/2) = ψ₂(3/2) + 2/(3/2)³. At quarters, the
        // multiplication theorem ψ₂(2x) = (ψ₂(x) + ψ₂(x + ½))/8 at x = ¼ gives
        // ψ₂(¼) + ψ₂(¾) = 8ψ₂(½) = -112ζ(3), and the reflection at ¼ (cot = 1, sin² = ½) gives
        // ψ₂(¼) = ψ₂(¾) - 4π³, so ψ₂(¾) = 2π³ - 56ζ(3); by the recurrence
        // ψ₂(-¼) = ψ₂(¾) - 2/(-¼)³ = ψ₂(¾) + 128 (the kernel reflects there with cot(-π/4) = -1).
        // ψ₂(25) = ψ₂(1) + 2 Σ_{k<25} 1/k³. Poles at 0 and -1 (NaN: the one-sided limits are -inf
        // and +inf).
        let psi_half = -14.0 * ZETA3;
        let x = [1.0, 0.5, 2.0, 1.5, -0.5, -1.5, -0.25, 25.0, 0.0, -1.0];
        let sum_inv_cubes: f64 = (1..25).map(|k| 1.0 / (k as f64).powi(3)).sum();
        let want = [
            -2.0 * ZETA3,
            psi_half,
            -2.0 * ZETA3 + 2.0,
            psi_half + 16.0,
            psi_half + 16.0,
            psi_half + 16.0 + 16.0 / 27.0,
            2.0 * pi.powi(3) - 56.0 * ZETA3 + 128.0,
            -2.0 * ZETA3 + 2.0 * sum_inv_cubes,
            f64::NAN,
            f64::NAN,
        ];
        assert_forward(|g| polygamma(g.constant_f64(&x, [10]), 2), &want);
        let got = psi(2, &x);
        assert_close(&got[..7], &want[..7], 2e-15);
        // The reference for ψ₂(25) = -0.00167 loses three digits to cancellation in its sum.
        assert_close(&got[7..], &want[7..], 1e-12);
        // The constants named in the op's specification.
        assert_forward(
            |g| polygamma(g.constant_f64(&[1.0, 0.5, 2.0, 1.5], [4]), 2),
            &[-2.4041138063191885, -16.828796644234320, -0.4041138063191885, -0.828796644234320],
        );
    }

    #[test]
    fn polygamma_forward_other_orders() {
        let pi = std::f64::consts::PI;
        // ψ₃(1) = 6ζ(4) = π⁴/15; ψ₃(½) = 6·(2⁴ - 1)ζ(4) = π⁴; by the recurrence
        // ψ₃(x+1) = ψ₃(x) - 6/x⁴, ψ₃(3/2) = π⁴ - 96 and ψ₃(-½) = ψ₃(½) + 6/(½)⁴ = π⁴ + 96 (the
        // kernel gets it by reflection, -ψ₃(3/2) + π⁴ (2 + 8c² + 6c⁴) at c = cot(-π/2) = 0); a pole
        // at 0 (+inf from both sides).
        let x = [1.0, 0.5, 1.5, -0.5, 0.0];
        let want = [pi.powi(4) / 15.0, pi.powi(4), pi.powi(4) - 96.0, pi.powi(4) + 96.0, f64::INFINITY];
        assert_forward(|g| polygamma(g.constant_f64(&x, [5]), 3), &want);
        let got = psi(3, &x);
        // π⁴ ≈ 97.4 is rounded (with π) to ~3e-14 absolute, which π⁴ - 96 keeps: compare it
        // absolutely.
        assert!((got[2] - want[2]).abs() <= 5e-14, "{} vs {}", got[2], want[2]);
        assert_close(&got, &[want[0], want[1], got[2], want[3], want[4]], 2e-15);
        // ψₙ(1) = (-1)^(n+1) n! ζ(n+1); ζ(n+1) = 1 + 2^-(n+1) + … within 1e-16 relative of the
        // partial sum to 40 terms for n >= 10.
        for n in [10u32, 20, 32] {
            let zeta: f64 = (1..=40).rev().map(|k| (k as f64).powi(-(n as i32 + 1))).sum();
            let fact: f64 = (1..=n).map(|k| k as f64).product();
            let want = if n % 2 == 1 { fact * zeta } else { -fact * zeta };
            assert_close(&psi(n, &[1.0]), &[want], 1e-14);
        }
        // Orders 0 and 1 are digamma and trigamma, bit for bit.
        let x = [-2.5, -0.3, 0.2, 1.0, 3.7, 12.0, 1e5];
        let n = x.len();
        assert_eq!(psi(0, &x), eval(|g| digamma(g.constant_f64(&x, [n]))));
        assert_eq!(psi(1, &x), eval(|g| trigamma(g.constant_f64(&x, [n]))));
    }

    #[test]
    fn polygamma_forward_extremes() {
        // Large x: ψ₂(x) = -1/x² - 1/x³ - 1/(2x⁴) + …, so ψ₂(1e10) = -1e-20 - 1e-30 (next term 5e-41);
        // ψ₂(1e300) underflows to zero, ψ₂(inf) = 0. Small x: ψ₂(x) = ψ₂(1 + x) - 2/x³ (the
        // recurrence), -2e24 within 2e-24 relative at 1e-8. NaN at -inf and NaN.
        let x = [1e10, 1e300, f64::INFINITY, 1e-8, f64::NEG_INFINITY, f64::NAN];
        let want = [-1e-20 - 1e-30, 0.0, 0.0, -2e24, f64::NAN, f64::NAN];
        assert_close(&psi(2, &x), &want, 2e-15);
        // In f32 the kernel rounds the f64 value once, so the results are within an f32 ulp of
        // the same closed forms at the f32 inputs: ψ₂(t) = -2/t³ + ψ₂(1) + O(t) at t = 1e-3 as
        // f32 (finite, about -2e9), ψ₂(1e10) = -1e-20, ψ₂(½) = -14ζ(3).
        let t = 1e-3f32 as f64;
        let want = [-2.0 / (t * t * t) - 2.0 * ZETA3, -1e-20, -14.0 * ZETA3];
        let g = Graph::<f32>::new();
        let y = polygamma(g.constant_f64(&[1e-3, 1e10, 0.5], [3]), 2);
        let mut s = crate::Session::new(g.compile(&[y]).unwrap(), 0);
        let out = s.run(&crate::ParamStore::new(0), &[]).unwrap();
        let got: Vec<f64> = out[0].iter().map(|&v| v as f64).collect();
        assert_close(&got, &want, f32::EPSILON as f64);
    }

    #[test]
    fn polygamma_grad() {
        for n in [2, 3] {
            check_grads(|_, x| polygamma(x[0], n), &[Spec::new([3, 2]).domain(Domain::Positive)], 2);
            // Both sides of the threshold 10 + 2n, and between negative poles.
            let x = vec![-2.7, -0.4, 0.3, 1.5, 3.0, 13.9, 14.1, 16.2, 25.0];
            check_grads(|_, x| polygamma(x[0], n), &[Spec::new([9]).values(x)], 2);
        }
    }

    #[test]
    fn polygamma_order_limit_is_an_error() {
        // Building above the limit is an error naming the op, the order and the caller.
        let g = Graph::<f64>::new();
        let x = g.input("x", [2]);
        let line = line!() + 1;
        let y = polygamma(x, Polygamma::MAX_ORDER + 1);
        assert!(y.is_poisoned());
        let msg = g.check().unwrap_err().to_string();
        let at = format!("{}:{line}:", file!());
        assert!(msg.starts_with("polygamma at ") && msg.contains("order 33") && msg.contains(&at), "{msg}");
        // Differentiating the highest order asks for the next one: an error, not a zero gradient.
        let g = Graph::<f64>::new();
        let x = g.input("x", [2]);
        let dy = grad(polygamma(x, Polygamma::MAX_ORDER).sum_all(), &[x])[0];
        let msg = g.compile(&[dy]).unwrap_err().to_string();
        assert!(msg.starts_with("polygamma at ") && msg.contains("order 33"), "{msg}");
    }
}
