//! Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
//! with the semantics of PyTorch's `torch.optim.SGD` (dampening 0):
//!
//! ```text
//! d = scale·g + weight_decay·p
//! momentum = 0:  p ← p − lr·d
//! otherwise:     u ← momentum·u + d                (u starts at 0, so the first u is d)
//!                p ← p − lr·u                      (classical)
//!                p ← p − lr·(d + momentum·u)       (nesterov)
//! ```
//!
//! Keras keeps `v ← momentum·v − lr·g` instead, which is the same update while the learning
//! rate is constant; PyTorch's form lets a schedule change the step without rescaling the
//! velocity. The default learning rate is Keras' 0.01. Nesterov with zero momentum is plain SGD.
//!
//! Weight decay is coupled (added to the gradient, so momentum accumulates it); see
//! [`AdamW`](super::AdamW) for the decoupled form. With `weight_decay == 0` the decay term is
//! compiled out, so an infinite parameter does not turn into NaN through `0·∞`.
//!
//! State: `"sgd/momentum/<path>"` when `momentum > 0`; none otherwise.

use super::{check_grads, check_hyper, check_lr, update0, update1, OptimError, Optimizer, Slot, StateMap};
use crate::params::{ParamId, ParamStore};
use crate::scalar::Scalar;

/// Stochastic gradient descent with PyTorch's semantics (dampening 0):
///
/// ```text
/// d = scale·g + weight_decay·p
/// momentum = 0:  p ← p − lr·d
/// otherwise:     u ← momentum·u + d;  p ← p − lr·u   (nesterov: p ← p − lr·(d + momentum·u))
/// ```
///
/// State: `"sgd/momentum/<path>"` when `momentum > 0`.
#[derive(Clone, Debug)]
pub struct Sgd<F> {
    /// Learning rate (default 0.01).
    pub lr: f64,
    /// Momentum factor, `>= 0` (default 0: no momentum and no state).
    pub momentum: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
    /// L2 penalty coefficient added to the gradient as `weight_decay·p`, `>= 0` (default 0).
    pub weight_decay: f64,
    velocity: Slot<F>,
}

impl<F> Default for Sgd<F> {
    fn default() -> Self {
        Sgd { lr: 0.01, momentum: 0.0, nesterov: false, weight_decay: 0.0, velocity: Slot::default() }
    }
}

impl<F> Sgd<F> {
    /// Plain SGD with learning rate `lr`; set the other fields to add momentum or weight decay.
    pub fn new(lr: f64) -> Self {
        Sgd { lr, ..Self::default() }
    }
    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Uses Nesterov momentum.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }
    /// Sets the L2 weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

const PREFIX: &str = "sgd/momentum";

#[derive(Clone, Copy)]
struct Consts<F> {
    scale: F,
    lr: F,
    wd: F,
    mom: F,
}

/// One coordinate. `WD`, `MOM` and `NEST` are compile-time switches, so each combination is its
/// own branch-free loop.
#[inline(always)]
fn sgd_elem<F: Scalar, const WD: bool, const MOM: bool, const NEST: bool>(p: &mut F, g: F, u: &mut F, k: &Consts<F>) {
    let mut d = g * k.scale;
    if WD {
        d = d + k.wd * *p;
    }
    if MOM {
        *u = k.mom * *u + d;
        d = if NEST { d + k.mom * *u } else { *u };
    }
    *p = *p - k.lr * d;
}

fn plain<F: Scalar, const WD: bool>(p: &mut [F], g: &[F], k: Consts<F>) {
    update0(p, g, |p, g| {
        for (p, &g) in p.iter_mut().zip(g) {
            let mut unused = F::zero();
            sgd_elem::<F, WD, false, false>(p, g, &mut unused, &k);
        }
    });
}

fn with_momentum<F: Scalar, const WD: bool, const NEST: bool>(p: &mut [F], g: &[F], u: &mut [F], k: Consts<F>) {
    update1(p, g, u, |p, g, u| {
        for ((p, &g), u) in p.iter_mut().zip(g).zip(u) {
            sgd_elem::<F, WD, true, NEST>(p, g, u, &k);
        }
    });
}

impl<F: Scalar> Sgd<F> {
    fn check(&self) -> Result<(), OptimError> {
        check_lr("Sgd", self.lr)?;
        let m = self.momentum;
        check_hyper("Sgd", "momentum", m, m.is_finite() && m >= 0.0, "a finite momentum >= 0")?;
        let wd = self.weight_decay;
        check_hyper("Sgd", "weight_decay", wd, wd.is_finite() && wd >= 0.0, "a finite weight_decay >= 0")
    }
}

impl<F: Scalar> Optimizer<F> for Sgd<F> {
    fn step_scaled(
        &mut self,
        store: &mut ParamStore<F>,
        grads: &[(ParamId, &[F])],
        scale: F,
    ) -> Result<(), OptimError> {
        self.check()?;
        check_grads(store, grads)?;
        let k = Consts { scale, lr: F::of(self.lr), wd: F::of(self.weight_decay), mom: F::of(self.momentum) };
        let (wd, mom, nest) = (self.weight_decay != 0.0, self.momentum != 0.0, self.nesterov);
        for &(id, g) in grads {
            if !store.param(id).trainable() {
                continue;
            }
            let p = store.data_mut(id);
            if !mom {
                if wd {
                    plain::<F, true>(p, g, k);
                } else {
                    plain::<F, false>(p, g, k);
                }
                continue;
            }
            let u = self.velocity.buf(id, p.len());
            match (wd, nest) {
                (false, false) => with_momentum::<F, false, false>(p, g, u, k),
                (false, true) => with_momentum::<F, false, true>(p, g, u, k),
                (true, false) => with_momentum::<F, true, false>(p, g, u, k),
                (true, true) => with_momentum::<F, true, true>(p, g, u, k),
            }
        }
        Ok(())
    }

    fn state(&self, store: &ParamStore<F>) -> Vec<(String, Vec<F>)> {
        let mut out = Vec::new();
        if self.momentum != 0.0 {
            self.velocity.save(store, PREFIX, &mut out);
        }
        out
    }

    fn load_state(&mut self, store: &ParamStore<F>, state: &[(String, Vec<F>)]) -> Result<(), OptimError> {
        if self.momentum != 0.0 {
            let staged = StateMap::new(state).slot(store, PREFIX)?;
            self.velocity.load(&staged);
        } else {
            self.velocity.clear();
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

    // All constants below are dyadic (lr = 0.5, momentum = 0.5, …), so every intermediate is
    // exact in binary floating point and the hand results are compared with `==`.

    #[test]
    fn sgd_plain_two_steps() {
        // p = [1, -2], g = [0.5, -1], lr = 0.5:
        // step 1: p = [1 - 0.25, -2 + 0.5] = [0.75, -1.5]; step 2: [0.5, -1].
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Sgd::new(0.5);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.75, -1.5]);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.5, -1.0]);
        assert!(opt.state(&s).is_empty());
    }

    #[test]
    fn sgd_momentum_two_steps() {
        // lr = 0.5, momentum = 0.5, g = [0.5, -1] both steps.
        // step 1: u = g = [0.5, -1];               p = [1, -2] - 0.5·u = [0.75, -1.5]
        // step 2: u = 0.5·u + g = [0.75, -1.5];    p = [0.75, -1.5] - 0.5·u = [0.375, -0.75]
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Sgd::new(0.5);
        opt.momentum = 0.5;
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.75, -1.5]);
        assert_eq!(opt.state(&s), [("sgd/momentum/net/w".to_string(), vec![0.5, -1.0])]);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.375, -0.75]);
        assert_eq!(opt.state(&s)[0].1, [0.75, -1.5]);
    }

    #[test]
    fn sgd_nesterov_two_steps() {
        // lr = 0.5, momentum = 0.5, g = [0.5, -1] both steps.
        // step 1: u = g;                 d = g + 0.5·u = 1.5·g = [0.75, -1.5]
        //         p = [1, -2] - 0.5·d = [0.625, -1.25]
        // step 2: u = 0.5·g + g = 1.5·g; d = g + 0.75·g = 1.75·g = [0.875, -1.75]
        //         p = [0.625, -1.25] - 0.5·d = [0.1875, -0.375]
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Sgd::new(0.5);
        opt.momentum = 0.5;
        opt.nesterov = true;
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.625, -1.25]);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.1875, -0.375]);
    }

    #[test]
    fn sgd_weight_decay_two_steps() {
        // lr = 0.5, weight_decay = 0.5, g = [0.5, -1] both steps.
        // step 1: d = g + 0.5·[1, -2] = [1, -2];        p = [1, -2] - 0.5·d = [0.5, -1]
        // step 2: d = g + 0.5·[0.5, -1] = [0.75, -1.5]; p = [0.5, -1] - 0.5·d = [0.125, -0.25]
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Sgd::new(0.5);
        opt.weight_decay = 0.5;
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.5, -1.0]);
        opt.step(&mut s, &[(id, &[0.5, -1.0])]).unwrap();
        assert_eq!(s.data(id), [0.125, -0.25]);
    }

    #[test]
    fn sgd_weight_decay_with_momentum_and_scale() {
        // lr = 0.5, momentum = 0.5, weight_decay = 0.5, scale = 0.5 (applies to g only),
        // g = [1, -2] so scale·g = [0.5, -1].
        // step 1: d = [0.5, -1] + 0.5·[1, -2] = [1, -2]; u = d;  p = [1, -2] - 0.5·u = [0.5, -1]
        // step 2: d = [0.5, -1] + 0.5·[0.5, -1] = [0.75, -1.5]; u = 0.5·[1, -2] + d = [1.25, -2.5]
        //         p = [0.5, -1] - 0.5·u = [-0.125, 0.25]
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut opt = Sgd::new(0.5);
        opt.momentum = 0.5;
        opt.weight_decay = 0.5;
        opt.step_scaled(&mut s, &[(id, &[1.0, -2.0])], 0.5).unwrap();
        assert_eq!(s.data(id), [0.5, -1.0]);
        opt.step_scaled(&mut s, &[(id, &[1.0, -2.0])], 0.5).unwrap();
        assert_eq!(s.data(id), [-0.125, 0.25]);
    }

    #[test]
    fn sgd_converges_on_quadratic() {
        // Plain: p - 3 shrinks by (1 - lr) = 0.9 per step, 7·0.9^t < 1e-3 for t >= 85.
        let n = steps_to_converge(&mut Sgd::new(0.1), 1e-3, 200);
        assert_eq!(n, 85);
        steps_to_converge(&mut Sgd::new(0.1).with_momentum(0.5), 1e-3, 200);
        steps_to_converge(&mut Sgd::new(0.1).with_momentum(0.5).with_nesterov(true), 1e-3, 200);
    }

    #[test]
    fn sgd_skips_frozen_params() {
        check_frozen_untouched(Sgd::new(0.1));
        check_frozen_untouched(Sgd::new(0.1).with_momentum(0.9).with_nesterov(true).with_weight_decay(0.1));
    }

    #[test]
    fn sgd_state_round_trip() {
        check_state_round_trip(|| Sgd::new(0.1).with_momentum(0.9));
        check_state_round_trip(|| Sgd::new(0.1).with_momentum(0.9).with_nesterov(true).with_weight_decay(0.01));
    }

    #[test]
    fn sgd_load_state_errors() {
        check_load_errors(|| Sgd::new(0.1).with_momentum(0.9), "sgd/momentum/net/b");
    }

    #[test]
    fn sgd_rejects_bad_gradients() {
        check_bad_gradients(|| Sgd::new(0.1));
        check_bad_gradients(|| Sgd::new(0.1).with_momentum(0.9));
    }

    #[test]
    fn sgd_rejects_bad_hyperparameters() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let e = Sgd::new(0.1).with_momentum(-0.1).step(&mut s, &[(id, &[1.0, 1.0])]).unwrap_err();
        assert!(e.to_string().contains("Sgd momentum = -0.1"), "{e}");
        let e = Sgd::new(f64::NAN).step(&mut s, &[(id, &[1.0, 1.0])]).unwrap_err();
        assert!(e.to_string().contains("lr = NaN"), "{e}");
        assert_eq!(s.data(id), [1.0, -2.0]);
    }

    #[test]
    fn sgd_reuses_state_buffers() {
        let (mut s, ids, grads) = small_model();
        let mut opt = Sgd::new(0.1).with_momentum(0.9);
        opt.step(&mut s, &pairs(&ids, &grads[0])).unwrap();
        let ptrs = opt.velocity.ptrs();
        opt.step(&mut s, &pairs(&ids, &grads[1])).unwrap();
        assert_eq!(opt.velocity.ptrs(), ptrs);
    }

    #[test]
    fn sgd_is_thread_count_invariant() {
        check_thread_count_invariance(
            Sgd::new(0.1).with_momentum(0.9).with_nesterov(true).with_weight_decay(0.01),
            Sgd::new(0.1).with_momentum(0.9).with_weight_decay(0.01),
        );
    }
}
