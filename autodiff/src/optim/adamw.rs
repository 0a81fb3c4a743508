//! AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
//! Regularization", 2019), as PyTorch's `torch.optim.AdamW`:
//!
//! ```text
//! p ← p·(1 − lr·weight_decay) − lr·m̂ / (√v̂ + ε)
//! ```
//!
//! with `m̂`, `v̂` (and AMSGrad) exactly as in [`Adam`](super::Adam). The decay shrinks the
//! parameter directly instead of entering the gradient, so it is not rescaled by `1/√v̂` (that
//! rescaling is what makes L2 regularisation in Adam weaker on parameters with large gradients).
//! It is multiplied by the current learning rate, so a schedule scales both, as in PyTorch and
//! Keras. Gradient `scale` (clipping) applies to the gradient only.
//!
//! Defaults: lr 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7 (as [`Adam`](super::Adam); PyTorch uses 1e-8),
//! weight_decay 0.01 (PyTorch's; Keras uses 0.004).
//!
//! State: `"adamw/step"`, `"adamw/m/<path>"`, `"adamw/v/<path>"`, with AMSGrad
//! `"adamw/vhat/<path>"`.

use super::adam::{AdamCore, AdamHyper};
use super::{OptimError, Optimizer};
use crate::params::{ParamId, ParamStore};
use crate::scalar::Scalar;

/// Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's `AdamW`:
///
/// ```text
/// p ← p·(1 − lr·weight_decay) − lr·m̂ / (√v̂ + ε)
/// ```
///
/// with `m̂`, `v̂` as in [`Adam`](super::Adam). State: `"adamw/step"`, `"adamw/m/<path>"`,
/// `"adamw/v/<path>"`, AMSGrad `"adamw/vhat/<path>"`.
#[derive(Clone, Debug)]
pub struct AdamW<F> {
    /// Learning rate (default 0.001).
    pub lr: f64,
    /// Decay of the first moment, in `[0, 1)` (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment, in `[0, 1)` (default 0.999).
    pub beta2: f64,
    /// Added to `√v̂` (default 1e-7).
    pub epsilon: f64,
    /// Decoupled weight decay coefficient, `>= 0` (default 0.01).
    pub weight_decay: f64,
    /// Use AMSGrad (default false).
    pub amsgrad: bool,
    core: AdamCore<F>,
}

impl<F> Default for AdamW<F> {
    fn default() -> Self {
        AdamW {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.01,
            amsgrad: false,
            core: AdamCore::default(),
        }
    }
}

impl<F> AdamW<F> {
    /// AdamW with learning rate `lr` and the other hyperparameters at their defaults.
    pub fn new(lr: f64) -> Self {
        AdamW { lr, ..Self::default() }
    }
    /// Sets β₁.
    pub fn with_beta1(mut self, beta1: f64) -> Self {
        self.beta1 = beta1;
        self
    }
    /// Sets β₂.
    pub fn with_beta2(mut self, beta2: f64) -> Self {
        self.beta2 = beta2;
        self
    }
    /// Sets ε.
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }
    /// Sets the decoupled weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Uses AMSGrad.
    pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    fn hyper(&self) -> AdamHyper {
        AdamHyper {
            name: "AdamW",
            prefix: "adamw",
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            epsilon: self.epsilon,
            amsgrad: self.amsgrad,
            weight_decay: self.weight_decay,
        }
    }
}

impl<F: Scalar> AdamW<F> {
    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.core.steps()
    }
}

impl<F: Scalar> Optimizer<F> for AdamW<F> {
    fn step_scaled(
        &mut self,
        store: &mut ParamStore<F>,
        grads: &[(ParamId, &[F])],
        scale: F,
    ) -> Result<(), OptimError> {
        let h = self.hyper();
        self.core.step(&h, store, grads, scale)
    }

    fn state(&self, store: &ParamStore<F>) -> Vec<(String, Vec<F>)> {
        self.core.state(&self.hyper(), store)
    }

    fn load_state(&mut self, store: &ParamStore<F>, state: &[(String, Vec<F>)]) -> Result<(), OptimError> {
        let h = self.hyper();
        self.core.load_state(&h, store, state)
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::Adam;
    use super::*;

    #[test]
    fn adamw_two_steps() {
        // p₀ = [1, -2], g₁ = [0.5, -1], g₂ = [1.5, 1], lr = 0.1, weight_decay = 0.5, so every
        // step first multiplies p by 1 − 0.1·0.5 = 0.95; the Adam part is as in adam.rs.
        // Step 1: p₁ = 0.95·p₀ − 0.1·g₁/(|g₁| + 1e-7)
        //   p₁[0] = 0.95 − 0.1/(1 + 2e-7)  = 0.85000001999999600000…
        //   p₁[1] = −1.9 + 0.1/(1 + 1e-7)  = −1.80000000999999900000…
        // Step 2: p₂ = 0.95·p₁ − Δ with Adam's second-step Δ = [0.0917781036907894…,
        // −0.0052631573684211…]:
        //   p₂[0] = 0.807500018999996… − 0.091778103690789… = 0.71572191530920679…
        //   p₂[1] = −1.710000009499999… − 0.005263157368421… = −1.71526316686842016…
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = AdamW::new(0.1).with_weight_decay(0.5);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_close(s.data(id), &[0.850_000_019_999_996, -1.800_000_009_999_999], 1e-15);
        opt.step(&mut s, &[(id, &[1.5, 1.0])]).unwrap();
        assert_close(s.data(id), &[0.715_721_915_309_206_8, -1.715_263_166_868_420_2], 1e-15);
        assert_eq!(opt.steps(), 2);
        assert_eq!(opt.state(&s)[0], ("adamw/step".to_string(), vec![2.0]));
    }

    #[test]
    fn adamw_without_decay_is_adam() {
        let (mut a, id) = store_with(&[1.0, -2.0]);
        let mut b = a.clone();
        let mut adam = Adam::new(0.1);
        let mut adamw = AdamW::new(0.1).with_weight_decay(0.0);
        for g in [[0.5, -1.0], [1.5, 1.0], [-0.3, 0.2]] {
            adam.step(&mut a, &[(id, &g)]).unwrap();
            adamw.step(&mut b, &[(id, &g)]).unwrap();
        }
        assert_eq!(bits(a.data(id)), bits(b.data(id)));
    }

    #[test]
    fn adamw_decay_shrinks_params_with_zero_gradient() {
        // g = 0 keeps m = v = 0, so only the decay acts: p ← 0.9·p (lr = 0.5, wd = 0.2).
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = AdamW::new(0.5).with_weight_decay(0.2);
        opt.step(&mut s, &[(id, &[0.0, 0.0])]).unwrap();
        assert_close(s.data(id), &[0.9, -1.8], 1e-15);
        opt.step(&mut s, &[(id, &[0.0, 0.0])]).unwrap();
        assert_close(s.data(id), &[0.81, -1.62], 1e-15);
    }

    #[test]
    fn adamw_converges_on_quadratic() {
        // Decoupled decay moves the fixed point: there lr·m̂/(√v̂ + ε) = lr·wd·p, so the
        // gradient only approaches 0 as v̂ forgets the large early gradients (time constant
        // 1/(1 − β₂) = 1000 steps); with wd = 1e-3 it takes about 3300 steps to get within 1e-3.
        // (AMSGrad never forgets its maximum, so AdamW with AMSGrad settles at a biased point.)
        steps_to_converge(&mut AdamW::new(0.05).with_weight_decay(1e-3), 1e-3, 5000);
    }

    #[test]
    fn adamw_skips_frozen_params() {
        check_frozen_untouched(AdamW::new(0.01).with_weight_decay(0.1));
    }

    #[test]
    fn adamw_state_round_trip() {
        check_state_round_trip(|| AdamW::new(0.01).with_weight_decay(0.1));
        check_state_round_trip(|| AdamW::new(0.01).with_amsgrad(true).with_weight_decay(0.1));
    }

    #[test]
    fn adamw_load_state_errors() {
        check_load_errors(|| AdamW::new(0.01).with_weight_decay(0.1), "adamw/step");
        check_load_errors(|| AdamW::new(0.01).with_weight_decay(0.1), "adamw/v/net/w");
        check_load_errors(|| AdamW::new(0.01).with_amsgrad(true).with_weight_decay(0.1), "adamw/vhat/net/w");
    }

    #[test]
    fn adamw_rejects_bad_gradients() {
        check_bad_gradients(|| AdamW::new(0.01).with_weight_decay(0.1));
    }

    #[test]
    fn adamw_rejects_negative_decay() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let e = AdamW::new(0.01).with_weight_decay(-1.0).step(&mut s, &[(id, &[1.0, 1.0])]).unwrap_err();
        assert!(e.to_string().contains("AdamW weight_decay = -1"), "{e}");
    }

    #[test]
    fn adamw_is_thread_count_invariant() {
        check_thread_count_invariance(
            AdamW::new(0.01).with_weight_decay(0.1),
            AdamW::new(0.01).with_amsgrad(true).with_weight_decay(0.1),
        );
    }
}
