//! Posterior and prior builders: TFP's `kernel_posterior_fn`, `kernel_prior_fn` and friends.
//!
//! A builder creates whatever parameters it needs through the [`LayerCx`] (named after the
//! role, e.g. `kernel_posterior_loc`) and returns a distribution over a tensor of the requested
//! shape, with an empty batch shape and the whole tensor as its event (TFP's
//! `Independent(..., reinterpreted_batch_ndims=rank)`), so its KL is one scalar.

use std::sync::Arc;

use autodiff::prelude::*;
use distributions::{Deterministic, Distribution, Independent, Normal, ScaleMixtureNormal};

use crate::layer::{in_user_code, LayerCx};

/// Builds a distribution over a tensor of a given shape.
pub trait DistributionFn<F: Scalar>: Send + Sync {
    /// Creates parameters as needed (named `{name}_...`) and returns the distribution.
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        name: &str,
        shape: &[usize],
        trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g>;
}

/// A shared builder.
pub type DistFn<F> = Arc<dyn DistributionFn<F>>;

/// Any closure with the builder's signature is a builder: this is the escape hatch for
/// posteriors and priors the library does not ship. Pass the closure through
/// [`distribution_fn`] so that Rust gives it that signature.
impl<F: Scalar, C> DistributionFn<F> for C
where
    C: for<'g, 's> Fn(&mut LayerCx<'g, 's, F>, &str, &[usize], bool) -> Box<dyn Distribution<'g, F> + 'g> + Send + Sync,
{
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        name: &str,
        shape: &[usize],
        trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g> {
        let g = cx.graph();
        in_user_code(g, || self(cx, name, shape, trainable))
    }
}

/// Returns `f`, typed as a builder. A closure's signature is inferred from where it is written,
/// and a builder's (its result borrows the graph of its first argument) cannot be inferred from
/// `Arc::new(|cx, name, shape, trainable| ...)`; written as the argument of this function, it
/// is. The result goes wherever a builder does:
///
/// ```
/// use std::sync::Arc;
/// use distributions::{Independent, Normal};
/// use layers::builders::distribution_fn;
/// use layers::DenseFlipout;
///
/// // TFP's `lambda dtype, shape, name, trainable, add_variable_fn: tfd.Independent(
/// //     tfd.Normal(0., 0.5), reinterpreted_batch_ndims=len(shape))`.
/// let prior = distribution_fn(|cx, _name, shape, _trainable| {
///     let g = cx.graph();
///     let normal = Normal::with_batch_shape(g.scalar(0.0), g.scalar(0.5), shape);
///     Box::new(Independent::new(Box::new(normal), shape.len()))
/// });
/// let layer = DenseFlipout::<f32>::new(10).kernel_prior_fn(Some(Arc::new(prior)));
/// let net = layers::Sequential::new().add(layer);
/// assert!(layers::Model::new(net, &[4], layers::Likelihood::Categorical, 0).is_ok());
/// ```
pub fn distribution_fn<F: Scalar, C>(f: C) -> C
where
    C: for<'g, 's> Fn(&mut LayerCx<'g, 's, F>, &str, &[usize], bool) -> Box<dyn Distribution<'g, F> + 'g> + Send + Sync,
{
    f
}

/// `σ = eps(dtype) + softplus(ρ)`: TFP's transform of the untransformed scale. The machine
/// epsilon (1.19e-7 in f32, 2.2e-16 in f64) keeps σ positive when softplus underflows.
#[track_caller]
pub fn scale_from_untransformed<F: Scalar>(rho: Tensor<'_, F>) -> Tensor<'_, F> {
    softplus_low(rho, F::EPS)
}

/// The mean-field Normal posterior (TFP's `default_mean_field_normal_fn`): independent
/// `N(loc, eps + softplus(ρ))` per element, with `loc ~ N(0, 0.1²)` and `ρ ~ N(−3, 0.1²)` at
/// initialisation (σ ≈ 0.0486).
#[derive(Clone, Copy, Debug)]
pub struct MeanFieldNormal {
    /// Initializer of the loc (TFP: `RandomNormal(0, 0.1)`).
    pub loc_init: Init,
    /// Initializer of ρ, the untransformed scale (TFP: `RandomNormal(-3, 0.1)`).
    pub untransformed_scale_init: Init,
}

impl Default for MeanFieldNormal {
    fn default() -> Self {
        MeanFieldNormal {
            loc_init: Init::Normal { mean: 0.0, std: 0.1 },
            untransformed_scale_init: Init::Normal { mean: -3.0, std: 0.1 },
        }
    }
}

impl<F: Scalar> DistributionFn<F> for MeanFieldNormal {
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        name: &str,
        shape: &[usize],
        trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g> {
        let loc = cx.param(&format!("{name}_loc"), shape, self.loc_init, trainable);
        let rho = cx.param(&format!("{name}_untransformed_scale"), shape, self.untransformed_scale_init, trainable);
        let scale = scale_from_untransformed(rho);
        Box::new(Independent::new(Box::new(Normal::new(loc, scale)), shape.len()))
    }
}

/// A point estimate: `Deterministic(loc)` (TFP's `default_mean_field_normal_fn(is_singular=True)`,
/// the default bias posterior), with `loc ~ N(0, 0.1²)` at initialisation.
#[derive(Clone, Copy, Debug)]
pub struct PointEstimate {
    /// Initializer of the loc.
    pub loc_init: Init,
}

impl Default for PointEstimate {
    fn default() -> Self {
        PointEstimate { loc_init: Init::Normal { mean: 0.0, std: 0.1 } }
    }
}

impl<F: Scalar> DistributionFn<F> for PointEstimate {
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        name: &str,
        shape: &[usize],
        trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g> {
        let loc = cx.param(&format!("{name}_loc"), shape, self.loc_init, trainable);
        Box::new(Independent::new(Box::new(Deterministic::new(loc)), shape.len()))
    }
}

/// A fixed Normal prior `N(loc, scale²)` on every element. `NormalPrior::standard()` is TFP's
/// `default_multivariate_normal_fn`. Creates no parameters.
#[derive(Clone, Copy, Debug)]
pub struct NormalPrior {
    /// Mean.
    pub loc: f64,
    /// Standard deviation.
    pub scale: f64,
}

impl NormalPrior {
    /// `N(0, 1)`.
    pub fn standard() -> Self {
        NormalPrior { loc: 0.0, scale: 1.0 }
    }
}

impl Default for NormalPrior {
    fn default() -> Self {
        Self::standard()
    }
}

impl<F: Scalar> DistributionFn<F> for NormalPrior {
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        name: &str,
        shape: &[usize],
        _trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g> {
        // Scalars over the kernel's shape: nothing of the kernel's size is materialised.
        let g = cx.graph();
        check_prior_constant(g, &format!("NormalPrior {name}"), "loc", self.loc, false);
        check_prior_constant(g, &format!("NormalPrior {name}"), "scale", self.scale, true);
        let normal = Normal::with_batch_shape(g.scalar(self.loc), g.scalar(self.scale), shape);
        Box::new(Independent::new(Box::new(normal), shape.len()))
    }
}

/// Records an error naming the prior (`what`, e.g. `"NormalPrior kernel_prior"`) if a fixed
/// constant would make every KL NaN or infinite.
fn check_prior_constant<F: Scalar>(g: &Graph<F>, what: &str, constant: &str, value: f64, positive: bool) {
    if !(value.is_finite() && (!positive || value > 0.0)) {
        let need = if positive { "positive and finite" } else { "finite" };
        let msg = format!("{what}: {constant} must be {need}, got {value}");
        g.record_shape_error("prior", ShapeError::Custom(msg), &[]);
    }
}

/// A trainable Normal prior (empirical Bayes): a per-element loc, and either a per-element
/// untransformed scale (`scale: None`, the default; `σ = eps + softplus(ρ)` like the
/// mean-field posterior) or a fixed scale.
///
/// The default starts at `N(0, 1)` (loc 0, ρ = log(e − 1), so σ = 1 + eps). With both loc and
/// scale free per element, the prior can follow the posterior wherever the data does not hold
/// it, and the KL can shrink towards 0. TFP's `DenseVariational` tutorial learns the loc only,
/// with scale 1 (its `prior_trainable`): that is [`TrainableNormalPrior::loc_only`]`(1.0)`.
#[derive(Clone, Copy, Debug)]
pub struct TrainableNormalPrior {
    /// Initializer of the loc.
    pub loc_init: Init,
    /// Initializer of the untransformed scale (unused with a fixed `scale`).
    pub untransformed_scale_init: Init,
    /// A fixed scale; `None` learns one per element.
    pub scale: Option<f64>,
}

impl Default for TrainableNormalPrior {
    fn default() -> Self {
        TrainableNormalPrior {
            loc_init: Init::Zeros,
            // softplus(log(e − 1)) = 1
            untransformed_scale_init: Init::Constant(1.0f64.exp_m1().ln()),
            scale: None,
        }
    }
}

impl TrainableNormalPrior {
    /// A prior with a trainable loc (initialised to 0) and the fixed `scale`: TFP's tutorial
    /// `prior_trainable` is `loc_only(1.0)`.
    pub fn loc_only(scale: f64) -> Self {
        TrainableNormalPrior { scale: Some(scale), ..Self::default() }
    }
}

impl<F: Scalar> DistributionFn<F> for TrainableNormalPrior {
    /// The same family as the mean-field posterior, with the prior's initializers; or a
    /// trainable loc with a fixed scale.
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        name: &str,
        shape: &[usize],
        trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g> {
        match self.scale {
            None => {
                let family = MeanFieldNormal {
                    loc_init: self.loc_init,
                    untransformed_scale_init: self.untransformed_scale_init,
                };
                family.build(cx, name, shape, trainable)
            }
            Some(scale) => {
                check_prior_constant(cx.graph(), &format!("TrainableNormalPrior {name}"), "scale", scale, true);
                let loc = cx.param(&format!("{name}_loc"), shape, self.loc_init, trainable);
                let normal = Normal::with_batch_shape(loc, cx.graph().scalar(scale), shape);
                Box::new(Independent::new(Box::new(normal), shape.len()))
            }
        }
    }
}

/// The scale-mixture prior of Blundell et al. (2015), `π N(0, σ₁²) + (1 − π) N(0, σ₂²)` per
/// element. It has no analytic KL: use it with [`Divergence::MonteCarlo`](crate::Divergence).
#[derive(Clone, Copy, Debug)]
pub struct ScaleMixturePrior {
    /// Weight of the first component.
    pub pi: f64,
    /// Scale of the first component.
    pub sigma1: f64,
    /// Scale of the second component.
    pub sigma2: f64,
}

impl<F: Scalar> DistributionFn<F> for ScaleMixturePrior {
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        _name: &str,
        shape: &[usize],
        _trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g> {
        let g = cx.graph();
        let mix = ScaleMixtureNormal::new(g, shape, self.pi, self.sigma1, self.sigma2);
        Box::new(Independent::new(Box::new(mix), shape.len()))
    }
}

/// A full-covariance multivariate Normal over a vector `[n]` (for [`DenseVariational`](crate::dense_variational::DenseVariational)):
/// `loc [n]` and a raw `[n, n]` matrix whose strict lower triangle is the scale's and whose
/// diagonal is `eps + softplus(raw diagonal)`. Initialised like the mean-field posterior: loc
/// `N(0, 0.1²)`, off-diagonal 0 and diagonal ρ `N(−3, 0.1²)`.
#[derive(Clone, Copy, Debug)]
pub struct MvnTriLPosterior {
    /// Initializer of the loc.
    pub loc_init: Init,
    /// Initializer of the untransformed diagonal.
    pub untransformed_diag_init: Init,
}

impl Default for MvnTriLPosterior {
    fn default() -> Self {
        MvnTriLPosterior {
            loc_init: Init::Normal { mean: 0.0, std: 0.1 },
            untransformed_diag_init: Init::Normal { mean: -3.0, std: 0.1 },
        }
    }
}

impl<F: Scalar> DistributionFn<F> for MvnTriLPosterior {
    fn build<'g>(
        &self,
        cx: &mut LayerCx<'g, '_, F>,
        name: &str,
        shape: &[usize],
        trainable: bool,
    ) -> Box<dyn Distribution<'g, F> + 'g> {
        let n: usize = shape.iter().product();
        let loc = cx.param(&format!("{name}_loc"), &[n], self.loc_init, trainable);
        let off = cx.param(&format!("{name}_scale_tril_offdiag"), &[n, n], Init::Zeros, trainable);
        let diag = cx.param(&format!("{name}_untransformed_scale_diag"), &[n], self.untransformed_diag_init, trainable);
        let tril = matrix_set_diag(band_part(off, -1, 0), scale_from_untransformed(diag));
        Box::new(distributions::MultivariateNormalTriL::new(loc, tril))
    }
}
