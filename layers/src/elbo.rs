//! The evidence lower bound, scaled per training example.
//!
//! For `N` training examples, `−ELBO = Σₙ E_q[−log p(yₙ | xₙ, w)] + KL(q ‖ p)`. A mini-batch of
//! size `b` estimates the sum by `N × mean over the batch`, so per example
//!
//! `−ELBO / N ≈ mean_batch(nll) + KL / N`.
//!
//! The KL is divided by `N`, the number of *training examples* (not the batch size, and not
//! the number of batches), exactly once. Getting this wrong is a frequent mistake, reported
//! against several Bayesian deep-learning libraries (TFP #651 and #396, blitz #108). Layers
//! register their KL unscaled (times their `kl_weight`, 1 by default), and this
//! is the one place that divides.

use autodiff::prelude::*;

/// `mean(nll) + kl / num_examples`: the negative ELBO per training example.
///
/// `nll` holds per-example negative log-likelihoods `[B]`; `kl` is the sum of the layers'
/// divergences (see [`LayerCx::total_divergence`](crate::LayerCx::total_divergence)).
/// Regularizers are not part of the ELBO: [`Model`](crate::Model) adds them to this per-example
/// loss unscaled, as Keras adds `model.losses` to the mean batch loss.
#[track_caller]
pub fn elbo_loss<'g, F: Scalar>(nll: Tensor<'g, F>, kl: Option<Tensor<'g, F>>, num_examples: usize) -> Tensor<'g, F> {
    let data = reduce_mean(nll, &[0], false);
    let data = if data.rank() == 0 { data } else { data.sum_all() };
    match kl {
        Some(kl) => data + kl * F::of(1.0 / num_examples as f64),
        None => data,
    }
}
