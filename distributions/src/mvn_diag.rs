//! `MultivariateNormalDiag(loc [..., d], scale_diag [..., d])`: `N(loc, diag(scale_diag)²)`.
//!
//! - `log_prob(x) = Σᵢ (−½((xᵢ−μᵢ)/σᵢ)² − log|σᵢ| − ½ log 2π)`
//! - `entropy = Σᵢ (½ + ½ log 2π + log|σᵢ|)`
//! - `sample = μ + σ ⊙ ε`, `ε ~ N(0, I_d)`: reparameterized.
//!
//! `log|σ|` as in TFP's `LinearOperatorDiag.log_abs_determinant`. The same numbers as
//! `Independent(Normal(loc, scale_diag), 1)`, but a different family for the KL registry; the
//! KL between the two is provided here (TFP has none).

use autodiff::ops::{abs, log, matrix_diag, square};
use autodiff::random::StandardNormal;
use autodiff::{Dim, Graph, Scalar, Shape, Tensor};

use crate::util::{any_poisoned, bcast, check_value, concat, drop_last, fail, sample_shape, sum_last, HALF_LN_2PI};
use crate::validate::{assert_valid, Constraint};
use crate::{Distribution, Family};

/// A batch of multivariate normals with diagonal covariance.
#[derive(Debug, Clone)]
pub struct MultivariateNormalDiag<'g, F: Scalar> {
    loc: Tensor<'g, F>,
    scale_diag: Tensor<'g, F>,
    batch: Shape,
    d: usize,
}

impl<'g, F: Scalar> MultivariateNormalDiag<'g, F> {
    /// `N(loc, diag(scale_diag)²)`. `loc` and `scale_diag` broadcast to `[..., d]` (either may
    /// be smaller, e.g. a scalar scale); shape problems are recorded as an error naming
    /// `MultivariateNormalDiag`.
    #[track_caller]
    pub fn new(loc: Tensor<'g, F>, scale_diag: Tensor<'g, F>) -> Self {
        let g = loc.graph();
        if any_poisoned(&[loc, scale_diag]) {
            return MultivariateNormalDiag { loc, scale_diag, batch: Shape::scalar(), d: 0 };
        }
        let (ls, ss) = (loc.shape(), scale_diag.shape());
        let bad = |msg: String| {
            fail(g, "MultivariateNormalDiag", msg, &[loc, scale_diag]);
            let p = g.poisoned();
            MultivariateNormalDiag { loc: p, scale_diag: p, batch: Shape::scalar(), d: 0 }
        };
        let full = match ls.broadcast_with(&ss) {
            Ok(s) if s.rank() >= 1 => s,
            Ok(_) => return bad(format!("loc and scale_diag must broadcast to [..., d], got {ls} and {ss}")),
            Err(_) => return bad(format!("loc of shape {ls} and scale_diag of shape {ss} do not broadcast")),
        };
        let d = match full.dim(full.rank() - 1) {
            Dim::Fixed(d) => d,
            Dim::Batch => return bad(format!("the event dimension cannot be the batch dimension: {full}")),
        };
        MultivariateNormalDiag { loc, scale_diag, batch: drop_last(&full, 1), d }
    }

    /// The same distribution with a run-time check that `scale_diag > 0`.
    #[track_caller]
    pub fn validated(self) -> Self {
        let scale_diag = assert_valid(self.scale_diag, Constraint::Positive, "MultivariateNormalDiag", "scale_diag");
        MultivariateNormalDiag { scale_diag, ..self }
    }

    /// The mean parameter.
    pub fn loc(&self) -> Tensor<'g, F> {
        self.loc
    }

    /// The diagonal of the scale, as given.
    pub fn scale_diag(&self) -> Tensor<'g, F> {
        self.scale_diag
    }

    /// The scale as a dense diagonal matrix `batch ++ [d, d]`.
    #[track_caller]
    pub fn scale_tril(&self) -> Tensor<'g, F> {
        matrix_diag(bcast(self.scale_diag, &concat(&self.batch, &self.event())))
    }

    /// The event size `d`.
    pub fn dim(&self) -> usize {
        self.d
    }

    fn event(&self) -> Shape {
        Shape::from([self.d])
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for MultivariateNormalDiag<'g, F> {
    fn name(&self) -> &'static str {
        "MultivariateNormalDiag"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        self.event()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        let eps = self.graph().random(StandardNormal, sample_shape(sample, &self.batch, &self.event()), salt);
        self.sample_with_noise(eps)
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        self.loc + self.scale_diag * eps
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("MultivariateNormalDiag.log_prob", x, &self.batch, &self.event()) {
            return self.graph().poisoned();
        }
        let z = (x - self.loc) / self.scale_diag;
        let per_dim = square(z) * F::of(-0.5) - log(abs(self.scale_diag)) - F::of(HALF_LN_2PI);
        sum_last(per_dim, 1)
    }
    fn cdf(&self, _x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        None
    }
    fn entropy(&self) -> Tensor<'g, F> {
        let per_dim = log(abs(self.scale_diag)) + F::of(0.5 + HALF_LN_2PI);
        sum_last(bcast(per_dim, &concat(&self.batch, &self.event())), 1)
    }
    fn mean(&self) -> Tensor<'g, F> {
        bcast(self.loc, &concat(&self.batch, &self.event()))
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.mean()
    }
    fn stddev(&self) -> Tensor<'g, F> {
        bcast(abs(self.scale_diag), &concat(&self.batch, &self.event()))
    }
    fn variance(&self) -> Tensor<'g, F> {
        bcast(square(self.scale_diag), &concat(&self.batch, &self.event()))
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::MvnDiag(self)
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

    #[test]
    fn mvn_diag_forward_is_a_sum_of_normals() {
        // μ = [0, 1], σ = [1, 2] at x = [1, 1]: z = [1, 0], log p = −½ − log 2 − log 2π.
        let out = eval_many(|g| {
            let m = MultivariateNormalDiag::new(g.constant_f64(&[0.0, 1.0], [2]), g.constant_f64(&[1.0, 2.0], [2]));
            let eps = g.constant_f64(&[1.0, -1.0], [2]);
            vec![
                m.log_prob(g.constant_f64(&[1.0, 1.0], [2])),
                m.entropy(),
                m.stddev(),
                m.variance(),
                m.sample_with_noise(eps),
                m.scale_tril(),
            ]
        });
        close(&out[0], &[-0.5 - (2f64).ln() - (2.0 * PI).ln()], 1e-15);
        close(&out[1], &[1.0 + (2.0 * PI).ln() + (2f64).ln()], 1e-15);
        close(&out[2], &[1.0, 2.0], 0.0);
        close(&out[3], &[1.0, 4.0], 0.0);
        close(&out[4], &[1.0, -1.0], 0.0);
        close(&out[5], &[1.0, 0.0, 0.0, 2.0], 0.0);
    }

    #[test]
    fn mvn_diag_forward_broadcasts_a_scalar_scale() {
        // scale_diag [1] against loc [2, 3]: batch [2], event [3]; entropy counts 3 dimensions.
        let out = eval_many(|g| {
            let m = MultivariateNormalDiag::new(g.constant_f64(&[0.0; 6], [2, 3]), g.constant_f64(&[2.0], [1]));
            assert_eq!((m.batch_shape(), m.event_shape()), (Shape::from([2]), Shape::from([3])));
            vec![m.entropy(), m.log_prob(g.constant_f64(&[0.0; 3], [3]))]
        });
        let h = 3.0 * (0.5 + 0.5 * (2.0 * PI).ln() + (2f64).ln());
        close(&out[0], &[h, h], 1e-15);
        let lp = -3.0 * ((2f64).ln() + 0.5 * (2.0 * PI).ln());
        close(&out[1], &[lp, lp], 1e-15);
    }

    #[test]
    fn mvn_diag_grad_log_prob_entropy_sample() {
        let specs = [Spec::new([3]), Spec::new([3]).domain(Domain::Positive), Spec::new([2, 3])];
        check_grads(|_, x| MultivariateNormalDiag::new(x[0], x[1]).log_prob(x[2]), &specs, 2);
        check_grads(|_, x| MultivariateNormalDiag::new(x[0], x[1]).entropy(), &specs[..2], 2);
        check_grads(|_, x| MultivariateNormalDiag::new(x[0], x[1]).sample(&[2], "eps"), &specs[..2], 2);
    }

    #[test]
    fn mvn_diag_shape_error_and_validation() {
        let e = build_error(|g| {
            MultivariateNormalDiag::new(g.constant_f64(&[0.0; 2], [2]), g.constant_f64(&[1.0; 3], [3]));
        });
        assert!(e.contains("MultivariateNormalDiag") && e.contains("[2]") && e.contains("[3]"), "{e}");
        let e = run_error(|g| {
            let s = g.constant_f64(&[1.0, 0.0], [2]);
            vec![MultivariateNormalDiag::new(g.constant_f64(&[0.0; 2], [2]), s).validated().entropy()]
        });
        assert!(e.contains("MultivariateNormalDiag: scale_diag must be > 0, got 0 at element 1"), "{e}");
    }
}
