//! `Normal(loc, scale)`: a batch of univariate normals, `loc` and `scale` broadcast.
//!
//! - `log_prob(x) = −½((x−μ)/σ)² − log σ − ½ log 2π`
//! - `cdf(x) = ½ erfc(−(x−μ)/(σ√2))`, with relative precision in the lower tail (`cdf` at
//!   `z = −10` is 7.6e-24, not the 0 of `½(1 + erf(z/√2))`)
//! - `entropy = ½ + ½ log 2π + log σ`
//! - `sample = μ + σ ε`, `ε ~ N(0, 1)`: reparameterized in both parameters.
//!
//! Everything is computed from `log σ` and `(x−μ)/σ`, never from `σ²` or `1/σ²`, so scales from
//! `1e-6` to `1e6` keep full relative accuracy.

use autodiff::ops::{erfc, log, square};
use autodiff::random::StandardNormal;
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::util::{any_poisoned, bcast, check_value, fail, over_batch, sample_shape, HALF_LN_2PI};
use crate::validate::{assert_valid, Constraint};
use crate::{Distribution, Family};

/// A batch of univariate normal distributions.
///
/// ```
/// use autodiff::prelude::*;
/// use distributions::{Distribution, Normal};
///
/// let g = Graph::<f64>::new();
/// let n = Normal::new(g.scalar(1.0), g.scalar(2.0));
/// let lp = n.log_prob(g.scalar(1.0));
/// let mut s = Session::new(g.compile(&[lp]).unwrap(), 0);
/// let out = s.run(&ParamStore::new(0), &[]).unwrap();
/// // At the mean: −log σ − ½ log 2π.
/// let want = -(2f64).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
/// assert!((out.scalar(0) - want).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct Normal<'g, F: Scalar> {
    loc: Tensor<'g, F>,
    scale: Tensor<'g, F>,
    batch: Shape,
}

impl<'g, F: Scalar> Normal<'g, F> {
    /// `N(loc, scale²)`; `scale` is the standard deviation. The shapes broadcast to the batch
    /// shape; shapes that do not broadcast are recorded as an error naming `Normal`.
    #[track_caller]
    pub fn new(loc: Tensor<'g, F>, scale: Tensor<'g, F>) -> Self {
        let g = loc.graph();
        if any_poisoned(&[loc, scale]) {
            return Normal { loc, scale, batch: Shape::scalar() };
        }
        match loc.shape().broadcast_with(&scale.shape()) {
            Ok(batch) => Normal { loc, scale, batch },
            Err(_) => {
                fail(
                    g,
                    "Normal",
                    format!("loc of shape {} and scale of shape {} do not broadcast", loc.shape(), scale.shape()),
                    &[loc, scale],
                );
                let p = g.poisoned();
                Normal { loc: p, scale: p, batch: Shape::scalar() }
            }
        }
    }

    /// `N(loc, scale²)` over an explicit batch shape that `loc` and `scale` broadcast to, e.g. a
    /// scalar prior over a whole kernel without materialising it. A shape they do not broadcast
    /// to is recorded as an error naming `Normal` and the shapes.
    #[track_caller]
    pub fn with_batch_shape(loc: Tensor<'g, F>, scale: Tensor<'g, F>, batch: impl Into<Shape>) -> Self {
        let batch = batch.into();
        let n = Self::new(loc, scale);
        if any_poisoned(&[n.loc, n.scale]) {
            return n;
        }
        match n.batch.broadcast_with(&batch) {
            Ok(b) if b == batch => Normal { batch, ..n },
            _ => {
                let g = loc.graph();
                fail(
                    g,
                    "Normal",
                    format!(
                        "loc {} and scale {} do not broadcast to the batch shape {batch}",
                        loc.shape(),
                        scale.shape()
                    ),
                    &[loc, scale],
                );
                let p = g.poisoned();
                Normal { loc: p, scale: p, batch: Shape::scalar() }
            }
        }
    }

    /// The same distribution with a run-time check that `scale > 0`: a run where it fails
    /// stops with an error naming `Normal`, the scale's label, the value and its element.
    #[track_caller]
    pub fn validated(self) -> Self {
        let scale = assert_valid(self.scale, Constraint::Positive, "Normal", "scale");
        Normal { scale, ..self }
    }

    /// The mean parameter, as given.
    pub fn loc(&self) -> Tensor<'g, F> {
        self.loc
    }

    /// The standard deviation parameter, as given.
    pub fn scale(&self) -> Tensor<'g, F> {
        self.scale
    }

    fn standardize(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        (x - self.loc) / self.scale
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for Normal<'g, F> {
    fn name(&self) -> &'static str {
        "Normal"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        let eps = self.graph().random(StandardNormal, sample_shape(sample, &self.batch, &Shape::scalar()), salt);
        self.sample_with_noise(eps)
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        self.loc + self.scale * eps
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("Normal.log_prob", x, &self.batch, &Shape::scalar()) {
            return self.graph().poisoned();
        }
        let z = self.standardize(x);
        over_batch(square(z) * F::of(-0.5) - log(self.scale) - F::of(HALF_LN_2PI), &self.batch)
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        if !check_value("Normal.cdf", x, &self.batch, &Shape::scalar()) {
            return Some(self.graph().poisoned());
        }
        let z = self.standardize(x) * F::of(-std::f64::consts::FRAC_1_SQRT_2);
        Some(over_batch(erfc(z) * F::of(0.5), &self.batch))
    }
    fn entropy(&self) -> Tensor<'g, F> {
        bcast(log(self.scale) + F::of(0.5 + HALF_LN_2PI), &self.batch)
    }
    fn mean(&self) -> Tensor<'g, F> {
        bcast(self.loc, &self.batch)
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.mean()
    }
    fn stddev(&self) -> Tensor<'g, F> {
        bcast(self.scale, &self.batch)
    }
    fn variance(&self) -> Tensor<'g, F> {
        bcast(square(self.scale), &self.batch)
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::Normal(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.loc.graph()
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use autodiff::testing::{check_grads, Domain, Spec};

    use super::*;
    use crate::test_util::*;
    use crate::{Independent, KlDivergence};

    #[test]
    fn normal_cdf_keeps_relative_precision_in_the_lower_tail() {
        // Φ(−10) = 7.619853024160526e-24 and Φ(−30) = 4.906713927148187e-198 (mpmath), where
        // ½(1 + erf(z/√2)) is 0; and Φ(3) = 0.9986501019683699 above.
        let out = eval_many(|g| {
            let n = Normal::new(g.scalar(1.0), g.scalar(2.0));
            vec![n.cdf(g.constant_f64(&[-19.0, -59.0, 7.0], [3])).unwrap()]
        });
        for (got, want) in out[0].iter().zip([7.619853024160526e-24, 4.906713927148187e-198, 0.9986501019683699]) {
            assert!((got / want - 1.0).abs() < 1e-13, "{got:e} vs {want:e}");
        }
    }

    #[test]
    fn normal_forward_log_prob_cdf_entropy_moments() {
        // N(1, 2²) at x = 1, 2, 3: z = 0, ½, 1.
        let out = eval_many(|g| {
            let n = Normal::new(g.scalar(1.0), g.scalar(2.0));
            let x = g.constant_f64(&[1.0, 2.0, 3.0], [3]);
            vec![n.log_prob(x), n.cdf(x).unwrap(), n.prob(x), n.entropy(), n.mean(), n.stddev(), n.variance(), n.mode()]
        });
        let c = -(2f64).ln() - 0.5 * (2.0 * PI).ln();
        close(&out[0], &[c, c - 0.125, c - 0.5], 1e-15);
        // Φ(z) = ½ erfc(−z/√2): Φ(0) = ½, Φ(½) = 0.6914624612740131, Φ(1) = 0.8413447460685429.
        close(&out[1], &[0.5, 0.6914624612740131, 0.8413447460685429], 1e-15);
        close(&out[2], &[c.exp(), (c - 0.125).exp(), (c - 0.5).exp()], 1e-15);
        // ½ log(2πe σ²) with σ = 2.
        close(&out[3], &[0.5 * (2.0 * PI * std::f64::consts::E * 4.0).ln()], 1e-15);
        close(&out[4], &[1.0], 0.0);
        close(&out[5], &[2.0], 0.0);
        close(&out[6], &[4.0], 0.0);
        close(&out[7], &[1.0], 0.0);
    }

    #[test]
    fn normal_forward_broadcasts_parameters() {
        // loc [3, 1] and scale [2] make a [3, 2] batch; each moment has the batch shape.
        let out = eval_many(|g| {
            let n = Normal::new(g.constant_f64(&[0.0, 1.0, 2.0], [3, 1]), g.constant_f64(&[1.0, 3.0], [2]));
            assert_eq!(n.batch_shape(), Shape::from([3, 2]));
            assert_eq!(n.sample(&[5], "eps").shape(), Shape::from([5, 3, 2]));
            vec![n.mean(), n.stddev(), n.entropy()]
        });
        close(&out[0], &[0.0, 0.0, 1.0, 1.0, 2.0, 2.0], 0.0);
        close(&out[1], &[1.0, 3.0, 1.0, 3.0, 1.0, 3.0], 0.0);
        let h = |s: f64| 0.5 + 0.5 * (2.0 * PI).ln() + s.ln();
        close(&out[2], &[h(1.0), h(3.0), h(1.0), h(3.0), h(1.0), h(3.0)], 1e-15);
    }

    #[test]
    fn a_declared_batch_covers_log_prob_cdf_and_kl() {
        // Parameters of shape [2] declared over a [3, 2] batch: every row is the same Normal.
        let out = eval_many(|g| {
            let p = Normal::with_batch_shape(g.constant_f64(&[0.0, 1.0], [2]), g.scalar(2.0), [3, 2]);
            let q = Normal::with_batch_shape(g.scalar(0.0), g.scalar(1.0), [3, 2]);
            let x = g.constant_f64(&[1.0, 1.0], [2]);
            let (lp, cdf, kl) = (p.log_prob(x), p.cdf(x).unwrap(), p.kl_divergence(&q));
            for t in [lp, cdf, kl] {
                assert_eq!(t.shape(), Shape::from([3, 2]));
            }
            let whole = Independent::new(Box::new(p), 2);
            vec![lp, kl, whole.log_prob(x), whole.kl_divergence(&Independent::new(Box::new(q), 2))]
        });
        // log N(1; 0, 2²) and log N(1; 1, 2²); KL(N(μ, 4) ‖ N(0, 1)) = ln ½ + (4 + μ²)/2 − ½.
        let c = -(2f64).ln() - 0.5 * (2.0 * PI).ln();
        let (lp, kl) = ([c - 0.125, c], [0.5f64.ln() + 1.5, 0.5f64.ln() + 2.0]);
        close(&out[0], &[lp[0], lp[1], lp[0], lp[1], lp[0], lp[1]], 1e-15);
        close(&out[1], &[kl[0], kl[1], kl[0], kl[1], kl[0], kl[1]], 1e-15);
        // Over all six elements, not the two the parameters have.
        close(&out[2], &[3.0 * (lp[0] + lp[1])], 1e-14);
        close(&out[3], &[3.0 * (kl[0] + kl[1])], 1e-14);
    }

    #[test]
    fn normal_forward_is_stable_at_extreme_scales() {
        // At scale 1e-6 and 1e6, one standard deviation from the mean:
        // log N = −½ − log σ − ½ log 2π, with full relative precision.
        let out = eval_many(|g| {
            let tiny = Normal::new(g.scalar(3.0), g.scalar(1e-6));
            let huge = Normal::new(g.scalar(-1e6), g.scalar(1e6));
            vec![tiny.log_prob(g.scalar(3.0 + 1e-6)), huge.log_prob(g.scalar(0.0)), tiny.entropy(), huge.entropy()]
        });
        let h = 0.5 * (2.0 * PI).ln();
        // 3 + 1e-6 is not exact in binary: z = ((3 + 1e-6) − 3)/1e-6 = 1 ± 3e-10.
        close(&out[0], &[-0.5 - (1e-6f64).ln() - h], 1e-9);
        close(&out[1], &[-0.5 - (1e6f64).ln() - h], 1e-15);
        close(&out[2], &[0.5 + (1e-6f64).ln() + h], 1e-15);
        close(&out[3], &[0.5 + (1e6f64).ln() + h], 1e-15);
    }

    #[test]
    fn normal_grad_log_prob_cdf_entropy_moments() {
        let specs = [Spec::new([3]), Spec::new([3]).domain(Domain::Positive), Spec::new([3])];
        check_grads(|_, x| Normal::new(x[0], x[1]).log_prob(x[2]), &specs, 2);
        check_grads(|_, x| Normal::new(x[0], x[1]).cdf(x[2]).unwrap(), &specs, 2);
        check_grads(|_, x| Normal::new(x[0], x[1]).entropy(), &specs[..2], 2);
        check_grads(|_, x| Normal::new(x[0], x[1]).variance() + Normal::new(x[0], x[1]).mean(), &specs[..2], 2);
    }

    #[test]
    fn normal_grad_sample_with_frozen_noise() {
        // loc [3] broadcast against scale [2, 1]: the draw is [4, 2, 3].
        check_grads(
            |_, x| Normal::new(x[0], x[1]).sample(&[4], "eps"),
            &[Spec::new([3]), Spec::new([2, 1]).domain(Domain::Positive)],
            2,
        );
    }

    #[test]
    fn normal_shape_errors_name_the_distribution() {
        let e = build_error(|g| {
            let n = Normal::new(g.constant_f64(&[0.0; 3], [3]), g.constant_f64(&[1.0; 4], [4]));
            n.log_prob(g.scalar(0.0));
        });
        assert!(e.contains("Normal") && e.contains("loc of shape [3] and scale of shape [4] do not broadcast"), "{e}");
        let e = build_error(|g| {
            let n = Normal::new(g.constant_f64(&[0.0; 3], [3]), g.scalar(1.0));
            n.log_prob(g.constant_f64(&[0.0; 4], [4]));
        });
        assert!(e.contains("Normal.log_prob") && e.contains("[4]") && e.contains("batch shape [3]"), "{e}");
    }

    #[test]
    fn normal_validated_fails_the_run_naming_the_scale() {
        let e = run_error(|g| {
            let scale = g.scope("prior", || g.constant_f64(&[1.0, -0.5], [2]));
            vec![Normal::new(g.scalar(0.0), scale).validated().log_prob(g.scalar(0.0))]
        });
        assert!(e.contains("Normal (prior): scale must be > 0, got -0.5 at element 1"), "{e}");
        // A valid scale passes through unchanged.
        let v = eval1(|g| Normal::new(g.scalar(0.0), g.scalar(2.0)).validated().stddev());
        close(&v, &[2.0], 0.0);
    }

    #[test]
    fn normal_forward_f32() {
        let g = Graph::<f32>::new();
        let n = Normal::new(g.scalar(1.0), g.scalar(2.0));
        let lp = n.log_prob(g.scalar(3.0));
        let mut s = autodiff::Session::new(g.compile(&[lp]).unwrap(), 0);
        let v = s.run(&autodiff::ParamStore::new(0), &[]).unwrap().scalar(0);
        let want = -0.5 - 2f64.ln() - 0.5 * (2.0 * PI).ln();
        assert!((f64::from(v) - want).abs() < 1e-6, "{v} vs {want}");
    }
}
