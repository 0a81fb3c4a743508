//! `MultivariateNormalTriL(loc [..., d], scale_tril [..., d, d])`: `N(loc, L Lᵀ)` with `L` the
//! lower triangle of `scale_tril` (the strict upper triangle is ignored, as TFP's
//! `LinearOperatorLowerTriangular` does).
//!
//! - `log_prob(x) = −½‖L⁻¹(x−μ)‖² − Σ log|Lᵢᵢ| − (d/2) log 2π`, with one triangular solve
//!   (never an inverse or a covariance matrix).
//! - `entropy = (d/2)(1 + log 2π) + Σ log|Lᵢᵢ|`.
//! - `sample = μ + L ε`, `ε ~ N(0, I_d)`: reparameterized.
//! - `variance = diag(L Lᵀ) = Σⱼ Lᵢⱼ²`; `covariance()` is `L Lᵀ`.
//! - No closed-form CDF.

use autodiff::ops::{cholesky, log_det_tril, matmul, matmul_t, reduce_sum, sqrt, square, tril, triangular_solve};
use autodiff::random::StandardNormal;
use autodiff::{Dim, Graph, Scalar, Shape, Tensor};

use crate::util::{
    any_poisoned, bcast, check_value, concat, drop_last, fail, sample_shape, squeeze_last, sum_last, unsqueeze_last,
    HALF_LN_2PI,
};
use crate::validate::{assert_valid, Constraint};
use crate::{Distribution, Family};

/// A batch of multivariate normals parameterized by a Cholesky factor of the covariance.
///
/// ```
/// use autodiff::prelude::*;
/// use distributions::{Distribution, MultivariateNormalTriL};
///
/// let g = Graph::<f64>::new();
/// let loc = g.constant_f64(&[1.0, 2.0], [2]);
/// let l = g.constant_f64(&[1.0, 0.0, 0.5, 2.0], [2, 2]);
/// let mvn = MultivariateNormalTriL::new(loc, l);
/// assert_eq!(mvn.event_shape(), Shape::from([2]));
/// let x = mvn.sample(&[100], "eps"); // [100, 2]
/// assert_eq!(x.shape(), Shape::from([100, 2]));
/// ```
#[derive(Debug, Clone)]
pub struct MultivariateNormalTriL<'g, F: Scalar> {
    loc: Tensor<'g, F>,
    scale_tril: Tensor<'g, F>,
    batch: Shape,
    d: usize,
}

/// Checks `loc [..., d]` against a matrix `[..., d, d]` and returns `(batch shape, d)`.
#[track_caller]
pub(crate) fn check_loc_and_matrix<F: Scalar>(
    what: &'static str,
    loc: Tensor<'_, F>,
    m: Tensor<'_, F>,
    m_name: &str,
) -> Option<(Shape, usize)> {
    let (ls, ms) = (loc.shape(), m.shape());
    let g = loc.graph();
    let r = ms.rank();
    let err = |msg: String| {
        fail(g, what, msg, &[loc, m]);
        None
    };
    if r < 2 {
        return err(format!("{m_name} must have shape [..., d, d], got {ms}"));
    }
    let d = match (ms.dim(r - 2), ms.dim(r - 1)) {
        (Dim::Fixed(a), Dim::Fixed(b)) if a == b => a,
        _ => return err(format!("{m_name} must be square in its last two dimensions, got {ms}")),
    };
    if ls.rank() < 1 || ls.dim(ls.rank() - 1) != Dim::Fixed(d) {
        return err(format!("loc must have shape [..., {d}] to match {m_name} of shape {ms}, got {ls}"));
    }
    match drop_last(&ls, 1).broadcast_with(&drop_last(&ms, 2)) {
        Ok(batch) => Some((batch, d)),
        Err(_) => err(format!("the batch dimensions of loc {ls} and {m_name} {ms} do not broadcast")),
    }
}

impl<'g, F: Scalar> MultivariateNormalTriL<'g, F> {
    /// `N(loc, L Lᵀ)` with `L = tril(scale_tril)`. Shape problems (non-square `scale_tril`, a
    /// `loc` whose last dimension differs, batch shapes that do not broadcast) are recorded as
    /// an error naming `MultivariateNormalTriL` and the shapes.
    #[track_caller]
    pub fn new(loc: Tensor<'g, F>, scale_tril: Tensor<'g, F>) -> Self {
        Self::build("MultivariateNormalTriL", loc, scale_tril, "scale_tril", true)
    }

    /// `N(loc, cov)`, through the Cholesky factor of `cov` (computed in the graph, so
    /// gradients reach `cov`). A `cov` that is not positive definite fails the run in `cholesky`.
    #[track_caller]
    pub fn from_covariance(loc: Tensor<'g, F>, cov: Tensor<'g, F>) -> Self {
        let mut m = Self::build("MultivariateNormalTriL.from_covariance", loc, cov, "covariance", false);
        if !m.scale_tril.is_poisoned() {
            m.scale_tril = cholesky(cov);
        }
        m
    }

    #[track_caller]
    fn build(what: &'static str, loc: Tensor<'g, F>, m: Tensor<'g, F>, m_name: &str, take_tril: bool) -> Self {
        let g = loc.graph();
        if any_poisoned(&[loc, m]) {
            return MultivariateNormalTriL { loc, scale_tril: m, batch: Shape::scalar(), d: 0 };
        }
        match check_loc_and_matrix(what, loc, m, m_name) {
            Some((batch, d)) => {
                let scale_tril = if take_tril { tril(m) } else { m };
                MultivariateNormalTriL { loc, scale_tril, batch, d }
            }
            None => {
                let p = g.poisoned();
                MultivariateNormalTriL { loc: p, scale_tril: p, batch: Shape::scalar(), d: 0 }
            }
        }
    }

    /// The same distribution with a run-time check that the diagonal of `scale_tril` is `> 0`.
    #[track_caller]
    pub fn validated(self) -> Self {
        let scale_tril =
            assert_valid(self.scale_tril, Constraint::PositiveDiagonal, "MultivariateNormalTriL", "scale_tril");
        MultivariateNormalTriL { scale_tril, ..self }
    }

    /// The mean parameter.
    pub fn loc(&self) -> Tensor<'g, F> {
        self.loc
    }

    /// The lower-triangular scale `L` (upper triangle zeroed).
    pub fn scale_tril(&self) -> Tensor<'g, F> {
        self.scale_tril
    }

    /// The event size `d`.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// The covariance `L Lᵀ`, of shape `batch ++ [d, d]`.
    #[track_caller]
    pub fn covariance(&self) -> Tensor<'g, F> {
        let c = matmul_t(self.scale_tril, self.scale_tril, false, true);
        bcast(c, &concat(&self.batch, &Shape::from([self.d, self.d])))
    }

    fn event(&self) -> Shape {
        Shape::from([self.d])
    }
}

/// `L⁻¹ v` for vectors `v [..., d]`, with `L [..., d, d]` lower triangular: one triangular
/// solve, `L` broadcast over the leading dimensions of `v` (sample dimensions).
#[track_caller]
pub(crate) fn solve_vec<'g, F: Scalar>(l: Tensor<'g, F>, v: Tensor<'g, F>) -> Tensor<'g, F> {
    let vs = v.shape();
    let ls = l.shape();
    let lead = drop_last(&vs, 1).broadcast_with(&drop_last(&ls, 2)).unwrap_or_else(|_| drop_last(&vs, 1));
    let d = ls.dims()[ls.rank() - 1];
    let l = bcast(l, &concat(&lead, &Shape::new([d, d])));
    let v = bcast(v, &concat(&lead, &Shape::new([d])));
    squeeze_last(triangular_solve(l, unsqueeze_last(v), true, false))
}

impl<'g, F: Scalar> Distribution<'g, F> for MultivariateNormalTriL<'g, F> {
    fn name(&self) -> &'static str {
        "MultivariateNormalTriL"
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
        if !check_value("MultivariateNormalTriL.sample_with_noise", eps, &self.batch, &self.event()) {
            return self.graph().poisoned();
        }
        self.loc + squeeze_last(matmul(self.scale_tril, unsqueeze_last(eps)))
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("MultivariateNormalTriL.log_prob", x, &self.batch, &self.event()) {
            return self.graph().poisoned();
        }
        let z = solve_vec(self.scale_tril, x - self.loc);
        sum_last(square(z), 1) * F::of(-0.5)
            - log_det_tril(self.scale_tril)
            - F::of(self.d as f64 * HALF_LN_2PI)
    }
    fn cdf(&self, _x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        None
    }
    fn entropy(&self) -> Tensor<'g, F> {
        let h = log_det_tril(self.scale_tril) + F::of(self.d as f64 * (0.5 + HALF_LN_2PI));
        bcast(h, &self.batch)
    }
    fn mean(&self) -> Tensor<'g, F> {
        bcast(self.loc, &concat(&self.batch, &self.event()))
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.mean()
    }
    fn stddev(&self) -> Tensor<'g, F> {
        sqrt(self.variance())
    }
    fn variance(&self) -> Tensor<'g, F> {
        bcast(reduce_sum(square(self.scale_tril), &[-1], false), &concat(&self.batch, &self.event()))
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::MvnTriL(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.loc.graph()
    }
}
