//! `NoisyGate`: a variational layer written from outside the `layers` crate, the way you would
//! write your own. It is the `custom_layer` example's subject.
//!
//! The layer multiplies each input feature by a gate with a Bayesian posterior:
//!
//! `y[n, i] = x[n, i] · g[n, i]`, `g[n, ·] ~ q(g) = Π_i N(μ_i, σ_i²)`, prior `p(g) = Π_i N(0, s²)`.
//!
//! Every example draws its own gates, exactly (not pseudo-independently as in Flipout): output
//! `i` depends on gate `i` alone, so independent noise per output element is an independent
//! gate draw per example, at the cost of one noise tensor the size of the input. The KL term
//! `KL(q ‖ p)` is registered as a divergence, so `Model::fit` adds it to the ELBO like any built-in
//! layer's.
//!
//! With a zero-centred prior the gate is a Bayesian relevance detector in the spirit of
//! automatic relevance determination (MacKay 1994; Neal 1996): the KL pulls every gate mean
//! towards zero, so a feature the likelihood does not need is switched off (`μ_i` within a few
//! `σ_i` of zero), while a useful feature keeps a gate far from zero relative to its spread. The
//! signal-to-noise ratio `|μ_i| / σ_i` ranks the features.
//!
//! What a layer needs from the library, all of which this file uses:
//! - [`Layer`]: a name (its parameter scope), `forward`, and optionally a seed;
//! - [`LayerCx::param`] to create or fetch its parameters by name;
//! - [`LayerCx::noise`] for noise keyed by the layer's scope and the session step, so training
//!   draws fresh gates every step and `run_at_step` replays them;
//! - [`LayerCx::mode`] to honour `Mode::Mean` (the posterior-mean network);
//! - [`LayerCx::add_loss`] with [`LossKind::Divergence`] for its KL;
//! - `record_shape_error` + `poisoned` to report a wrong input shape without panicking.

use autodiff::prelude::*;
use distributions::{kl_divergence, Independent, Normal};
use layers::builders::scale_from_untransformed;
use layers::{Layer, LayerCx, LossKind, Mode};

/// A per-feature multiplicative gate with a mean-field Normal posterior and a zero-mean Normal
/// prior; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct NoisyGate {
    name: String,
    /// Standard deviation `s` of the prior `N(0, s²)` on every gate (default 1).
    pub prior_scale: f64,
    /// Initializer of the gate means (default 1: the layer starts as the identity).
    pub loc_init: Init,
    /// Initializer of the untransformed scales ρ, `σ = eps + softplus(ρ)` (default −3, so
    /// σ ≈ 0.0486, the value TFP's default posteriors start from).
    pub untransformed_scale_init: Init,
    /// Multiplies the registered KL (default 1).
    pub kl_weight: f64,
    /// Seed of the gate noise; `None` uses the session's seed.
    pub seed: Option<u64>,
}

impl Default for NoisyGate {
    fn default() -> Self {
        NoisyGate {
            name: "noisy_gate".into(),
            prior_scale: 1.0,
            loc_init: Init::Ones,
            untransformed_scale_init: Init::Constant(-3.0),
            kl_weight: 1.0,
            seed: None,
        }
    }
}

impl NoisyGate {
    /// A gate layer with the defaults, named `noisy_gate`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the name (the scope of its parameters and noise).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the prior's standard deviation.
    pub fn prior_scale(mut self, s: f64) -> Self {
        self.prior_scale = s;
        self
    }
    /// Sets the initializer of the gate means.
    pub fn loc_init(mut self, init: Init) -> Self {
        self.loc_init = init;
        self
    }
    /// Sets the initializer of the untransformed scales.
    pub fn untransformed_scale_init(mut self, init: Init) -> Self {
        self.untransformed_scale_init = init;
        self
    }
    /// Sets the weight of the KL term.
    pub fn kl_weight(mut self, w: f64) -> Self {
        self.kl_weight = w;
        self
    }
    /// Seeds the gate noise.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
}

impl<F: Scalar> Layer<F> for NoisyGate {
    fn name(&self) -> &str {
        &self.name
    }

    fn seed(&self) -> Option<u64> {
        self.seed
    }

    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        let shape = x.shape();
        let Some(d) = shape.dims().get(1).and_then(|d| d.fixed()).filter(|_| shape.rank() == 2) else {
            let msg =
                format!("NoisyGate ({}): input must be [batch, features] with known features, got {shape}", self.name);
            g.record_shape_error("noisy_gate", ShapeError::Custom(msg), &[x]);
            return g.poisoned();
        };
        let loc = cx.param("gate_loc", &[d], self.loc_init, true);
        let rho = cx.param("gate_untransformed_scale", &[d], self.untransformed_scale_init, true);
        let scale = scale_from_untransformed(rho);

        // Independent over the feature axis, so the KL is one scalar (summed over gates).
        let q = Independent::new(Box::new(Normal::new(loc, scale)), 1);
        let p = Independent::new(Box::new(Normal::new(zeros_like(loc), g.scalar(self.prior_scale))), 1);
        let kl = kl_divergence(&q, &p);
        let kl = if self.kl_weight == 1.0 { kl } else { kl * F::of(self.kl_weight) };
        cx.add_loss("gate_divergence", kl, LossKind::Divergence);

        match cx.mode() {
            Mode::Mean => x * loc,
            Mode::Sample => {
                // One standard-normal draw per example and feature: a gate draw per example.
                let eps = cx.noise(StandardNormal, shape, "gate/eps");
                x * (loc + scale * eps)
            }
        }
    }
}
