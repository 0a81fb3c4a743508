//! The [`Distribution`] trait and the [`Family`] downcast used by the dynamic KL dispatch.

use autodiff::ops::exp;
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::{
    Bernoulli, Categorical, Deterministic, Independent, Laplace, MultivariateNormalDiag, MultivariateNormalTriL,
    Normal, ScaleMixtureNormal, StudentT,
};

/// A probability distribution whose parameters are graph tensors.
///
/// Every method adds nodes to the distribution's graph and returns them, so densities, samples,
/// moments and divergences are differentiated like any other node. Shapes follow TensorFlow
/// Probability: a distribution is a batch of independent distributions of shape
/// [`batch_shape`](Distribution::batch_shape), each over values of shape
/// [`event_shape`](Distribution::event_shape). `log_prob(x)` takes `x` of shape
/// `[sample..., batch..., event...]` (broadcasting against `batch ++ event`) and returns
/// `[sample..., batch...]`.
///
/// Methods never panic: a value of the wrong shape, or a quantity the family does not have,
/// is recorded as a graph error naming the distribution and returned as a poisoned tensor.
pub trait Distribution<'g, F: Scalar> {
    /// The family's name: `"Normal"`, `"Independent"`, ...
    fn name(&self) -> &'static str;

    /// The shape of the batch of independent distributions.
    fn batch_shape(&self) -> Shape;

    /// The shape of one draw of one distribution of the batch.
    fn event_shape(&self) -> Shape;

    /// A draw of shape `sample_shape ++ batch_shape ++ event_shape`.
    ///
    /// The noise is a random leaf of the graph created in the current name scope under `salt`
    /// (re-drawn on every run, frozen by `Session::run_at_step`); the draw is a differentiable
    /// transform of it where the family allows (see
    /// [`is_reparameterized`](Distribution::is_reparameterized)).
    #[track_caller]
    fn sample(&self, sample_shape: &[usize], salt: &str) -> Tensor<'g, F>;

    /// The draw [`sample`](Distribution::sample) makes from the given standard noise: `eps` is
    /// a draw of the family's standard member (`N(0, 1)` for the normal families, `Laplace(0, 1)`
    /// for [`Laplace`], a standard Student-t with this `df` for [`StudentT`]), and the result is
    /// `loc + scale * eps` (`loc + L @ eps` for the multivariate normals). Lets a caller share
    /// or reuse noise. Families without such a transform (discrete ones, mixtures) record an
    /// error.
    #[track_caller]
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F>;

    /// The log density (or log mass) at `x`, of shape `[sample..., batch...]`.
    #[track_caller]
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F>;

    /// The density at `x`: `exp(log_prob(x))` unless the family has a direct form.
    #[track_caller]
    fn prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        exp(self.log_prob(x))
    }

    /// The cumulative distribution function at `x`, where a closed form exists.
    #[track_caller]
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>>;

    /// The (differential) entropy, of shape `batch_shape`.
    #[track_caller]
    fn entropy(&self) -> Tensor<'g, F>;

    /// The mean, of shape `batch ++ event`.
    #[track_caller]
    fn mean(&self) -> Tensor<'g, F>;

    /// The mode, of shape `batch ++ event`.
    #[track_caller]
    fn mode(&self) -> Tensor<'g, F>;

    /// The standard deviation (per component for multivariate families), of shape `batch ++ event`.
    #[track_caller]
    fn stddev(&self) -> Tensor<'g, F>;

    /// The variance (per component for multivariate families), of shape `batch ++ event`.
    #[track_caller]
    fn variance(&self) -> Tensor<'g, F>;

    /// The family's declared reparameterization type, as in TFP: whether samples are a
    /// differentiable function of every parameter and noise. `Deterministic` declares `false`
    /// like TFP's, although its sample, `loc` itself, passes gradients to `loc`.
    fn is_reparameterized(&self) -> bool;

    /// Which family this is, for the dynamic KL dispatch of [`crate::kl_divergence`].
    fn family(&self) -> Family<'_, 'g, F>;

    /// The graph holding the parameters.
    fn graph(&self) -> &'g Graph<F>;
}

/// A distribution seen as its concrete family, so code holding a `&dyn Distribution` can pick
/// the analytic KL of a pair. Families defined outside this crate report
/// [`Family::Other`] with their name.
#[derive(Debug)]
pub enum Family<'a, 'g, F: Scalar> {
    /// [`Normal`].
    Normal(&'a Normal<'g, F>),
    /// [`Independent`].
    Independent(&'a Independent<'g, F>),
    /// [`Deterministic`].
    Deterministic(&'a Deterministic<'g, F>),
    /// [`MultivariateNormalTriL`].
    MvnTriL(&'a MultivariateNormalTriL<'g, F>),
    /// [`MultivariateNormalDiag`].
    MvnDiag(&'a MultivariateNormalDiag<'g, F>),
    /// [`Laplace`].
    Laplace(&'a Laplace<'g, F>),
    /// [`StudentT`].
    StudentT(&'a StudentT<'g, F>),
    /// [`ScaleMixtureNormal`].
    ScaleMixture(&'a ScaleMixtureNormal<'g, F>),
    /// [`Bernoulli`].
    Bernoulli(&'a Bernoulli<'g, F>),
    /// [`Categorical`].
    Categorical(&'a Categorical<'g, F>),
    /// A family defined elsewhere, by name.
    Other(&'static str),
}
