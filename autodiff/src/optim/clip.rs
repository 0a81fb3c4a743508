//! Gradient clipping by global norm (Pascanu et al., 2013), as `tf.clip_by_global_norm` and
//! Keras' `global_clipnorm` compute it:
//!
//! ```text
//! norm = √(Σ over all gradients of Σ g²)
//! g ← g · min(1, max_norm / norm)
//! ```
//!
//! (`torch.nn.utils.clip_grad_norm_` divides by `norm + 1e-6` instead, so it also scales norms
//! just below `max_norm` by a factor within 1e-6 of 1; the two agree to that.)
//!
//! [`ClipByGlobalNorm`] wraps an optimizer and passes the factor as the `scale` of
//! [`Optimizer::step_scaled`], so clipping costs one read of the gradients and no copy. Its norm
//! covers the gradients of trainable parameters only (the ones the update uses); a frozen
//! parameter's gradient, even a NaN one, does not affect the step. A NaN or infinite norm skips
//! the update and returns [`OptimError::NonFiniteGradient`] naming the first offending parameter;
//! the wrapped optimizer does not count the step.
//!
//! The sum of squares is accumulated in `f64` for both element types (an `f32` square cannot
//! overflow it, and rounding does not grow with the parameter count as an `f32` sum would), over
//! fixed chunks in a fixed order, with eight independent lanes inside a chunk so the loop
//! vectorises. Chunks of large gradients are summed in parallel and their partial sums added in
//! chunk order, so the norm is bit-identical for any number of threads. Should an `f64` sum
//! overflow with every value finite (values beyond ~1e154), it is recomputed scaled by the
//! largest magnitude.
//!
//! State: that of the wrapped optimizer.

use crate::team::for_each_chunk_mut;

use super::{check_grads, check_hyper, OptimError, Optimizer};
use crate::kernels::ftz;
use crate::kernels::{should_par, CHUNK};
use crate::params::{ParamId, ParamStore};
use crate::scalar::Scalar;

/// Wraps an optimizer and rescales the gradients of trainable parameters by
/// `min(1, max_norm / norm)`, `norm` being their global L2 norm (see [`global_norm`]), passing
/// the factor as the `scale` of [`Optimizer::step_scaled`]. A NaN or infinite norm skips the
/// update and returns [`OptimError::NonFiniteGradient`] naming the first such parameter.
/// State: the wrapped optimizer's.
#[derive(Clone, Debug)]
pub struct ClipByGlobalNorm<O> {
    /// The optimizer that applies the clipped gradients.
    pub inner: O,
    /// The largest allowed global norm, `> 0`.
    pub max_norm: f64,
}

impl<O> ClipByGlobalNorm<O> {
    /// Clips the gradients given to `inner` to global norm `max_norm`.
    pub fn new(inner: O, max_norm: f64) -> Self {
        ClipByGlobalNorm { inner, max_norm }
    }
}

/// The global L2 norm of all gradients, `√(Σ g²)`. NaN or infinite if a gradient is.
pub fn global_norm<F: Scalar>(grads: &[(ParamId, &[F])]) -> F {
    F::of(norm(grads.iter().map(|&(_, g)| g)))
}

// Partial sums of at most this many chunks are computed in parallel at a time, into a stack
// array, so computing the norm allocates nothing.
const GROUP: usize = 64;

/// `Σ x²` of one chunk in `f64`, in eight lanes so the loop vectorises.
#[inline]
fn chunk_sum_squares<F: Scalar>(x: &[F]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        for (l, &v) in lanes.iter_mut().zip(c) {
            let v = v.to_f64_lossless();
            *l += v * v;
        }
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    let mut s = ((a + e) + (b + f)) + ((c + g) + (d + h));
    for &v in it.remainder() {
        let v = v.to_f64_lossless();
        s += v * v;
    }
    s
}

/// `Σ x²` in `f64`: chunk sums added in chunk order, however many threads compute them.
fn sum_squares<F: Scalar>(x: &[F]) -> f64 {
    let mut acc = 0.0;
    if should_par(x.len()) {
        let mut partial = [0.0f64; GROUP];
        for group in x.chunks(GROUP * CHUNK) {
            let k = group.len().div_ceil(CHUNK);
            for_each_chunk_mut(&mut partial[..k], 1, |i, s| {
                s[0] = ftz::flushed(|| chunk_sum_squares(&group[i * CHUNK..((i + 1) * CHUNK).min(group.len())]))
            });
            for &s in &partial[..k] {
                acc += s;
            }
        }
    } else {
        ftz::flushed(|| {
            for c in x.chunks(CHUNK) {
                acc += chunk_sum_squares(c);
            }
        });
    }
    acc
}

/// The global norm of some slices, in `f64`.
fn norm<'a, F: Scalar>(slices: impl Iterator<Item = &'a [F]> + Clone) -> f64 {
    let sum: f64 = slices.clone().map(sum_squares).fold(0.0, |a, s| a + s);
    if sum.is_finite() || slices.clone().any(|g| g.iter().any(|x| !x.is_finite())) {
        return sum.sqrt();
    }
    // Every value is finite but the squares overflowed: scale by the largest magnitude.
    let max = slices.clone().flatten().fold(0.0f64, |m, x| m.max(x.abs().to_f64_lossless()));
    let mut s = 0.0;
    for x in slices.flatten() {
        let y = x.to_f64_lossless() / max;
        s += y * y;
    }
    max * s.sqrt()
}

impl<F: Scalar, O: Optimizer<F>> Optimizer<F> for ClipByGlobalNorm<O> {
    fn step_scaled(
        &mut self,
        store: &mut ParamStore<F>,
        grads: &[(ParamId, &[F])],
        scale: F,
    ) -> Result<(), OptimError> {
        let max = self.max_norm;
        check_hyper("ClipByGlobalNorm", "max_norm", max, max > 0.0, "max_norm > 0")?;
        check_grads(store, grads)?;
        let trainable = |id: ParamId| store.param(id).trainable();
        let n = norm(grads.iter().filter(|&&(id, _)| trainable(id)).map(|&(_, g)| g));
        if !n.is_finite() {
            let bad = grads.iter().find(|&&(id, g)| trainable(id) && g.iter().any(|x| !x.is_finite()));
            if let Some(&(id, _)) = bad {
                return Err(OptimError::NonFiniteGradient { path: store.param(id).path().to_string() });
            }
        }
        // The norm of the gradients the inner optimizer sees is |scale|·n. A zero norm gives
        // max/0 = ∞ and so a factor of 1.
        let factor = (max / (scale.abs().to_f64_lossless() * n)).min(1.0);
        self.inner.step_scaled(store, grads, scale * F::of(factor))
    }

    fn state(&self, store: &ParamStore<F>) -> Vec<(String, Vec<F>)> {
        self.inner.state(store)
    }

    fn load_state(&mut self, store: &ParamStore<F>, state: &[(String, Vec<F>)]) -> Result<(), OptimError> {
        self.inner.load_state(store, state)
    }

    fn learning_rate(&self) -> f64 {
        self.inner.learning_rate()
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.inner.set_learning_rate(lr)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Adam, AdamW, RmsProp, Sgd};
    use super::*;

    #[test]
    fn global_norm_of_several_gradients() {
        // √(3² + 4² + 12²) = √169 = 13, exactly.
        let (a, b) = (ParamId(0), ParamId(1));
        assert_eq!(global_norm::<f64>(&[(a, &[3.0, 4.0]), (b, &[-12.0])]), 13.0);
        assert_eq!(global_norm::<f32>(&[(a, &[3.0, 4.0]), (b, &[-12.0])]), 13.0);
        assert_eq!(global_norm::<f64>(&[]), 0.0);
        assert!(global_norm::<f64>(&[(a, &[1.0, f64::NAN])]).is_nan());
        assert_eq!(global_norm::<f64>(&[(a, &[1.0, f64::NEG_INFINITY])]), f64::INFINITY);
    }

    #[test]
    fn global_norm_does_not_overflow() {
        // The squares overflow f64; the scaled sum gives 1e200·√(1 + 1) = 1.4142135623730951e200.
        let n = global_norm::<f64>(&[(ParamId(0), &[1e200, -1e200])]);
        assert!((n / (1e200 * 2f64.sqrt()) - 1.0).abs() < 1e-15, "{n}");
        // f32 squares cannot overflow the f64 sum: √(2·(3e38)²) = 3e38·√2 ≈ 4.2e38 > f32::MAX.
        assert_eq!(global_norm::<f32>(&[(ParamId(0), &[3e38, 3e38])]), f32::INFINITY);
        assert_eq!(global_norm::<f32>(&[(ParamId(0), &[3e30, 4e30])]), 5e30);
    }

    #[test]
    fn global_norm_of_a_large_gradient() {
        // Σ over i < n of ((i mod 7) − 3)²: each full period of 7 contributes 9+4+1+0+1+4+9 = 28.
        let n = 7 * (crate::kernels::PAR_MIN + 3 * CHUNK + 5);
        let g: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let want = (28.0 * (n / 7) as f64).sqrt();
        assert_eq!(global_norm::<f32>(&[(ParamId(0), &g)]), want as f32);
    }

    /// Two steps with gradients of global norm 10 clipped to 1 give the same bits as two steps
    /// with the gradients multiplied by 0.1.
    fn check_clip_equals_scaled<O: Optimizer<f64>>(make: impl Fn() -> O) {
        let (mut s, ids, _) = small_model();
        // net/w gets [6, 0, 0], net/b gets [0, -8]: √(36 + 64) = 10 (the frozen gradient is
        // ignored).
        let g = [vec![6.0, 0.0, 0.0], vec![100.0, 100.0], vec![0.0, -8.0]];
        let scaled: Vec<Vec<f64>> = g.iter().map(|g| g.iter().map(|x| x * 0.1).collect()).collect();
        let mut s2 = s.clone();
        let mut clipped = ClipByGlobalNorm::new(make(), 1.0);
        let mut plain = make();
        for _ in 0..2 {
            clipped.step(&mut s, &pairs(&ids, &g)).unwrap();
            plain.step(&mut s2, &pairs(&ids, &scaled)).unwrap();
        }
        for id in ids {
            assert_eq!(bits(s.data(id)), bits(s2.data(id)));
        }
        assert_eq!(clipped.state(&s), plain.state(&s2));
    }

    #[test]
    fn clip_norm_10_to_1_is_scaling_by_a_tenth() {
        check_clip_equals_scaled(|| Sgd::new(0.1).with_momentum(0.9).with_weight_decay(0.01));
        check_clip_equals_scaled(|| Adam::new(0.1));
        check_clip_equals_scaled(|| AdamW::new(0.1));
        check_clip_equals_scaled(|| RmsProp::new(0.1).with_centered(true).with_momentum(0.5));
    }

    #[test]
    fn clip_below_max_norm_changes_nothing() {
        // ‖[0.3, 0.4]‖ = 0.5 < 1: factor 1, the same bits as the bare optimizer.
        let (mut a, id) = store_with(&[1.0, -2.0]);
        let mut b = a.clone();
        let mut clipped = ClipByGlobalNorm::new(Adam::new(0.1), 1.0);
        let mut bare = Adam::new(0.1);
        clipped.step(&mut a, &[(id, &[0.3, 0.4])]).unwrap();
        bare.step(&mut b, &[(id, &[0.3, 0.4])]).unwrap();
        assert_eq!(bits(a.data(id)), bits(b.data(id)));
    }

    #[test]
    fn clip_composes_with_an_outer_scale() {
        // scale 2 on gradients of norm 5: the inner optimizer would see norm 10, so the factor
        // is 1/10 and the inner scale 2·0.1 = 0.2. Plain SGD, lr = 1: p = [1, -2] − 0.2·[3, 4].
        let (mut s, id) = store_with(&[1.0, -2.0]);
        let mut clipped = ClipByGlobalNorm::new(Sgd::new(1.0), 1.0);
        clipped.step_scaled(&mut s, &[(id, &[3.0, 4.0])], 2.0).unwrap();
        assert_eq!(s.data(id), [1.0 - 3.0 * (2.0 * 0.1), -2.0 - 4.0 * (2.0 * 0.1)]);
    }

    #[test]
    fn clip_rejects_non_finite_gradients() {
        let (mut s, ids, _) = small_model();
        let before = s.clone();
        let mut opt = ClipByGlobalNorm::new(Adam::new(0.1), 1.0);
        let w = [0.1, 0.2, 0.3];
        let frozen = [f64::NAN, 1.0];
        for bad in [[1.0, f64::NAN], [f64::INFINITY, 0.0]] {
            let e = opt.step(&mut s, &[(ids[0], &w), (ids[1], &frozen), (ids[2], &bad)]).unwrap_err();
            assert_eq!(e, OptimError::NonFiniteGradient { path: "net/b".into() });
            assert!(e.to_string().contains("\"net/b\" is not finite"), "{e}");
            for id in ids {
                assert_eq!(s.data(id), before.data(id));
            }
            assert_eq!(opt.inner.steps(), 0);
        }
        // The frozen parameter's NaN gradient alone does not block the step.
        opt.step(&mut s, &[(ids[0], &w), (ids[1], &frozen), (ids[2], &[1.0, 1.0])]).unwrap();
        assert_eq!(opt.inner.steps(), 1);
        assert_eq!(s.data(ids[1]), before.data(ids[1]));
    }

    #[test]
    fn clip_rejects_bad_max_norm() {
        let (mut s, id) = store_with(&[1.0, -2.0]);
        for max in [0.0, -1.0, f64::NAN] {
            let e = ClipByGlobalNorm::new(Sgd::new(0.1), max).step(&mut s, &[(id, &[1.0, 1.0])]).unwrap_err();
            assert!(e.to_string().contains("ClipByGlobalNorm max_norm"), "{e}");
        }
        assert_eq!(s.data(id), [1.0, -2.0]);
    }

    #[test]
    fn clip_delegates_state_and_learning_rate() {
        check_state_round_trip(|| ClipByGlobalNorm::new(Adam::new(0.01), 0.5));
        check_load_errors(|| ClipByGlobalNorm::new(Adam::new(0.01), 0.5), "adam/m/net/b");
        check_bad_gradients(|| ClipByGlobalNorm::new(RmsProp::new(0.01), 0.5));
        check_frozen_untouched(ClipByGlobalNorm::new(Sgd::new(0.1), 0.5));
        let mut opt: ClipByGlobalNorm<Box<dyn Optimizer<f64>>> = ClipByGlobalNorm::new(Box::new(Adam::new(0.01)), 1.0);
        opt.set_learning_rate(0.5);
        assert_eq!(opt.learning_rate(), 0.5);
        steps_to_converge(&mut opt, 1e-3, 1000);
    }

    #[test]
    fn clip_converges_on_quadratic() {
        // The initial gradient norm is √(9 + 49 + 49) ≈ 10.3, clipped to 1 until close.
        steps_to_converge(&mut ClipByGlobalNorm::new(Sgd::new(0.1), 1.0), 1e-3, 500);
    }

    #[test]
    fn clip_is_thread_count_invariant() {
        check_thread_count_invariance(
            ClipByGlobalNorm::new(Adam::new(0.01), 1.0),
            ClipByGlobalNorm::new(Sgd::new(0.1).with_momentum(0.9), 1.0),
        );
    }
}
