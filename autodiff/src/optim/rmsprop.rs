//! RMSprop (Hinton, Srivastava & Swersky, lecture 6e; centered form from Graves, 2013) with
//! the semantics of Keras' `keras.optimizers.RMSprop`:
//!
//! ```text
//! g ← scale·g
//! s ← ρ·s + (1 − ρ)·g²                      ("velocity")
//! centered:  a ← ρ·a + (1 − ρ)·g;  d = s − a² + ε
//! otherwise: d = s + ε
//! Δ = lr·g / √d
//! momentum > 0: u ← momentum·u + Δ;  p ← p − u
//! otherwise:    p ← p − Δ
//! ```
//!
//! As in Keras, ε sits inside the square root and momentum accumulates learning-rate-scaled
//! steps. PyTorch's `RMSprop` instead adds ε outside the root (default 1e-8) and applies lr
//! after the momentum buffer; the two agree for a constant learning rate up to the placement of
//! ε. Defaults are Keras': lr 0.001, ρ 0.9, momentum 0, ε 1e-7, not centered.
//!
//! In the centered form `s − a²` is a variance estimate: it is `≥ 0` in exact arithmetic
//! (Cauchy–Schwarz on the exponential weights) and ε keeps `d` positive against rounding.
//!
//! State: `"rmsprop/velocity/<path>"`, plus `"rmsprop/momentum/<path>"` when `momentum > 0` and
//! `"rmsprop/average_gradient/<path>"` when centered (Keras' slot names).

use super::{check_grads, check_hyper, check_lr, update1, update2, update3, OptimError, Optimizer, Slot, StateMap};
use crate::params::{ParamId, ParamStore};
use crate::scalar::Scalar;

/// RMSprop with Keras' semantics (ε inside the root, momentum over lr-scaled steps):
///
/// ```text
/// s ← ρ·s + (1 − ρ)·g²;  d = s + ε   (centered: a ← ρ·a + (1 − ρ)·g;  d = s − a² + ε)
/// Δ = lr·g/√d;  p ← p − Δ            (momentum: u ← momentum·u + Δ;  p ← p − u)
/// ```
///
/// State: `"rmsprop/velocity/<path>"`, centered `"rmsprop/average_gradient/<path>"`, with
/// momentum `"rmsprop/momentum/<path>"`.
#[derive(Clone, Debug)]
pub struct RmsProp<F> {
    /// Learning rate (default 0.001).
    pub lr: f64,
    /// Decay of the running averages, in `[0, 1]` (default 0.9).
    pub rho: f64,
    /// Momentum factor, `>= 0` (default 0: no momentum and no momentum state).
    pub momentum: f64,
    /// Added to the mean square under the root (default 1e-7).
    pub epsilon: f64,
    /// Divide by the estimated variance instead of the mean square (default false).
    pub centered: bool,
    velocity: Slot<F>,
    avg_grad: Slot<F>,
    mom: Slot<F>,
}

impl<F> Default for RmsProp<F> {
    fn default() -> Self {
        RmsProp {
            lr: 0.001,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            centered: false,
            velocity: Slot::default(),
            avg_grad: Slot::default(),
            mom: Slot::default(),
        }
    }
}

impl<F> RmsProp<F> {
    /// RMSprop with learning rate `lr` and the other hyperparameters at their defaults.
    pub fn new(lr: f64) -> Self {
        RmsProp { lr, ..Self::default() }
    }
    /// Sets ρ.
    pub fn with_rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }
    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets ε.
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }
    /// Uses the centered form.
    pub fn with_centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }
}

const VELOCITY: &str = "rmsprop/velocity";
const AVERAGE: &str = "rmsprop/average_gradient";
const MOMENTUM: &str = "rmsprop/momentum";

#[derive(Clone, Copy)]
struct Consts<F> {
    scale: F,
    rho: F,
    c: F,
    lr: F,
    eps: F,
    mom: F,
}

/// One coordinate. `CENTERED` and `MOM` are compile-time switches, so each combination is its
/// own branch-free loop.
#[inline(always)]
fn rms_elem<F: Scalar, const CENTERED: bool, const MOM: bool>(
    p: &mut F,
    g: F,
    s: &mut F,
    a: &mut F,
    u: &mut F,
    k: &Consts<F>,
) {
    let g = g * k.scale;
    *s = k.rho * *s + k.c * (g * g);
    let d = if CENTERED {
        *a = k.rho * *a + k.c * g;
        *s - *a * *a + k.eps
    } else {
        *s + k.eps
    };
    let delta = k.lr * g / d.sqrt();
    if MOM {
        *u = k.mom * *u + delta;
        *p = *p - *u;
    } else {
        *p = *p - delta;
    }
}

impl<F: Scalar> RmsProp<F> {
    fn check(&self) -> Result<(), OptimError> {
        check_lr("RmsProp", self.lr)?;
        let (rho, m, eps) = (self.rho, self.momentum, self.epsilon);
        check_hyper("RmsProp", "rho", rho, (0.0..=1.0).contains(&rho), "0 <= rho <= 1")?;
        check_hyper("RmsProp", "momentum", m, m.is_finite() && m >= 0.0, "a finite momentum >= 0")?;
        check_hyper("RmsProp", "epsilon", eps, eps.is_finite() && eps >= 0.0, "a finite epsilon >= 0")
    }
}

impl<F: Scalar> Optimizer<F> for RmsProp<F> {
    fn step_scaled(
        &mut self,
        store: &mut ParamStore<F>,
        grads: &[(ParamId, &[F])],
        scale: F,
    ) -> Result<(), OptimError> {
        self.check()?;
        check_grads(store, grads)?;
        let k = Consts {
            scale,
            rho: F::of(self.rho),
            c: F::of(1.0 - self.rho),
            lr: F::of(self.lr),
            eps: F::of(self.epsilon),
            mom: F::of(self.momentum),
        };
        let use_mom = self.momentum > 0.0;
        for &(id, g) in grads {
            if !store.param(id).trainable() {
                continue;
            }
            let p = store.data_mut(id);
            let n = p.len();
            let s = self.velocity.buf(id, n);
            match (self.centered, use_mom) {
                (false, false) => update1(p, g, s, |p, g, s| {
                    for ((p, &g), s) in p.iter_mut().zip(g).zip(s) {
                        let (mut a, mut u) = (F::zero(), F::zero());
                        rms_elem::<F, false, false>(p, g, s, &mut a, &mut u, &k);
                    }
                }),
                (true, false) => update2(p, g, s, self.avg_grad.buf(id, n), |p, g, s, a| {
                    for (((p, &g), s), a) in p.iter_mut().zip(g).zip(s).zip(a) {
                        let mut u = F::zero();
                        rms_elem::<F, true, false>(p, g, s, a, &mut u, &k);
                    }
                }),
                (false, true) => update2(p, g, s, self.mom.buf(id, n), |p, g, s, u| {
                    for (((p, &g), s), u) in p.iter_mut().zip(g).zip(s).zip(u) {
                        let mut a = F::zero();
                        rms_elem::<F, false, true>(p, g, s, &mut a, u, &k);
                    }
                }),
                (true, true) => update3(p, g, s, self.avg_grad.buf(id, n), self.mom.buf(id, n), |p, g, s, a, u| {
                    for ((((p, &g), s), a), u) in p.iter_mut().zip(g).zip(s).zip(a).zip(u) {
                        rms_elem::<F, true, true>(p, g, s, a, u, &k);
                    }
                }),
            }
        }
        Ok(())
    }

    fn state(&self, store: &ParamStore<F>) -> Vec<(String, Vec<F>)> {
        let mut out = Vec::new();
        self.velocity.save(store, VELOCITY, &mut out);
        if self.centered {
            self.avg_grad.save(store, AVERAGE, &mut out);
        }
        if self.momentum > 0.0 {
            self.mom.save(store, MOMENTUM, &mut out);
        }
        out
    }

    fn load_state(&mut self, store: &ParamStore<F>, state: &[(String, Vec<F>)]) -> Result<(), OptimError> {
        let map = StateMap::new(state);
        let s = map.slot(store, VELOCITY)?;
        let a = if self.centered { Some(map.slot(store, AVERAGE)?) } else { None };
        let u = if self.momentum > 0.0 { Some(map.slot(store, MOMENTUM)?) } else { None };
        // Everything validated: from here on nothing can fail.
        self.velocity.load(&s);
        match a {
            Some(a) => self.avg_grad.load(&a),
            None => self.avg_grad.clear(),
        }
        match u {
            Some(u) => self.mom.load(&u),
            None => self.mom.clear(),
        }
        Ok(())
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

    // p₀ = [1, -2], g₁ = [0.5, -1], g₂ = [1.5, 1], lr = 0.1, ρ = 0.9, ε = 1e-7 throughout.
    // Step 1: s = 0.1·g₁² = [0.025, 0.1];
    //   Δ₁ = 0.1·g₁/√(s + 1e-7) = [0.05/√0.0250001, −0.1/√0.1000001]
    //      = [0.31622713356320326, −0.31622760790307351]
    // Step 2: s = 0.9·[0.025, 0.1] + 0.1·[2.25, 1] = [0.2475, 0.19];
    //   Δ₂ = 0.1·g₂/√(s + 1e-7) = [0.15/√0.2475001, 0.1/√0.1900001]
    //      = [0.30151128366639934, 0.22941567349802405]
    const D1: [f64; 2] = [0.316_227_133_563_203_26, -0.316_227_607_903_073_5];
    const D2: [f64; 2] = [0.301_511_283_666_399_34, 0.229_415_673_498_024_05];

    #[test]
    fn rmsprop_two_steps() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = RmsProp::new(0.1);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_close(s.data(id), &[1.0 - D1[0], -2.0 - D1[1]], 1e-15);
        // = [0.68377286643679674, −1.68377239209692649]
        assert_close(s.data(id), &[0.683_772_866_436_796_7, -1.683_772_392_096_926_5], 1e-15);
        let st = opt.state(&s);
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].0, "rmsprop/velocity/net/w");
        assert_close(&st[0].1, &[0.025, 0.1], 1e-16);
        opt.step(&mut s, &[(id, &[1.5, 1.0])]).unwrap();
        // p₂ = p₁ − Δ₂ = [0.38226158277039740, −1.91318806559495054]
        assert_close(s.data(id), &[1.0 - D1[0] - D2[0], -2.0 - D1[1] - D2[1]], 1e-15);
        assert_close(s.data(id), &[0.382_261_582_770_397_4, -1.913_188_065_594_950_5], 1e-15);
    }

    #[test]
    fn rmsprop_momentum_two_steps() {
        // momentum 0.5: u₁ = Δ₁, p₁ = p₀ − Δ₁ (as plain); u₂ = 0.5·Δ₁ + Δ₂
        //   = [0.45962485044800097, 0.07130186954648730]; p₂ = p₁ − u₂
        //   = [0.22414801598879577, −1.75507426164341379]
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = RmsProp::new(0.1).with_momentum(0.5);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_close(s.data(id), &[1.0 - D1[0], -2.0 - D1[1]], 1e-15);
        opt.step(&mut s, &[(id, &[1.5, 1.0])]).unwrap();
        let want = [1.0 - D1[0] - (0.5 * D1[0] + D2[0]), -2.0 - D1[1] - (0.5 * D1[1] + D2[1])];
        assert_close(s.data(id), &want, 1e-15);
        assert_close(s.data(id), &[0.224_148_015_988_795_77, -1.755_074_261_643_413_8], 1e-15);
    }

    #[test]
    fn rmsprop_centered_two_steps() {
        // Step 1: a = 0.1·g₁ = [0.05, −0.1]; d = s − a² + ε = [0.0225001, 0.0900001];
        //   Δ₁ = 0.1·g₁/√d = [0.33333259259506172, −0.33333314814830247]
        //   p₁ = [0.66666740740493828, −1.66666685185169753]
        // Step 2: a = 0.9·a + 0.1·g₂ = [0.195, 0.01]; d = [0.2475 − 0.038025, 0.19 − 0.0001] + ε
        //   = [0.2094751, 0.1899001]; Δ₂ = [0.15/√0.2094751, 0.1/√0.1899001]
        //   = [0.32773668444412623, 0.22947606985360647]
        //   p₂ = [0.33893072296081205, −1.89614292170530400]
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = RmsProp::new(0.1).with_centered(true);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_close(s.data(id), &[0.666_667_407_404_938_3, -1.666_666_851_851_697_5], 1e-15);
        opt.step(&mut s, &[(id, &[1.5, 1.0])]).unwrap();
        assert_close(s.data(id), &[0.338_930_722_960_812_05, -1.896_142_921_705_304], 1e-15);
        let st = opt.state(&s);
        assert_eq!(st[1].0, "rmsprop/average_gradient/net/w");
        assert_close(&st[1].1, &[0.195, 0.01], 1e-16);
    }

    #[test]
    fn rmsprop_centered_momentum_two_steps() {
        // Centered Δ₁, Δ₂ as above with momentum 0.5: u₂ = 0.5·Δ₁ + Δ₂
        //   = [0.49440298074165709, 0.06280949577945523]
        //   p₂ = p₁ − u₂ = [0.17226442666328119, −1.72947634763115276]
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = RmsProp::new(0.1).with_centered(true).with_momentum(0.5);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        opt.step(&mut s, &[(id, &[1.5, 1.0])]).unwrap();
        assert_close(s.data(id), &[0.172_264_426_663_281_2, -1.729_476_347_631_152_8], 1e-15);
    }

    #[test]
    fn rmsprop_converges_on_quadratic() {
        // Steps of about lr while far away (7 / 0.01 = 700), then shrinking: ~750 steps plain,
        // ~160 with momentum.
        steps_to_converge(&mut RmsProp::new(0.01), 1e-3, 1500);
        steps_to_converge(&mut RmsProp::new(0.01).with_centered(true).with_momentum(0.5), 1e-3, 500);
    }

    #[test]
    fn rmsprop_skips_frozen_params() {
        check_frozen_untouched(RmsProp::new(0.01));
        check_frozen_untouched(RmsProp::new(0.01).with_centered(true).with_momentum(0.9));
    }

    #[test]
    fn rmsprop_state_round_trip() {
        check_state_round_trip(|| RmsProp::new(0.01));
        check_state_round_trip(|| RmsProp::new(0.01).with_centered(true).with_momentum(0.9));
    }

    #[test]
    fn rmsprop_load_state_errors() {
        check_load_errors(|| RmsProp::new(0.01), "rmsprop/velocity/net/w");
        let full = || RmsProp::new(0.01).with_centered(true).with_momentum(0.9);
        check_load_errors(full, "rmsprop/average_gradient/net/b");
        check_load_errors(full, "rmsprop/momentum/net/w");
    }

    #[test]
    fn rmsprop_rejects_bad_gradients() {
        check_bad_gradients(|| RmsProp::new(0.01));
        check_bad_gradients(|| RmsProp::new(0.01).with_centered(true).with_momentum(0.9));
    }

    #[test]
    fn rmsprop_rejects_bad_hyperparameters() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let e = RmsProp::new(0.01).with_rho(1.5).step(&mut s, &[(id, &[1.0, 1.0])]).unwrap_err();
        assert!(e.to_string().contains("RmsProp rho = 1.5"), "{e}");
        assert_eq!(s.data(id), [1.0, -2.0]);
    }

    #[test]
    fn rmsprop_reuses_state_buffers() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = RmsProp::new(0.01).with_centered(true).with_momentum(0.9);
        opt.step(&mut s, &[(id, &[1.0, 1.0])]).unwrap();
        let ptrs = [opt.velocity.ptrs(), opt.avg_grad.ptrs(), opt.mom.ptrs()];
        opt.step(&mut s, &[(id, &[1.0, 1.0])]).unwrap();
        assert_eq!([opt.velocity.ptrs(), opt.avg_grad.ptrs(), opt.mom.ptrs()], ptrs);
    }

    #[test]
    fn rmsprop_is_thread_count_invariant() {
        check_thread_count_invariance(
            RmsProp::new(0.01).with_centered(true).with_momentum(0.9),
            RmsProp::new(0.01).with_momentum(0.9),
        );
        check_thread_count_invariance(RmsProp::new(0.01), RmsProp::new(0.01).with_centered(true));
    }
}
