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

use autodiff::ops::{cholesky, log_det_tril, matmul, matmul_t, reduce_sum, sqrt, square, triangular_solve, tril};
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
    /// The factor as given (before `tril`), so `validated` checks and names the user's tensor.
    given: Tensor<'g, F>,
    /// Whether `scale_tril` is `tril(given)` (false after a Cholesky, already triangular).
    take_tril: bool,
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
            m.given = m.scale_tril;
        }
        m
    }

    #[track_caller]
    fn build(what: &'static str, loc: Tensor<'g, F>, m: Tensor<'g, F>, m_name: &str, take_tril: bool) -> Self {
        let g = loc.graph();
        if any_poisoned(&[loc, m]) {
            return MultivariateNormalTriL { loc, scale_tril: m, given: m, take_tril, batch: Shape::scalar(), d: 0 };
        }
        match check_loc_and_matrix(what, loc, m, m_name) {
            Some((batch, d)) => {
                let scale_tril = if take_tril { tril(m) } else { m };
                MultivariateNormalTriL { loc, scale_tril, given: m, take_tril, batch, d }
            }
            None => {
                let p = g.poisoned();
                MultivariateNormalTriL { loc: p, scale_tril: p, given: p, take_tril, batch: Shape::scalar(), d: 0 }
            }
        }
    }

    /// The same distribution with a run-time check that the diagonal of `scale_tril` is `> 0`.
    #[track_caller]
    pub fn validated(self) -> Self {
        if self.given.is_poisoned() {
            return self;
        }
        let given = assert_valid(self.given, Constraint::PositiveDiagonal, "MultivariateNormalTriL", "scale_tril");
        let scale_tril = if self.take_tril { tril(given) } else { given };
        MultivariateNormalTriL { scale_tril, given, ..self }
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
/// solve (its batch axes broadcast, so sample axes of `v` need no copies of `L`).
#[track_caller]
pub(crate) fn solve_vec<'g, F: Scalar>(l: Tensor<'g, F>, v: Tensor<'g, F>) -> Tensor<'g, F> {
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
        if self.scale_tril.rank() == 2 && eps.rank() >= 2 {
            // One L for all draws: a single tall GEMM, `eps @ Lᵀ`.
            return self.loc + matmul_t(eps, self.scale_tril, false, true);
        }
        self.loc + squeeze_last(matmul(self.scale_tril, unsqueeze_last(eps)))
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("MultivariateNormalTriL.log_prob", x, &self.batch, &self.event()) {
            return self.graph().poisoned();
        }
        let z = solve_vec(self.scale_tril, x - self.loc);
        sum_last(square(z), 1) * F::of(-0.5) - log_det_tril(self.scale_tril) - F::of(self.d as f64 * HALF_LN_2PI)
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

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use autodiff::ops::matrix_set_diag;
    use autodiff::testing::{check_grads, Domain, Spec};

    use super::*;
    use crate::test_util::*;

    const LOC: [f64; 2] = [1.0, 2.0];
    const L: [f64; 4] = [1.0, 0.0, 0.5, 2.0];

    #[test]
    fn mvn_tril_forward_log_prob_entropy_moments() {
        // μ = [1, 2], L = [[1, 0], [½, 2]]; at x = [2, 3], Δ = [1, 1] and z = L⁻¹Δ = [1, (1 − ½)/2]
        // = [1, ¼], so log p = −½(1 + 1/16) − log 2 − log 2π.
        let out = eval_many(|g| {
            let m = MultivariateNormalTriL::new(g.constant_f64(&LOC, [2]), g.constant_f64(&L, [2, 2]));
            let x = g.constant_f64(&[2.0, 3.0, 1.0, 2.0], [2, 2]);
            vec![m.log_prob(x), m.entropy(), m.mean(), m.variance(), m.stddev(), m.covariance()]
        });
        let at_mean = -(2f64).ln() - (2.0 * PI).ln();
        close(&out[0], &[at_mean - 0.53125, at_mean], 1e-15);
        // (d/2)(1 + log 2π) + log det L, d = 2, det L = 2.
        close(&out[1], &[1.0 + (2.0 * PI).ln() + (2f64).ln()], 1e-15);
        close(&out[2], &LOC, 0.0);
        // diag(L Lᵀ) = [1, ¼ + 4].
        close(&out[3], &[1.0, 4.25], 1e-15);
        close(&out[4], &[1.0, 4.25f64.sqrt()], 1e-15);
        close(&out[5], &[1.0, 0.5, 0.5, 4.25], 1e-15);
    }

    #[test]
    fn mvn_tril_ignores_the_upper_triangle_and_matches_from_covariance() {
        let out = eval_many(|g| {
            let x = g.constant_f64(&[2.0, 3.0], [2]);
            let upper =
                MultivariateNormalTriL::new(g.constant_f64(&LOC, [2]), g.constant_f64(&[1.0, 9.0, 0.5, 2.0], [2, 2]));
            let cov = MultivariateNormalTriL::from_covariance(
                g.constant_f64(&LOC, [2]),
                g.constant_f64(&[1.0, 0.5, 0.5, 4.25], [2, 2]),
            );
            vec![upper.log_prob(x), cov.log_prob(x), cov.scale_tril()]
        });
        let want = -(2f64).ln() - (2.0 * PI).ln() - 0.53125;
        close(&out[0], &[want], 1e-15);
        close(&out[1], &[want], 1e-14);
        close(&out[2], &L, 1e-15);
    }

    #[test]
    fn mvn_tril_forward_batches_and_samples() {
        // Two matrices against one loc: batch [2]; draws [3, 2, 2].
        let out = eval_many(|g| {
            let ls = g.constant_f64(&[1.0, 0.0, 0.5, 2.0, 2.0, 0.0, 1.0, 1.0], [2, 2, 2]);
            let m = MultivariateNormalTriL::new(g.constant_f64(&LOC, [2]), ls);
            assert_eq!(m.batch_shape(), Shape::from([2]));
            assert_eq!(m.sample(&[3], "eps").shape(), Shape::from([3, 2, 2]));
            // ε = [1, −1] for both: μ + Lε = [1 + 1, 2 + ½ − 2] and [1 + 2, 2 + 1 − 1].
            let eps = g.constant_f64(&[1.0, -1.0], [2]);
            vec![m.sample_with_noise(eps), m.entropy()]
        });
        close(&out[0], &[2.0, 0.5, 3.0, 2.0], 1e-15);
        let h0 = 1.0 + (2.0 * PI).ln();
        close(&out[1], &[h0 + (2f64).ln(), h0 + (2f64).ln()], 1e-15);
    }

    /// A lower-triangular factor with a positive diagonal from unconstrained inputs.
    fn factor<'g>(x: Tensor<'g, f64>, d: Tensor<'g, f64>) -> Tensor<'g, f64> {
        matrix_set_diag(tril(x), d)
    }

    #[test]
    fn mvn_tril_grad_log_prob_entropy_sample() {
        let specs = [Spec::new([3]), Spec::new([3, 3]), Spec::new([3]).domain(Domain::Positive), Spec::new([2, 3])];
        check_grads(|_, x| MultivariateNormalTriL::new(x[0], factor(x[1], x[2])).log_prob(x[3]), &specs, 2);
        check_grads(|_, x| MultivariateNormalTriL::new(x[0], factor(x[1], x[2])).entropy(), &specs[..3], 2);
        check_grads(|_, x| MultivariateNormalTriL::new(x[0], factor(x[1], x[2])).sample(&[2], "eps"), &specs[..3], 2);
        check_grads(|_, x| MultivariateNormalTriL::new(x[0], factor(x[1], x[2])).variance(), &specs[..3], 2);
    }

    #[test]
    fn mvn_tril_grad_from_covariance() {
        check_grads(
            |_, x| MultivariateNormalTriL::from_covariance(x[0], x[1]).log_prob(x[2]),
            &[Spec::new([2]), Spec::new([2, 2]).domain(Domain::PosDef), Spec::new([2])],
            1,
        );
    }

    #[test]
    fn mvn_tril_shape_errors() {
        let e = build_error(|g| {
            MultivariateNormalTriL::new(g.constant_f64(&[0.0; 2], [2]), g.constant_f64(&[1.0; 6], [2, 3]));
        });
        assert!(
            e.contains("MultivariateNormalTriL") && e.contains("scale_tril must be square") && e.contains("[2, 3]"),
            "{e}"
        );
        let e = build_error(|g| {
            MultivariateNormalTriL::new(g.constant_f64(&[0.0; 3], [3]), g.constant_f64(&[1.0; 4], [2, 2]));
        });
        assert!(e.contains("loc must have shape [..., 2]") && e.contains("got [3]"), "{e}");
        let e = build_error(|g| {
            MultivariateNormalTriL::new(g.constant_f64(&[0.0; 2], [2]), g.constant_f64(&[1.0; 2], [2]));
        });
        assert!(e.contains("scale_tril must have shape [..., d, d], got [2]"), "{e}");
        let e = build_error(|g| {
            let m = MultivariateNormalTriL::new(g.constant_f64(&[0.0; 2], [2]), g.constant_f64(&L, [2, 2]));
            m.log_prob(g.constant_f64(&[0.0; 3], [3]));
        });
        assert!(e.contains("MultivariateNormalTriL.log_prob") && e.contains("event shape [2]"), "{e}");
    }

    #[test]
    fn mvn_tril_validated_checks_the_diagonal() {
        let e = run_error(|g| {
            let l = g.constant_f64(&[1.0, 0.0, 0.5, -2.0], [2, 2]).named("posterior_scale");
            vec![MultivariateNormalTriL::new(g.constant_f64(&LOC, [2]), l).validated().entropy()]
        });
        assert!(
            e.contains(
                "MultivariateNormalTriL (posterior_scale): scale_tril must have a diagonal > 0, got -2 at element 3"
            ),
            "{e}"
        );
    }
}
