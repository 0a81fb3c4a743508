//! Adam (Kingma & Ba, 2015) and its AMSGrad variant (Reddi et al., 2018):
//!
//! ```text
//! t ← t + 1                                 (one count for the optimizer, as Keras' iterations;
//!                                            a step with no trainable parameter to update does
//!                                            not count)
//! g ← scale·g
//! m ← β₁·m + (1 − β₁)·g
//! v ← β₂·v + (1 − β₂)·g²
//! v̂max ← max(v̂max, v)                      (AMSGrad only; then v̂max replaces v below)
//! m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
//! p ← p − lr·m̂ / (√v̂ + ε)
//! ```
//!
//! This is PyTorch's form of the update. Keras adds ε to `√v` before the bias correction (the
//! paper's "ε hat"), which differs from this only while `√v̂` is within a few orders of
//! magnitude of ε. Defaults are Keras': lr 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7 (PyTorch uses
//! ε 1e-8).
//!
//! Per step, `lr/(1 − β₁ᵗ)` and `1/√(1 − β₂ᵗ)` are computed once in `f64`; the loop then costs
//! one square root and one division per value. AMSGrad keeps the running maximum of `v` and
//! divides by its bias-corrected root, as PyTorch and Keras do.
//!
//! The first step moves every coordinate by `lr·g/(|g| + ε) ≈ lr·sign(g)`: the bias-corrected
//! moments are exactly `g` and `g²`.
//!
//! State: `"adam/step"` (the count `t` as a one-element tensor, exact up to 2²⁴ steps in `f32`),
//! `"adam/m/<path>"`, `"adam/v/<path>"` and with AMSGrad `"adam/vhat/<path>"`.

use super::{check_grads, check_hyper, check_lr, update2, update3, OptimError, Optimizer, Slot, StateMap};
use crate::params::{ParamId, ParamStore};
use crate::scalar::Scalar;

/// Adam (Kingma & Ba) and AMSGrad, in PyTorch's form with Keras' defaults:
///
/// ```text
/// m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²   (g already multiplied by `scale`)
/// p ← p − lr·m̂ / (√v̂ + ε),  m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)   (AMSGrad: v̂ from max v)
/// ```
///
/// Keras adds ε before the bias correction; the two differ only while `√v̂` is near ε.
/// State: `"adam/step"`, `"adam/m/<path>"`, `"adam/v/<path>"`, AMSGrad `"adam/vhat/<path>"`.
#[derive(Clone, Debug)]
pub struct Adam<F> {
    /// Learning rate (default 0.001).
    pub lr: f64,
    /// Decay of the first moment, in `[0, 1)` (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment, in `[0, 1)` (default 0.999).
    pub beta2: f64,
    /// Added to `√v̂` (default 1e-7, Keras'; PyTorch uses 1e-8).
    pub epsilon: f64,
    /// Use AMSGrad (default false).
    pub amsgrad: bool,
    core: AdamCore<F>,
}

impl<F> Default for Adam<F> {
    fn default() -> Self {
        Adam { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, amsgrad: false, core: AdamCore::default() }
    }
}

impl<F> Adam<F> {
    /// Adam with learning rate `lr` and the other hyperparameters at their defaults.
    pub fn new(lr: f64) -> Self {
        Adam { lr, ..Self::default() }
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
    /// Uses AMSGrad.
    pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }
    /// Number of steps taken (`t` above).
    pub fn steps(&self) -> u64 {
        self.core.t
    }
}

/// The hyperparameters of one Adam-family step.
pub(crate) struct AdamHyper {
    /// `"Adam"` or `"AdamW"`, for errors.
    pub name: &'static str,
    /// `"adam"` or `"adamw"`, for state keys.
    pub prefix: &'static str,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    pub amsgrad: bool,
    /// Decoupled weight decay (AdamW); 0 for Adam.
    pub weight_decay: f64,
}

impl AdamHyper {
    fn check(&self) -> Result<(), OptimError> {
        check_lr(self.name, self.lr)?;
        let (b1, b2, eps, wd) = (self.beta1, self.beta2, self.epsilon, self.weight_decay);
        check_hyper(self.name, "beta1", b1, (0.0..1.0).contains(&b1), "0 <= beta1 < 1")?;
        check_hyper(self.name, "beta2", b2, (0.0..1.0).contains(&b2), "0 <= beta2 < 1")?;
        check_hyper(self.name, "epsilon", eps, eps.is_finite() && eps >= 0.0, "a finite epsilon >= 0")?;
        check_hyper(self.name, "weight_decay", wd, wd.is_finite() && wd >= 0.0, "a finite weight_decay >= 0")
    }
}

/// The state and update of Adam and AdamW.
#[derive(Clone, Debug)]
pub(crate) struct AdamCore<F> {
    t: u64,
    m: Slot<F>,
    v: Slot<F>,
    vhat: Slot<F>,
}

impl<F> Default for AdamCore<F> {
    fn default() -> Self {
        AdamCore { t: 0, m: Slot::default(), v: Slot::default(), vhat: Slot::default() }
    }
}

/// Per-step constants, converted to `F` once.
#[derive(Clone, Copy)]
struct Consts<F> {
    scale: F,
    b1: F,
    c1: F,
    b2: F,
    c2: F,
    /// `lr / (1 − β₁ᵗ)`.
    step: F,
    /// `1 / √(1 − β₂ᵗ)`.
    inv_sqrt_bc2: F,
    eps: F,
    /// `1 − lr·weight_decay` (AdamW).
    decay: F,
}

/// One coordinate. `DECAY` and `AMS` are compile-time switches, so each combination is its own
/// branch-free loop (the AMSGrad maximum is a select).
#[inline(always)]
fn adam_elem<F: Scalar, const DECAY: bool, const AMS: bool>(
    p: &mut F,
    g: F,
    m: &mut F,
    v: &mut F,
    vmax: &mut F,
    k: &Consts<F>,
) {
    let g = g * k.scale;
    *m = k.b1 * *m + k.c1 * g;
    *v = k.b2 * *v + k.c2 * (g * g);
    let second = if AMS {
        *vmax = if *v > *vmax { *v } else { *vmax };
        *vmax
    } else {
        *v
    };
    let denom = second.sqrt() * k.inv_sqrt_bc2 + k.eps;
    let p0 = if DECAY { *p * k.decay } else { *p };
    *p = p0 - k.step * (*m / denom);
}

fn adam_loop<F: Scalar, const DECAY: bool>(p: &mut [F], g: &[F], m: &mut [F], v: &mut [F], k: Consts<F>) {
    update2(p, g, m, v, |p, g, m, v| {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
            let mut unused = F::zero();
            adam_elem::<F, DECAY, false>(p, g, m, v, &mut unused, &k);
        }
    });
}

fn amsgrad_loop<F: Scalar, const DECAY: bool>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    vmax: &mut [F],
    k: Consts<F>,
) {
    update3(p, g, m, v, vmax, |p, g, m, v, vmax| {
        for ((((p, &g), m), v), vmax) in p.iter_mut().zip(g).zip(m).zip(v).zip(vmax) {
            adam_elem::<F, DECAY, true>(p, g, m, v, vmax, &k);
        }
    });
}

impl<F: Scalar> AdamCore<F> {
    pub(crate) fn steps(&self) -> u64 {
        self.t
    }

    pub(crate) fn step(
        &mut self,
        h: &AdamHyper,
        store: &mut ParamStore<F>,
        grads: &[(ParamId, &[F])],
        scale: F,
    ) -> Result<(), OptimError> {
        h.check()?;
        check_grads(store, grads)?;
        let t = self.t + 1;
        let bc1 = 1.0 - h.beta1.powf(t as f64);
        let bc2 = 1.0 - h.beta2.powf(t as f64);
        let k = Consts {
            scale,
            b1: F::of(h.beta1),
            c1: F::of(1.0 - h.beta1),
            b2: F::of(h.beta2),
            c2: F::of(1.0 - h.beta2),
            step: F::of(h.lr / bc1),
            inv_sqrt_bc2: F::of(1.0 / bc2.sqrt()),
            eps: F::of(h.epsilon),
            decay: F::of(1.0 - h.lr * h.weight_decay),
        };
        let decay = h.weight_decay != 0.0;
        let mut updated = false;
        for &(id, g) in grads {
            if !store.param(id).trainable() {
                continue;
            }
            updated = true;
            let p = store.data_mut(id);
            let n = p.len();
            let (m, v) = (self.m.buf(id, n), self.v.buf(id, n));
            match (decay, h.amsgrad) {
                (false, false) => adam_loop::<F, false>(p, g, m, v, k),
                (true, false) => adam_loop::<F, true>(p, g, m, v, k),
                (false, true) => amsgrad_loop::<F, false>(p, g, m, v, self.vhat.buf(id, n), k),
                (true, true) => amsgrad_loop::<F, true>(p, g, m, v, self.vhat.buf(id, n), k),
            }
        }
        // A step that updates nothing does not count, as in Keras: otherwise a parameter that
        // starts training later would get a smaller bias correction than its moments need.
        if updated {
            self.t = t;
        }
        Ok(())
    }

    pub(crate) fn state(&self, h: &AdamHyper, store: &ParamStore<F>) -> Vec<(String, Vec<F>)> {
        let p = h.prefix;
        let mut out = vec![(format!("{p}/step"), vec![F::of(self.t as f64)])];
        self.m.save(store, &format!("{p}/m"), &mut out);
        self.v.save(store, &format!("{p}/v"), &mut out);
        if h.amsgrad {
            self.vhat.save(store, &format!("{p}/vhat"), &mut out);
        }
        out
    }

    pub(crate) fn load_state(
        &mut self,
        h: &AdamHyper,
        store: &ParamStore<F>,
        state: &[(String, Vec<F>)],
    ) -> Result<(), OptimError> {
        let p = h.prefix;
        let map = StateMap::new(state);
        let t = map.count(&format!("{p}/step"))?;
        let m = map.slot(store, &format!("{p}/m"))?;
        let v = map.slot(store, &format!("{p}/v"))?;
        let vhat = if h.amsgrad { Some(map.slot(store, &format!("{p}/vhat"))?) } else { None };
        // Everything validated: from here on nothing can fail.
        self.t = t;
        self.m.load(&m);
        self.v.load(&v);
        match vhat {
            Some(vhat) => self.vhat.load(&vhat),
            None => self.vhat.clear(),
        }
        Ok(())
    }
}

impl<F> Adam<F> {
    fn hyper(&self) -> AdamHyper {
        AdamHyper {
            name: "Adam",
            prefix: "adam",
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            epsilon: self.epsilon,
            amsgrad: self.amsgrad,
            weight_decay: 0.0,
        }
    }
}

impl<F: Scalar> Optimizer<F> for Adam<F> {
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
    use super::*;

    // p₀ = [1, -2], g₁ = [0.5, -1], g₂ = [1.5, 1], lr = 0.1, β₁ = 0.9, β₂ = 0.999, ε = 1e-7.
    //
    // Step 1: m̂ = g₁ and v̂ = g₁² exactly, so p₁ = p₀ − 0.1·g₁/(|g₁| + 1e-7):
    //   p₁[0] = 1 − 0.1·0.5/0.5000001 = 1 − 0.1/(1 + 2e-7) = 0.90000001999999600000…
    //   p₁[1] = −2 + 0.1/(1 + 1e-7)                        = −1.90000000999999900000…
    // Step 2: m = 0.09·g₁ + 0.1·g₂, v = 0.000999·g₁² + 0.001·g₂², 1 − β₁² = 0.19,
    // 1 − β₂² = 0.001999:
    //   [0]: m̂ = 0.195/0.19 = 1.0263157894736842…, v̂ = 0.00249975/0.001999 = 1.2505002501250625…,
    //        √v̂ = 1.1182576850283939…, Δ = 0.1·m̂/(√v̂ + 1e-7) = 0.0917781036907894…,
    //        p₂[0] = 0.8082219163092065937…
    //   [1]: m̂ = 0.01/0.19 = 0.0526315789473684…, v̂ = 0.001999/0.001999 = 1,
    //        Δ = 0.1·m̂/(1 + 1e-7) = 0.0052631573684211…, p₂[1] = −1.9052631673684201052…
    // (exact decimal arithmetic; f64 agrees to ~1e-15.)
    const P1: [f64; 2] = [0.900_000_019_999_996, -1.900_000_009_999_999];
    const P2: [f64; 2] = [0.808_221_916_309_206_6, -1.905_263_167_368_420_1];

    #[test]
    fn adam_two_steps() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Adam::new(0.1);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_close(s.data(id), &P1, 1e-15);
        // m = 0.1·g₁, v = 0.001·g₁²
        let st = opt.state(&s);
        assert_eq!(st[0], ("adam/step".to_string(), vec![1.0]));
        assert_eq!(st[1].0, "adam/m/net/w");
        assert_close(&st[1].1, &[0.05, -0.1], 1e-16);
        assert_eq!(st[2].0, "adam/v/net/w");
        assert_close(&st[2].1, &[0.00025, 0.001], 1e-18);
        opt.step(&mut s, &[(id, &[1.5, 1.0])]).unwrap();
        assert_close(s.data(id), &P2, 1e-15);
        assert_eq!(opt.steps(), 2);
    }

    #[test]
    fn adam_amsgrad_two_steps() {
        // g₂ = [0.01, 0.02] is small enough that v shrinks: v₁ = 0.001·g₁² = [0.00025, 0.001],
        // v₂ = 0.000999·g₁² + 0.001·g₂² = [0.00024985, 0.0009994] < v₁, so AMSGrad divides by
        // √(v₁/0.001999) = [0.3536418121003692, 0.7072836242007383].
        // m̂₂ = (0.09·g₁ + 0.1·g₂)/0.19 = [0.2421052631578947, −0.4631578947368421].
        //   p₂[0] = 0.9000000199999960 − 0.1·0.2421052631578947/(0.3536418121003692 + 1e-7)
        //         = 0.83153945159056453…
        //   p₂[1] = −1.9000000099999990 + 0.1·0.4631578947368421/(0.7072836242007383 + 1e-7)
        //         = −1.83451597878462912…
        // (Plain Adam would give [0.83151890417905343, −1.83449632473327744].)
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Adam::new(0.1);
        opt.amsgrad = true;
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_close(s.data(id), &P1, 1e-15);
        opt.step(&mut s, &[(id, &[0.01, 0.02])]).unwrap();
        assert_close(s.data(id), &[0.831_539_451_590_564_5, -1.834_515_978_784_629], 1e-15);
        let vhat = opt.state(&s).into_iter().find(|(k, _)| k == "adam/vhat/net/w").unwrap().1;
        assert_close(&vhat, &[0.00025, 0.001], 1e-18);
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        // m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε): within lr·ε/|g| <= lr·1e-4 of
        // lr·sign(g) for |g| >= 1e-3, whatever the magnitude.
        let g = [1e-3, -5.0, 100.0, -0.2, 1e6];
        let mut s = ParamStore::<f64>::new(0);
        let id = s.insert("w", &[5], vec![0.0; 5], true);
        Adam::new(0.01).step(&mut s, &[(id, &g)]).unwrap();
        for (&p, &g) in s.data(id).iter().zip(&g) {
            assert!((p + 0.01 * g.signum()).abs() <= 0.01 * 1e-4, "{p} for g = {g}");
        }
        let mut s = ParamStore::<f32>::new(0);
        let id = s.insert("w", &[5], vec![0.0; 5], true);
        let g32: Vec<f32> = g.iter().map(|&x| x as f32).collect();
        Adam::new(0.01).step(&mut s, &[(id, &g32)]).unwrap();
        for (&p, &g) in s.data(id).iter().zip(&g32) {
            assert!((p + 0.01 * g.signum()).abs() <= 0.01 * 1e-4, "{p} for g = {g}");
        }
    }

    #[test]
    fn a_step_that_updates_nothing_does_not_count() {
        let mut s = ParamStore::<f64>::new(0);
        let id = s.insert("w", &[2], vec![0.0; 2], true);
        let frozen = s.insert("frozen", &[1], vec![1.0], false);
        let mut opt = Adam::new(0.01);
        opt.step(&mut s, &[]).unwrap();
        opt.step(&mut s, &[(frozen, &[3.0])]).unwrap();
        assert_eq!((opt.steps(), s.data(frozen)), (0, &[1.0][..]));
        // So the first real step is still the bias-corrected lr·sign(g).
        opt.step(&mut s, &[(id, &[0.5, -2.0])]).unwrap();
        assert_eq!(opt.steps(), 1);
        assert_close(s.data(id), &[-0.01 * 0.5 / (0.5 + 1e-7), 0.01 * 2.0 / (2.0 + 1e-7)], 1e-15);
    }

    #[test]
    fn adam_converges_on_quadratic() {
        // Adam moves about lr per step while far away: 7 / 0.05 = 140 steps to get close, then
        // the steps shrink with the gradient (about 470 steps in all).
        steps_to_converge(&mut Adam::new(0.05), 1e-3, 1000);
        steps_to_converge(&mut Adam::new(0.05).with_amsgrad(true), 1e-3, 1000);
    }

    #[test]
    fn adam_skips_frozen_params() {
        check_frozen_untouched(Adam::new(0.01));
        check_frozen_untouched(Adam::new(0.01).with_amsgrad(true));
    }

    #[test]
    fn adam_state_round_trip() {
        check_state_round_trip(|| Adam::new(0.01));
        check_state_round_trip(|| Adam::new(0.01).with_amsgrad(true));
    }

    #[test]
    fn adam_load_state_errors() {
        check_load_errors(|| Adam::new(0.01), "adam/step");
        check_load_errors(|| Adam::new(0.01), "adam/m/net/w");
        check_load_errors(|| Adam::new(0.01), "adam/v/net/b");
        check_load_errors(|| Adam::new(0.01).with_amsgrad(true), "adam/vhat/net/b");
        let (s, _) = store_with(&[1.0, 2.0]);
        let mut opt = Adam::<f64>::new(0.01);
        let mut st = opt.state(&s);
        st[0].1[0] = 2.5;
        let e = opt.load_state(&s, &st).unwrap_err();
        assert_eq!(e, OptimError::InvalidState { key: "adam/step".into(), value: 2.5 });
        assert!(e.to_string().contains("adam/step"), "{e}");
    }

    #[test]
    fn adam_rejects_bad_gradients() {
        check_bad_gradients(|| Adam::new(0.01));
        check_bad_gradients(|| Adam::new(0.01).with_amsgrad(true));
    }

    #[test]
    fn adam_rejects_bad_hyperparameters() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Adam::new(0.01).with_beta2(1.0);
        let e = opt.step(&mut s, &[(id, &[1.0, 1.0])]).unwrap_err();
        assert!(e.to_string().contains("Adam beta2 = 1 is out of range: expected 0 <= beta2 < 1"), "{e}");
        assert_eq!(opt.steps(), 0);
        assert_eq!(s.data(id), [1.0, -2.0]);
    }

    #[test]
    fn adam_reuses_state_buffers() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Adam::new(0.01).with_amsgrad(true);
        opt.step(&mut s, &[(id, &[1.0, 1.0])]).unwrap();
        let ptrs = [opt.core.m.ptrs(), opt.core.v.ptrs(), opt.core.vhat.ptrs()];
        opt.step(&mut s, &[(id, &[1.0, 1.0])]).unwrap();
        assert_eq!([opt.core.m.ptrs(), opt.core.v.ptrs(), opt.core.vhat.ptrs()], ptrs);
    }

    #[test]
    fn adam_resets_state_of_a_resized_param() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Adam::new(0.1);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        s.insert("net/w", &[3], vec![0.0; 3], true);
        opt.step(&mut s, &[(id, &[1.0, 1.0, 1.0])]).unwrap();
        let m = opt.state(&s).into_iter().find(|(k, _)| k == "adam/m/net/w").unwrap().1;
        assert_close(&m, &[0.1, 0.1, 0.1], 1e-16);
    }

    #[test]
    fn adam_is_thread_count_invariant() {
        check_thread_count_invariance(Adam::new(0.01), Adam::new(0.01).with_amsgrad(true));
    }
}
