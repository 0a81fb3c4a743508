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
    /// `N(loc, diag(scale_diag)²)`. `loc` and `scale_diag` have shape `[..., d]` (either may
    /// broadcast, including a last dimension of 1); shape problems are recorded as an error
    /// naming `MultivariateNormalDiag`.
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
        if ls.rank() < 1 || ss.rank() < 1 {
            return bad(format!("loc and scale_diag must have shape [..., d], got {ls} and {ss}"));
        }
        let full = match ls.broadcast_with(&ss) {
            Ok(s) => s,
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
