//! `DenseVariational` (TFP's v2 `tfp.layers.DenseVariational`): a posterior and a prior over the
//! flattened kernel-and-bias vector, so they may be any distribution over it, including a
//! full-covariance multivariate Normal.
//!
//! With `n_in` inputs and `units` outputs, the vector has `n_in·units (+ units)` elements: the
//! kernel first, row-major (element `i·units + j` is `K[i, j]`), then the bias. The forward
//! pass draws one vector per run (or takes the posterior mean in [`Mode::Mean`]) and computes
//! `activation(x @ K + b)`. The divergence is `kl_weight · KL(q ‖ p)` with `kl_use_exact`, else
//! the single-sample estimate `kl_weight · (log q(w) − log p(w))` at the same draw `w` the
//! forward pass used (as TFP's cached `convert_to_tensor` does).

use std::sync::Arc;

use autodiff::prelude::*;
use distributions::{kl_divergence, mc_kl};
use std::panic::Location;

use crate::activation::Activation;
use crate::builders::{DistFn, DistributionFn};
use crate::layer::{Layer, LayerCx, LossKind, Mode};
use crate::linear_map::{DenseMap, LinearMap};
use crate::tensor_fn::sample;
use crate::variational::{add_activity_regularization, check_kl_weight, Regularizer};

/// TFP's v2 variational dense layer.
#[derive(Clone)]
pub struct DenseVariational<F: Scalar> {
    name: String,
    /// Where the layer was created (see [`Layer::origin`]).
    origin: &'static Location<'static>,
    /// Output units.
    pub units: usize,
    /// Builds the posterior over the `[n]` kernel-and-bias vector.
    pub make_posterior_fn: DistFn<F>,
    /// Builds the prior over the same vector.
    pub make_prior_fn: DistFn<F>,
    /// Multiplies the divergence (TFP: `None`, i.e. 1). The training loss already divides the
    /// divergence by the number of training examples (see [`elbo_loss`](crate::elbo_loss)): TFP's
    /// idiom `kl_weight=1/N` would divide it twice here.
    pub kl_weight: f64,
    /// Analytic KL (true) or the Monte-Carlo estimate at the forward sample (false, TFP's default).
    pub kl_use_exact: bool,
    /// Activation.
    pub activation: Activation<F>,
    /// Activity regularizer (default: none); its value is divided by the batch size, as in
    /// Keras.
    pub activity_regularizer: Option<Regularizer<F>>,
    /// Whether the vector includes a bias.
    pub use_bias: bool,
    /// Whether optimizers update the posterior's and prior's parameters.
    pub trainable: bool,
}

impl<F: Scalar> DenseVariational<F> {
    /// A layer with `units` outputs and the given posterior and prior builders.
    #[track_caller]
    pub fn new(
        units: usize,
        make_posterior_fn: impl DistributionFn<F> + 'static,
        make_prior_fn: impl DistributionFn<F> + 'static,
    ) -> Self {
        DenseVariational {
            name: "dense_variational".into(),
            origin: Location::caller(),
            units,
            make_posterior_fn: Arc::new(make_posterior_fn),
            make_prior_fn: Arc::new(make_prior_fn),
            kl_weight: 1.0,
            kl_use_exact: false,
            activation: Activation::Linear,
            activity_regularizer: None,
            use_bias: true,
            trainable: true,
        }
    }
    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the KL weight.
    pub fn kl_weight(mut self, w: f64) -> Self {
        self.kl_weight = w;
        self
    }
    /// Uses the analytic KL instead of the Monte-Carlo estimate.
    pub fn kl_use_exact(mut self, exact: bool) -> Self {
        self.kl_use_exact = exact;
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
    /// Adds or removes the bias.
    pub fn use_bias(mut self, b: bool) -> Self {
        self.use_bias = b;
        self
    }
}

impl<F: Scalar> Layer<F> for DenseVariational<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn origin(&self) -> Option<&'static Location<'static>> {
        Some(self.origin)
    }

    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        let checked = check_kl_weight(self.kl_weight)
            .and_then(|()| LinearMap::<F>::kernel_shape(&DenseMap { units: self.units }, &x.shape()));
        let n_in = match checked {
            Ok(kernel) => kernel[0],
            Err(msg) => {
                let msg = format!("DenseVariational ({}): {msg}", self.name);
                g.record_shape_error("dense_variational", ShapeError::Custom(msg), &[x]);
                return g.poisoned();
            }
        };
        let k = n_in * self.units;
        let n = k + if self.use_bias { self.units } else { 0 };
        let q = g.scope("posterior", || self.make_posterior_fn.build(cx, "posterior", &[n], self.trainable));
        let p = g.scope("prior", || self.make_prior_fn.build(cx, "prior", &[n], self.trainable));
        let w = if cx.mode() == Mode::Mean { q.mean() } else { sample(q.as_ref(), cx, "posterior/eps") };
        let kl =
            if self.kl_use_exact { kl_divergence(q.as_ref(), p.as_ref()) } else { mc_kl(q.as_ref(), p.as_ref(), w) };
        let kl = if kl.rank() == 0 { kl } else { kl.sum_all() };
        let kl = if self.kl_weight == 1.0 { kl } else { kl * F::of(self.kl_weight) };
        cx.add_loss("divergence", kl, LossKind::Divergence);
        let kernel = reshape(slice(w, 0, 0, k), [n_in, self.units]);
        let mut y = matmul(x, kernel);
        if self.use_bias {
            y = y + slice(w, 0, k, n);
        }
        let y = self.activation.apply(y);
        if let Some(r) = &self.activity_regularizer {
            add_activity_regularization(cx, r, y);
        }
        y
    }
}
