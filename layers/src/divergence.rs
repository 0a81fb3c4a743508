//! Divergence functions: TFP's `kernel_divergence_fn` and `bias_divergence_fn`.
//!
//! Unlike TFP, every divergence function is given the posterior sample the layer used (for
//! Flipout, the shared draw `μ + ΔW` before sign flips; for local reparameterization, a separate
//! weight draw that is only computed if the divergence reads it), so Monte-Carlo divergences work
//! with every layer.

use std::fmt;
use std::sync::Arc;

use autodiff::prelude::*;
use distributions::{kl_divergence, mc_kl, Distribution};

use crate::layer::in_user_code;

/// A user-supplied divergence: `(posterior, prior, posterior sample) -> scalar`.
pub type CustomDivergence<F> = Arc<
    dyn for<'g> Fn(&dyn Distribution<'g, F>, &dyn Distribution<'g, F>, Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync,
>;

/// How a layer measures the distance from its posterior to its prior.
#[derive(Clone, Default)]
pub enum Divergence<F: Scalar> {
    /// The analytic KL (TFP's default, `kl_divergence(q, p)`). A pair without a closed form is
    /// reported as a graph error naming both families.
    #[default]
    Analytic,
    /// The single-sample estimate `log q(w) − log p(w)` at the posterior sample the layer hands
    /// to its divergence: the kernel it used, or for local reparameterization (which never
    /// samples a kernel) a separate draw.
    MonteCarlo,
    /// No divergence (no loss is registered).
    None,
    /// Any function of the posterior, the prior and the sample.
    Custom(CustomDivergence<F>),
}

impl<F: Scalar> fmt::Debug for Divergence<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Divergence::Analytic => "Analytic",
            Divergence::MonteCarlo => "MonteCarlo",
            Divergence::None => "None",
            Divergence::Custom(_) => "Custom",
        })
    }
}

impl<F: Scalar> Divergence<F> {
    /// A custom divergence.
    pub fn custom(
        f: impl for<'g> Fn(&dyn Distribution<'g, F>, &dyn Distribution<'g, F>, Tensor<'g, F>) -> Tensor<'g, F>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        Divergence::Custom(Arc::new(f))
    }

    /// The divergence as a scalar, or `None` if there is none. Reduced to a scalar by summing,
    /// like TFP's `reduce_sum` of the KL penalty.
    #[track_caller]
    pub fn apply<'g>(
        &self,
        q: &dyn Distribution<'g, F>,
        p: &dyn Distribution<'g, F>,
        sample: Tensor<'g, F>,
    ) -> Option<Tensor<'g, F>> {
        let d = match self {
            Divergence::Analytic => kl_divergence(q, p),
            Divergence::MonteCarlo => mc_kl(q, p, sample),
            Divergence::None => return None,
            Divergence::Custom(f) => in_user_code(sample.graph(), || f(q, p, sample)),
        };
        Some(if d.rank() == 0 { d } else { d.sum_all() })
    }
}
