//! Optimizers: update a [`ParamStore`] in place from gradients.
//!
//! * [`Sgd`]: plain, momentum and Nesterov SGD with coupled (L2) weight decay.
//! * [`Adam`]: Adam and AMSGrad.
//! * [`AdamW`]: Adam with decoupled weight decay.
//! * [`RmsProp`]: RMSprop, plain or centered, with optional momentum.
//! * [`ClipByGlobalNorm`]: wraps any optimizer and rescales the gradients so their global norm
//!   is at most `max_norm` ([`global_norm`] computes that norm).
//!
//! An optimizer receives `(ParamId, gradient)` pairs, e.g. the outputs of a session run paired
//! with the ids of the parameters they differentiate. Parameters marked non-trainable are
//! skipped. Every gradient list is checked before anything is written (unknown ids, length
//! mismatches, duplicates), so a rejected step leaves the store and the optimizer unchanged.
//!
//! # Performance
//!
//! State vectors (moments, velocities) are allocated on a parameter's first update, sized to it,
//! and reused: a steady-state step allocates nothing. Each update is one pass over the parameter
//! with every per-step constant (bias corrections, step sizes) computed beforehand, written as a
//! branch-free slice loop; optional features (momentum, AMSGrad, centering, weight decay) select
//! a separately compiled loop rather than a branch inside it. Parameters with at least
//! [`PAR_MIN`](crate::kernels::PAR_MIN) values are split into fixed chunks of [`CHUNK`] values across the current
//! kernel team: run a step inside `Session::in_context` to use the session's threads. Every value is updated by the same expression however the work is split, so results
//! are bit-identical for any number of threads. The loops run with flush-to-zero enabled like
//! every other kernel of this crate (see [`ftz`]), on whichever thread executes a chunk.
//!
//! # Checkpoints
//!
//! [`Optimizer::state`] returns named tensors: `"<optimizer>/<slot>/<param path>"` for every
//! trainable parameter (zeros for a parameter not updated yet, which is the same as fresh
//! state), plus scalars such as `"adam/step"` as one-element tensors. [`Optimizer::load_state`]
//! requires every key the optimizer's configuration needs, ignores other keys (so a checkpoint
//! holding parameters and optimizer state together can be passed whole), and changes nothing
//! unless everything loads.

use std::collections::HashMap;
use std::fmt;

use crate::kernels::{ftz, should_par, CHUNK};
use crate::params::{ParamId, ParamStore};
use crate::scalar::Scalar;
use crate::team::{for_each_chunk_mut, for_each_chunk_mut2, for_each_chunk_mut3, for_each_chunk_mut4};

mod adam;
mod adamw;
mod clip;
mod rmsprop;
mod sgd;

pub use adam::Adam;
pub use adamw::AdamW;
pub use clip::{global_norm, ClipByGlobalNorm};
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

/// Updates parameters from their gradients.
pub trait Optimizer<F: Scalar>: Send {
    /// Applies one update. `grads` pairs each parameter with its gradient (same length as its
    /// values). Non-trainable parameters ([`Param::trainable`](crate::params::Param::trainable)
    /// is false) are skipped. `scale` multiplies every gradient first (used by clipping).
    fn step_scaled(&mut self, store: &mut ParamStore<F>, grads: &[(ParamId, &[F])], scale: F)
        -> Result<(), OptimError>;

    /// Applies one update with unscaled gradients.
    fn step(&mut self, store: &mut ParamStore<F>, grads: &[(ParamId, &[F])]) -> Result<(), OptimError> {
        self.step_scaled(store, grads, F::one())
    }

    /// Named state tensors for checkpoints, e.g. `("adam/m/<param path>", values)`, plus scalar
    /// state such as the step count (as a one-element tensor `"adam/step"`).
    fn state(&self, store: &ParamStore<F>) -> Vec<(String, Vec<F>)>;

    /// Restores state saved by [`Optimizer::state`]. All-or-nothing: on error nothing changes.
    /// The error names the missing key or the length mismatch.
    fn load_state(&mut self, store: &ParamStore<F>, state: &[(String, Vec<F>)]) -> Result<(), OptimError>;

    /// The learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (for schedules); the state is kept.
    fn set_learning_rate(&mut self, lr: f64);
}

impl<F: Scalar, O: Optimizer<F> + ?Sized> Optimizer<F> for Box<O> {
    fn step_scaled(
        &mut self,
        store: &mut ParamStore<F>,
        grads: &[(ParamId, &[F])],
        scale: F,
    ) -> Result<(), OptimError> {
        (**self).step_scaled(store, grads, scale)
    }
    fn step(&mut self, store: &mut ParamStore<F>, grads: &[(ParamId, &[F])]) -> Result<(), OptimError> {
        (**self).step(store, grads)
    }
    fn state(&self, store: &ParamStore<F>) -> Vec<(String, Vec<F>)> {
        (**self).state(store)
    }
    fn load_state(&mut self, store: &ParamStore<F>, state: &[(String, Vec<F>)]) -> Result<(), OptimError> {
        (**self).load_state(store, state)
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        (**self).set_learning_rate(lr)
    }
}

/// Why an optimizer rejected a step or a checkpoint. A rejected call changes nothing.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum OptimError {
    /// A gradient's length differs from its parameter's.
    GradientLength {
        /// The parameter's path.
        path: String,
        /// Number of values of the parameter.
        param: usize,
        /// Number of values of the gradient.
        grad: usize,
    },
    /// A [`ParamId`] that is not in the store (e.g. from another store).
    UnknownParam {
        /// The id's index.
        index: usize,
        /// Number of parameters in the store.
        params: usize,
    },
    /// The same parameter appears twice in one gradient list.
    DuplicateParam {
        /// The parameter's path.
        path: String,
    },
    /// A gradient holds NaN or infinity (reported by [`ClipByGlobalNorm`], which skips the step).
    NonFiniteGradient {
        /// The first parameter (in gradient-list order) whose gradient is not finite.
        path: String,
    },
    /// A checkpoint lacks a key the optimizer needs.
    MissingState {
        /// The key.
        key: String,
    },
    /// A checkpoint tensor has the wrong number of values.
    StateLength {
        /// The key.
        key: String,
        /// Number of values expected (the parameter's, or 1 for a scalar).
        expected: usize,
        /// Number of values found.
        got: usize,
    },
    /// A checkpoint scalar has an impossible value (e.g. a negative or fractional step count).
    InvalidState {
        /// The key.
        key: String,
        /// The value found.
        value: f64,
    },
    /// A hyperparameter is outside its valid range.
    InvalidHyperparameter {
        /// The optimizer, e.g. `"Adam"`.
        optimizer: &'static str,
        /// The field, e.g. `"beta1"`.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The valid range, e.g. `"0 <= beta1 < 1"`.
        expected: &'static str,
    },
}

impl fmt::Display for OptimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimError::GradientLength { path, param, grad } => {
                write!(f, "gradient of \"{path}\" has {grad} values, the parameter has {param}")
            }
            OptimError::UnknownParam { index, params } => {
                write!(f, "parameter id {index} is not in the store ({params} parameters)")
            }
            OptimError::DuplicateParam { path } => {
                write!(f, "parameter \"{path}\" appears more than once in the gradients")
            }
            OptimError::NonFiniteGradient { path } => {
                write!(f, "gradient of \"{path}\" is not finite (NaN or infinity); update skipped")
            }
            OptimError::MissingState { key } => write!(f, "optimizer state \"{key}\" is missing"),
            OptimError::StateLength { key, expected, got } => {
                write!(f, "optimizer state \"{key}\" has {got} values, expected {expected}")
            }
            OptimError::InvalidState { key, value } => {
                write!(f, "optimizer state \"{key}\" holds {value}, expected a non-negative integer")
            }
            OptimError::InvalidHyperparameter { optimizer, name, value, expected } => {
                write!(f, "{optimizer} {name} = {value} is out of range: expected {expected}")
            }
        }
    }
}

impl std::error::Error for OptimError {}

/// Returns an [`OptimError::InvalidHyperparameter`] unless `ok`.
pub(crate) fn check_hyper(
    optimizer: &'static str,
    name: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<(), OptimError> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter { optimizer, name, value, expected })
    }
}

/// Checks the learning rate, which every optimizer shares.
pub(crate) fn check_lr(optimizer: &'static str, lr: f64) -> Result<(), OptimError> {
    check_hyper(optimizer, "lr", lr, lr.is_finite() && lr >= 0.0, "a finite lr >= 0")
}

/// Checks a gradient list against the store before anything is written: every id is in the
/// store, every gradient has its parameter's length, and no parameter appears twice.
pub(crate) fn check_grads<F: Scalar>(store: &ParamStore<F>, grads: &[(ParamId, &[F])]) -> Result<(), OptimError> {
    let mut increasing = true;
    for (i, &(id, g)) in grads.iter().enumerate() {
        if id.index() >= store.len() {
            return Err(OptimError::UnknownParam { index: id.index(), params: store.len() });
        }
        let p = store.param(id);
        if g.len() != p.data().len() {
            return Err(OptimError::GradientLength {
                path: p.path().to_string(),
                param: p.data().len(),
                grad: g.len(),
            });
        }
        increasing &= i == 0 || grads[i - 1].0 < id;
    }
    // Gradient lists usually come in store order, which proves there are no duplicates in one
    // pass; otherwise compare pairs (lists are a few dozen entries long).
    if !increasing {
        for i in 1..grads.len() {
            if grads[..i].iter().any(|&(id, _)| id == grads[i].0) {
                return Err(OptimError::DuplicateParam { path: store.param(grads[i].0).path().to_string() });
            }
        }
    }
    Ok(())
}

/// One kind of per-parameter state (e.g. Adam's first moments), indexed by [`ParamId`].
/// A buffer is allocated, zero-filled, on the parameter's first update and reused afterwards;
/// zeros are the fresh state of every optimizer here. If the parameter was replaced by one of
/// another size, its buffer starts over from zeros.
#[derive(Clone)]
pub(crate) struct Slot<F> {
    bufs: Vec<Vec<F>>,
}

impl<F> Default for Slot<F> {
    fn default() -> Self {
        Slot { bufs: Vec::new() }
    }
}

impl<F> fmt::Debug for Slot<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allocated = self.bufs.iter().filter(|b| !b.is_empty()).count();
        let values: usize = self.bufs.iter().map(Vec::len).sum();
        write!(f, "Slot({allocated} buffers, {values} values)")
    }
}

impl<F: Scalar> Slot<F> {
    /// The buffer of `id`, zero-filled with `len` values if it does not have that length yet.
    pub(crate) fn buf(&mut self, id: ParamId, len: usize) -> &mut [F] {
        let i = id.index();
        if self.bufs.len() <= i {
            self.bufs.resize_with(i + 1, Vec::new);
        }
        let b = &mut self.bufs[i];
        if b.len() != len {
            b.clear();
            b.resize(len, F::zero());
        }
        b
    }

    /// The buffer of `id` if it holds `len` values.
    pub(crate) fn get(&self, id: ParamId, len: usize) -> Option<&[F]> {
        self.bufs.get(id.index()).map(Vec::as_slice).filter(|b| b.len() == len)
    }

    /// Appends `("<prefix>/<path>", values)` for every parameter that is trainable or has state.
    pub(crate) fn save(&self, store: &ParamStore<F>, prefix: &str, out: &mut Vec<(String, Vec<F>)>) {
        for (id, p) in store.iter() {
            let n = p.data().len();
            let values = match self.get(id, n) {
                Some(b) => b.to_vec(),
                None if p.trainable() => vec![F::zero(); n],
                None => continue,
            };
            out.push((format!("{prefix}/{}", p.path()), values));
        }
    }

    /// Replaces every buffer with the staged values from [`StateMap::slot`] (none: fresh state).
    pub(crate) fn load(&mut self, staged: &[Option<&[F]>]) {
        self.bufs.resize_with(staged.len(), Vec::new);
        for (b, s) in self.bufs.iter_mut().zip(staged) {
            b.clear();
            if let Some(s) = s {
                b.extend_from_slice(s);
            }
        }
    }

    /// Drops all state.
    pub(crate) fn clear(&mut self) {
        self.bufs.clear();
    }

    #[cfg(test)]
    pub(crate) fn ptrs(&self) -> Vec<*const F> {
        self.bufs.iter().map(|b| b.as_ptr()).collect()
    }
}

/// A checkpoint indexed by key, for validating everything before anything is loaded.
pub(crate) struct StateMap<'a, F> {
    map: HashMap<&'a str, &'a [F]>,
}

impl<'a, F: Scalar> StateMap<'a, F> {
    pub(crate) fn new(state: &'a [(String, Vec<F>)]) -> Self {
        StateMap { map: state.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect() }
    }

    /// A one-element tensor holding a count (a non-negative integer).
    pub(crate) fn count(&self, key: &str) -> Result<u64, OptimError> {
        let v = *self.map.get(key).ok_or_else(|| OptimError::MissingState { key: key.to_string() })?;
        if v.len() != 1 {
            return Err(OptimError::StateLength { key: key.to_string(), expected: 1, got: v.len() });
        }
        let x = v[0].to_f64_lossless();
        if !(x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64) {
            return Err(OptimError::InvalidState { key: key.to_string(), value: x });
        }
        Ok(x as u64)
    }

    /// The `"<prefix>/<path>"` tensors of every parameter, indexed by [`ParamId`]: required for
    /// trainable parameters, optional for frozen ones, and checked against the parameter's length.
    pub(crate) fn slot(&self, store: &ParamStore<F>, prefix: &str) -> Result<Vec<Option<&'a [F]>>, OptimError> {
        let mut out = Vec::with_capacity(store.len());
        for (_, p) in store.iter() {
            let key = format!("{prefix}/{}", p.path());
            match self.map.get(key.as_str()) {
                Some(v) if v.len() != p.data().len() => {
                    return Err(OptimError::StateLength { key, expected: p.data().len(), got: v.len() });
                }
                Some(v) => out.push(Some(*v)),
                None if p.trainable() => return Err(OptimError::MissingState { key }),
                None => out.push(None),
            }
        }
        Ok(out)
    }
}

// The chunk drivers below run an update kernel over matching pieces of a parameter `p`, its
// gradient `g` and 0–3 state buffers of the same length: whole on the calling thread below
// PAR_MIN values, otherwise in fixed CHUNK-sized pieces across the session's team. Kernels are
// elementwise, so the split never changes a result.

/// Runs `k(p, g)` over the parameter in chunks.
pub(crate) fn update0<F: Scalar>(p: &mut [F], g: &[F], k: impl Fn(&mut [F], &[F]) + Sync) {
    debug_assert_eq!(p.len(), g.len());
    if should_par(p.len()) {
        for_each_chunk_mut(p, CHUNK, |i, p| ftz::flushed(|| k(p, &g[i * CHUNK..][..p.len()])));
    } else {
        ftz::flushed(|| k(p, g));
    }
}

/// Runs `k(p, g, a)` over the parameter in chunks.
pub(crate) fn update1<F: Scalar>(p: &mut [F], g: &[F], a: &mut [F], k: impl Fn(&mut [F], &[F], &mut [F]) + Sync) {
    debug_assert!(p.len() == g.len() && p.len() == a.len());
    if should_par(p.len()) {
        for_each_chunk_mut2(p, a, CHUNK, |i, p, a| ftz::flushed(|| k(p, &g[i * CHUNK..][..p.len()], a)));
    } else {
        ftz::flushed(|| k(p, g, a));
    }
}

/// Runs `k(p, g, a, b)` over the parameter in chunks.
pub(crate) fn update2<F: Scalar>(
    p: &mut [F],
    g: &[F],
    a: &mut [F],
    b: &mut [F],
    k: impl Fn(&mut [F], &[F], &mut [F], &mut [F]) + Sync,
) {
    debug_assert!(p.len() == g.len() && p.len() == a.len() && p.len() == b.len());
    if should_par(p.len()) {
        for_each_chunk_mut3(p, a, b, CHUNK, |i, p, a, b| ftz::flushed(|| k(p, &g[i * CHUNK..][..p.len()], a, b)));
    } else {
        ftz::flushed(|| k(p, g, a, b));
    }
}

/// Runs `k(p, g, a, b, c)` over the parameter in chunks.
pub(crate) fn update3<F: Scalar>(
    p: &mut [F],
    g: &[F],
    a: &mut [F],
    b: &mut [F],
    c: &mut [F],
    k: impl Fn(&mut [F], &[F], &mut [F], &mut [F], &mut [F]) + Sync,
) {
    debug_assert!(p.len() == g.len() && p.len() == a.len() && p.len() == b.len() && p.len() == c.len());
    if should_par(p.len()) {
        for_each_chunk_mut4(p, a, b, c, CHUNK, |i, p, a, b, c| {
            ftz::flushed(|| k(p, &g[i * CHUNK..][..p.len()], a, b, c))
        });
    } else {
        ftz::flushed(|| k(p, g, a, b, c));
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Checks shared by the optimizers' tests.

    use super::*;
    use crate::params::Init;

    /// A store with one trainable parameter `"net/w"`.
    pub fn store_with(values: &[f64]) -> (ParamStore<f64>, ParamId) {
        let mut s = ParamStore::new(0);
        let id = s.insert("net/w", &[values.len()], values.to_vec(), true);
        (s, id)
    }

    pub fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= tol, "element {i}: got {a:.17}, want {b:.17} (tolerance {tol:e})");
        }
    }

    pub fn bits<F: Scalar>(x: &[F]) -> Vec<u64> {
        x.iter().map(|v| v.to_f64_lossless().to_bits()).collect()
    }

    /// Minimises `0.5 * (p - 3)²` per coordinate (gradient `p - 3`) from `[0, 10, -4]` and
    /// returns the first step after which every coordinate is within `tol` of 3 and stays there
    /// for 20 more steps; panics if that takes more than `max_steps`.
    pub fn steps_to_converge<O: Optimizer<f64>>(opt: &mut O, tol: f64, max_steps: usize) -> usize {
        let (mut s, id) = store_with(&[0.0, 10.0, -4.0]);
        let mut g = vec![0.0; 3];
        let mut entered = None;
        for step in 1..=max_steps + 20 {
            for (g, &p) in g.iter_mut().zip(s.data(id)) {
                *g = p - 3.0;
            }
            opt.step(&mut s, &[(id, &g)]).unwrap();
            if s.data(id).iter().all(|&p| (p - 3.0).abs() < tol) {
                let first = *entered.get_or_insert(step);
                if step == first + 20 {
                    assert!(first <= max_steps, "took {first} > {max_steps} steps");
                    return first;
                }
            } else {
                entered = None;
            }
        }
        panic!("not within {tol} of 3 after {max_steps} steps: {:?}", s.data(id));
    }

    /// A store with a trainable `"net/w"` (3 values), a frozen `"net/frozen"` (2) and a
    /// trainable `"net/b"` (2), and gradients for three steps.
    pub fn small_model() -> (ParamStore<f64>, [ParamId; 3], [[Vec<f64>; 3]; 3]) {
        let mut s = ParamStore::new(5);
        let w = s.create("net/w", &[3], Init::Normal { mean: 0.0, std: 1.0 }).unwrap();
        let f = s.insert("net/frozen", &[2], vec![0.5, -0.5], false);
        let b = s.create("net/b", &[2], Init::Normal { mean: 0.0, std: 1.0 }).unwrap();
        let grads = [
            [vec![0.3, -1.2, 0.05], vec![1.0, 1.0], vec![-0.7, 2.0]],
            [vec![-0.1, -0.8, 0.4], vec![1.0, 1.0], vec![0.2, 1.5]],
            [vec![0.6, 0.0, -0.3], vec![1.0, 1.0], vec![-0.4, -0.9]],
        ];
        (s, [w, f, b], grads)
    }

    /// Pairs ids with gradients.
    pub fn pairs<'a>(ids: &[ParamId], g: &'a [Vec<f64>]) -> Vec<(ParamId, &'a [f64])> {
        ids.iter().zip(g).map(|(&id, g)| (id, g.as_slice())).collect()
    }

    /// Frozen parameters are untouched; trainable ones move.
    pub fn check_frozen_untouched<O: Optimizer<f64>>(mut opt: O) {
        let (mut s, ids, grads) = small_model();
        let before = s.clone();
        for g in &grads {
            opt.step(&mut s, &pairs(&ids, g)).unwrap();
        }
        assert_eq!(s.data(ids[1]), before.data(ids[1]));
        assert_ne!(s.data(ids[0]), before.data(ids[0]));
        assert_ne!(s.data(ids[2]), before.data(ids[2]));
        assert!(opt.state(&s).iter().all(|(k, _)| !k.contains("net/frozen")));
    }

    /// Two steps, save, load into a fresh optimizer, then one more step on each: identical
    /// parameters and state, bit for bit.
    pub fn check_state_round_trip<O: Optimizer<f64>>(make: impl Fn() -> O) {
        let (mut s, ids, grads) = small_model();
        let mut a = make();
        a.step(&mut s, &pairs(&ids, &grads[0])).unwrap();
        a.step(&mut s, &pairs(&ids, &grads[1])).unwrap();
        let saved = a.state(&s);
        let mut b = make();
        b.load_state(&s, &saved).unwrap();
        assert_eq!(b.state(&s), saved);
        let mut s2 = s.clone();
        a.step(&mut s, &pairs(&ids, &grads[2])).unwrap();
        b.step(&mut s2, &pairs(&ids, &grads[2])).unwrap();
        for id in ids {
            assert_eq!(bits(s.data(id)), bits(s2.data(id)));
        }
        let (sa, sb) = (a.state(&s), b.state(&s2));
        assert_eq!(sa.len(), sb.len());
        for ((ka, va), (kb, vb)) in sa.iter().zip(&sb) {
            assert_eq!(ka, kb);
            assert_eq!(bits(va), bits(vb), "{ka}");
        }
    }

    /// Loading a checkpoint without `key` (or with a wrong length under `key`) fails, names the
    /// key, and leaves the optimizer as it was.
    pub fn check_load_errors<O: Optimizer<f64>>(make: impl Fn() -> O, key: &str) {
        let (mut s, ids, grads) = small_model();
        let mut a = make();
        a.step(&mut s, &pairs(&ids, &grads[0])).unwrap();
        let saved = a.state(&s);
        assert!(
            saved.iter().any(|(k, _)| k == key),
            "{key} not in {:?}",
            saved.iter().map(|e| &e.0).collect::<Vec<_>>()
        );

        let mut b = make();
        b.step(&mut s.clone(), &pairs(&ids, &grads[1])).unwrap();
        let b_before = b.state(&s);

        let missing: Vec<_> = saved.iter().filter(|(k, _)| k != key).cloned().collect();
        let e = b.load_state(&s, &missing).unwrap_err();
        assert_eq!(e, OptimError::MissingState { key: key.to_string() });
        assert!(e.to_string().contains(key), "{e}");
        assert_eq!(b.state(&s), b_before);

        let mut long = saved.clone();
        let n = long.iter().find(|(k, _)| k == key).map(|(_, v)| v.len()).unwrap();
        long.iter_mut().filter(|(k, _)| k == key).for_each(|(_, v)| v.push(0.0));
        let e = b.load_state(&s, &long).unwrap_err();
        assert_eq!(e, OptimError::StateLength { key: key.to_string(), expected: n, got: n + 1 });
        assert!(e.to_string().contains(key) && e.to_string().contains(&format!("{}", n + 1)), "{e}");
        assert_eq!(b.state(&s), b_before);
    }

    /// A gradient of the wrong length is an error naming the path and both lengths, and
    /// nothing is updated (not even parameters listed before it); so are duplicate and foreign
    /// ids. After the rejected steps, the optimizer steps exactly like a fresh one.
    pub fn check_bad_gradients<O: Optimizer<f64>>(make: impl Fn() -> O) {
        let (mut s, ids, grads) = small_model();
        let before = s.clone();
        let mut opt = make();
        let good = [0.1, 0.2, 0.3];
        let e = opt.step(&mut s, &[(ids[0], &good[..]), (ids[2], &good[..])]).unwrap_err();
        assert_eq!(e, OptimError::GradientLength { path: "net/b".into(), param: 2, grad: 3 });
        let msg = e.to_string();
        assert!(msg.contains("\"net/b\"") && msg.contains("3 values") && msg.contains("has 2"), "{msg}");
        let e = opt.step(&mut s, &[(ids[2], &good[..2]), (ids[0], &good[..]), (ids[2], &good[..2])]).unwrap_err();
        assert_eq!(e, OptimError::DuplicateParam { path: "net/b".into() });
        let e = opt.step(&mut s, &[(ids[0], &good[..]), (ParamId(9), &good[..])]).unwrap_err();
        assert_eq!(e, OptimError::UnknownParam { index: 9, params: 3 });
        for id in ids {
            assert_eq!(s.data(id), before.data(id));
        }
        let mut fresh = make();
        let mut s2 = s.clone();
        opt.step(&mut s, &pairs(&ids, &grads[0])).unwrap();
        fresh.step(&mut s2, &pairs(&ids, &grads[0])).unwrap();
        for id in ids {
            assert_eq!(bits(s.data(id)), bits(s2.data(id)));
        }
        assert_eq!(opt.state(&s), fresh.state(&s2));
    }

    /// Three steps on a parameter split across threads give the same bits with 1 and 2 threads.
    pub fn check_thread_count_invariance<O: Optimizer<f64> + Clone, P: Optimizer<f32> + Clone>(a: O, b: P) {
        let n = 2 * crate::kernels::PAR_MIN + 3 * CHUNK / 2 + 7;
        let init: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0).collect();
        let grad = |step: usize| -> Vec<f64> {
            (0..n).map(|i| (((i * 104_729 + step * 13) % 2001) as f64 - 1000.0) / 250.0).collect()
        };
        let run64 = |threads: usize| {
            let pool = crate::team::KernelTeam::new(threads);
            let mut opt = a.clone();
            let mut s = ParamStore::<f64>::new(0);
            let id = s.insert("big", &[n], init.clone(), true);
            pool.lead(|| {
                for step in 0..3 {
                    opt.step(&mut s, &[(id, &grad(step))]).unwrap();
                }
            });
            (bits(s.data(id)), opt.state(&s).into_iter().map(|(k, v)| (k, bits(&v))).collect::<Vec<_>>())
        };
        let run32 = |threads: usize| {
            let pool = crate::team::KernelTeam::new(threads);
            let mut opt = b.clone();
            let mut s = ParamStore::<f32>::new(0);
            let id = s.insert("big", &[n], init.iter().map(|&x| x as f32).collect(), true);
            pool.lead(|| {
                for step in 0..3 {
                    let g: Vec<f32> = grad(step).iter().map(|&x| x as f32).collect();
                    opt.step(&mut s, &[(id, &g)]).unwrap();
                }
            });
            (bits(s.data(id)), opt.state(&s).into_iter().map(|(k, v)| (k, bits(&v))).collect::<Vec<_>>())
        };
        let (one, two) = (run64(1), run64(2));
        assert_ne!(one.0, bits(&init));
        assert!(one == two, "f64 results depend on the thread count");
        assert!(run32(1) == run32(2), "f32 results depend on the thread count");
    }
}
