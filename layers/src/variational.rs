//! The shared base of the variational layers (TFP's `_DenseVariational` and `_ConvVariational`):
//! posterior, prior and divergence for the kernel and the bias, an activation and an activity
//! regularizer, with the estimator ([`KernelEstimator`]) and the linear map ([`LinearMap`]) as
//! the only parts that differ between `DenseFlipout`, `DenseReparameterization`,
//! `DenseLocalReparameterization` and their conv siblings.
//!
//! Defaults are TFP's: mean-field Normal kernel posterior (loc `N(0, 0.1²)`, ρ `N(−3, 0.1²)`,
//! σ = eps + softplus(ρ)), sampled; `N(0, 1)` kernel prior over the whole kernel with the
//! analytic KL; a point-estimate bias (loc `N(0, 0.1²)`) with no prior, hence no bias KL; no
//! activation. Unlike TFP, every layer has `kl_weight` (1 by default), `seed` covers the weight
//! noise as well as the Flipout signs, and the divergence function always receives a sample.

use std::sync::Arc;

use autodiff::prelude::*;
use std::panic::Location;

use crate::activation::Activation;
use crate::builders::{DistFn, MeanFieldNormal, NormalPrior, PointEstimate};
use crate::divergence::Divergence;
use crate::estimators::{Flipout, KernelEstimator, LocalReparameterization, Reparameterization};
use crate::layer::{in_user_code, Layer, LayerCx, LossKind};
use crate::linear_map::{DenseMap, LinearMap};
use crate::tensor_fn::TensorFn;

/// A function of a layer's output whose value is added to the losses (Keras' activity
/// regularizer), or of a parameter.
pub type Regularizer<F> = Arc<dyn for<'g> Fn(Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync>;

/// A layer's `kl_weight` must be a finite, non-negative factor.
pub(crate) fn check_kl_weight(w: f64) -> Result<(), String> {
    if w.is_finite() && w >= 0.0 {
        Ok(())
    } else {
        Err(format!("kl_weight must be finite and non-negative, got {w}"))
    }
}

/// A regularizer's value at `t`, summed to a scalar if it is not one (Keras' regularizers return
/// the sum; a function returning a penalty per element means the same).
pub(crate) fn regularization<'g, F: Scalar>(regularizer: &Regularizer<F>, t: Tensor<'g, F>) -> Tensor<'g, F> {
    let v = in_user_code(t.graph(), || regularizer(t));
    if v.rank() == 0 {
        v
    } else {
        v.sum_all()
    }
}

/// Registers an activity regularizer's value at the output `y` (`[batch, ...]`) divided by the
/// batch size, as Keras does so that the penalty's strength does not depend on the batch size:
/// `l2(λ)` adds `λ Σ y² / batch`. A value that is not a scalar is summed first.
pub(crate) fn add_activity_regularization<'g, F: Scalar>(
    cx: &mut LayerCx<'g, '_, F>,
    regularizer: &Regularizer<F>,
    y: Tensor<'g, F>,
) {
    let v = regularization(regularizer, y);
    // The batch size is only known when the plan runs: count the output's elements, and divide
    // by the (fixed) elements per example.
    let per_example: usize = y.shape().dims().iter().skip(1).filter_map(|d| d.fixed()).product();
    let examples = ones_like(y).sum_all() * F::of(1.0 / per_example as f64);
    cx.add_loss("activity_regularizer", v / examples, LossKind::Regularizer);
}

/// A variational layer: estimator `E` applied through the linear map `M`.
#[derive(Clone)]
pub struct Variational<F: Scalar, E: KernelEstimator, M: LinearMap<F>> {
    name: String,
    /// Where the layer was created (see [`Layer::origin`]).
    origin: &'static Location<'static>,
    /// The linear map (units, or conv geometry).
    pub map: M,
    /// The estimator.
    pub estimator: E,
    /// Activation (default: none).
    pub activation: Activation<F>,
    /// Activity regularizer (default: none); its value is divided by the batch size, as in
    /// Keras.
    pub activity_regularizer: Option<Regularizer<F>>,
    /// Whether optimizers update the layer's parameters (default: true).
    pub trainable: bool,
    /// Kernel posterior builder (default: [`MeanFieldNormal`]).
    pub kernel_posterior_fn: DistFn<F>,
    /// Kernel posterior tensor function (default: sample).
    pub kernel_posterior_tensor_fn: TensorFn<F>,
    /// Kernel prior builder, `None` for no prior and no KL (default: [`NormalPrior::standard`]).
    pub kernel_prior_fn: Option<DistFn<F>>,
    /// Kernel divergence (default: analytic KL).
    pub kernel_divergence_fn: Divergence<F>,
    /// Bias posterior builder, `None` for no bias (default: [`PointEstimate`]).
    pub bias_posterior_fn: Option<DistFn<F>>,
    /// Bias posterior tensor function (default: sample, which for a point estimate is its loc).
    pub bias_posterior_tensor_fn: TensorFn<F>,
    /// Bias prior builder (default: none, so no bias KL).
    pub bias_prior_fn: Option<DistFn<F>>,
    /// Bias divergence (default: analytic KL).
    pub bias_divergence_fn: Divergence<F>,
    /// Seed of the layer's noise (weights and signs); `None` uses the session's seed.
    pub seed: Option<u64>,
    /// Multiplies every divergence the layer registers (default 1). The ELBO helper already
    /// divides the total by the number of training examples: don't also put `1/N` here.
    pub kl_weight: f64,
}

/// Dense Flipout layer (Wen et al. 2018), TFP's `DenseFlipout`.
pub type DenseFlipout<F> = Variational<F, Flipout, DenseMap>;
/// Dense layer with one kernel sample per run, TFP's `DenseReparameterization`.
pub type DenseReparameterization<F> = Variational<F, Reparameterization, DenseMap>;
/// Dense layer sampling pre-activations, TFP's `DenseLocalReparameterization`.
pub type DenseLocalReparameterization<F> = Variational<F, LocalReparameterization, DenseMap>;

impl<F: Scalar, E: KernelEstimator + Default> Variational<F, E, DenseMap> {
    /// A dense variational layer with `units` outputs and TFP's defaults, named
    /// `dense_{estimator}`.
    #[track_caller]
    pub fn new(units: usize) -> Self {
        Self::with_map(DenseMap { units }, E::default(), format!("dense_{}", E::NAME))
    }
}

impl<F: Scalar, E: KernelEstimator, M: LinearMap<F>> Variational<F, E, M> {
    /// A layer with TFP's defaults for the given map and estimator.
    #[track_caller]
    pub fn with_map(map: M, estimator: E, name: String) -> Self {
        Variational {
            name,
            origin: Location::caller(),
            map,
            estimator,
            activation: Activation::Linear,
            activity_regularizer: None,
            trainable: true,
            kernel_posterior_fn: Arc::new(MeanFieldNormal::default()),
            kernel_posterior_tensor_fn: TensorFn::Sample,
            kernel_prior_fn: Some(Arc::new(NormalPrior::standard())),
            kernel_divergence_fn: Divergence::Analytic,
            bias_posterior_fn: Some(Arc::new(PointEstimate::default())),
            bias_posterior_tensor_fn: TensorFn::Sample,
            bias_prior_fn: None,
            bias_divergence_fn: Divergence::Analytic,
            seed: None,
            kl_weight: 1.0,
        }
    }

    /// Sets the name (the scope of its parameters and noise).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }
    /// Sets the activation.
    pub fn activation(mut self, a: Activation<F>) -> Self {
        self.activation = a;
        self
    }
    /// Sets an activity regularizer.
    pub fn activity_regularizer(
        mut self,
        r: impl for<'g> Fn(Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync + 'static,
    ) -> Self {
        self.activity_regularizer = Some(Arc::new(r));
        self
    }
    /// Freezes or unfreezes the layer's parameters.
    pub fn trainable(mut self, t: bool) -> Self {
        self.trainable = t;
        self
    }
    /// Sets the kernel posterior builder.
    pub fn kernel_posterior_fn(mut self, f: impl crate::builders::DistributionFn<F> + 'static) -> Self {
        self.kernel_posterior_fn = Arc::new(f);
        self
    }
    /// Sets the kernel posterior tensor function.
    pub fn kernel_posterior_tensor_fn(mut self, f: TensorFn<F>) -> Self {
        self.kernel_posterior_tensor_fn = f;
        self
    }
    /// Sets the kernel prior builder (`None`: no prior, no kernel KL).
    pub fn kernel_prior_fn(mut self, f: Option<DistFn<F>>) -> Self {
        self.kernel_prior_fn = f;
        self
    }
    /// Sets the kernel divergence.
    pub fn kernel_divergence_fn(mut self, d: Divergence<F>) -> Self {
        self.kernel_divergence_fn = d;
        self
    }
    /// Sets the bias posterior builder (`None`: no bias).
    pub fn bias_posterior_fn(mut self, f: Option<DistFn<F>>) -> Self {
        self.bias_posterior_fn = f;
        self
    }
    /// Sets the bias posterior tensor function.
    pub fn bias_posterior_tensor_fn(mut self, f: TensorFn<F>) -> Self {
        self.bias_posterior_tensor_fn = f;
        self
    }
    /// Sets the bias prior builder (`None`: no bias KL).
    pub fn bias_prior_fn(mut self, f: Option<DistFn<F>>) -> Self {
        self.bias_prior_fn = f;
        self
    }
    /// Sets the bias divergence.
    pub fn bias_divergence_fn(mut self, d: Divergence<F>) -> Self {
        self.bias_divergence_fn = d;
        self
    }
    /// Seeds the layer's noise.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Sets the weight of the layer's divergences.
    pub fn kl_weight(mut self, w: f64) -> Self {
        self.kl_weight = w;
        self
    }

    fn add_divergence<'g>(&self, cx: &mut LayerCx<'g, '_, F>, label: &str, d: Option<Tensor<'g, F>>) {
        if let Some(d) = d {
            let d = if self.kl_weight == 1.0 { d } else { d * F::of(self.kl_weight) };
            cx.add_loss(label, d, LossKind::Divergence);
        }
    }
}

impl<F: Scalar, E: KernelEstimator, M: LinearMap<F>> Layer<F> for Variational<F, E, M> {
    fn name(&self) -> &str {
        &self.name
    }

    fn seed(&self) -> Option<u64> {
        self.seed
    }

    fn origin(&self) -> Option<&'static Location<'static>> {
        Some(self.origin)
    }

    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        let kernel_shape = match check_kl_weight(self.kl_weight).and_then(|()| self.map.kernel_shape(&x.shape())) {
            Ok(s) => s,
            Err(msg) => {
                let layer = format!("{}{} ({})", self.map.family(), E::TITLE, self.name);
                g.record_shape_error("variational layer", ShapeError::Custom(format!("{layer}: {msg}")), &[x]);
                return g.poisoned();
            }
        };
        let q = self.kernel_posterior_fn.build(cx, "kernel_posterior", &kernel_shape, self.trainable);
        let p = self.kernel_prior_fn.as_ref().map(|f| f.build(cx, "kernel_prior", &kernel_shape, self.trainable));
        let applied = self.estimator.apply(x, q.as_ref(), &self.kernel_posterior_tensor_fn, &self.map, cx);
        let mut y = applied.output;
        if let Some(p) = &p {
            let d = self.kernel_divergence_fn.apply(q.as_ref(), p.as_ref(), applied.kernel_sample);
            self.add_divergence(cx, "kernel_divergence", d);
        }
        if let Some(bf) = &self.bias_posterior_fn {
            let bias_shape = self.map.bias_shape();
            let qb = bf.build(cx, "bias_posterior", &bias_shape, self.trainable);
            let pb = self.bias_prior_fn.as_ref().map(|f| f.build(cx, "bias_prior", &bias_shape, self.trainable));
            let b = self.bias_posterior_tensor_fn.apply(qb.as_ref(), cx, "bias_posterior/eps");
            y = self.map.add_bias(y, b);
            if let Some(pb) = &pb {
                let d = self.bias_divergence_fn.apply(qb.as_ref(), pb.as_ref(), b);
                self.add_divergence(cx, "bias_divergence", d);
            }
        }
        let y = self.activation.apply(y);
        if let Some(r) = &self.activity_regularizer {
            add_activity_regularization(cx, r, y);
        }
        y
    }
}
