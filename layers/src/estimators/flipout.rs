//! The Flipout estimator (Wen et al. 2018, eq. 4; TFP's `DenseFlipout`):
//!
//! `y = x ⊛ μ + ((x ⊙ s_in) ⊛ ΔW) ⊙ s_out`, with one draw `ΔW ~ N(0, σ²)` per run and Rademacher
//! signs `s_in` (drawn first, on the map's input-sign shape) and `s_out` (second, on its
//! output-sign shape). Row `n` of the output equals `x_n ⊛ (μ + ΔW ⊙ s_in[n] s_out[n]ᵀ)`: each
//! example sees its own genuine draw from the posterior, pseudo-independent of the others, at
//! about twice the cost of reparameterization and with much lower gradient variance.
//!
//! The divergence function receives `μ + ΔW`, a genuine posterior draw (TFP passes `None`).

use autodiff::prelude::*;
use distributions::{Distribution, Normal};

use super::{independent_normal, Applied, KernelEstimator};
use crate::layer::{LayerCx, Mode};
use crate::linear_map::LinearMap;
use crate::tensor_fn::TensorFn;

/// Pseudo-independent weight perturbations per example by random sign flips.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flipout;

impl KernelEstimator for Flipout {
    const NAME: &'static str = "flipout";
    const TITLE: &'static str = "Flipout";

    fn apply<'g, F: Scalar>(
        &self,
        x: Tensor<'g, F>,
        q: &dyn Distribution<'g, F>,
        tensor_fn: &TensorFn<F>,
        map: &dyn LinearMap<F>,
        cx: &mut LayerCx<'g, '_, F>,
    ) -> Applied<'g, F> {
        let layer = format!("{}{}", map.family(), Self::TITLE);
        let Some(normal) = independent_normal(q, &layer, cx) else {
            let p = cx.graph().poisoned();
            return Applied { output: p, kernel_sample: p };
        };
        let (loc, scale) = (normal.loc(), normal.scale());
        let mean_out = map.apply(x, loc);
        if mean_out.is_poisoned() {
            // The map recorded why (e.g. a kernel larger than the input); the sign shapes below
            // need the output's batch axis.
            return Applied { output: mean_out, kernel_sample: loc };
        }
        // ΔW: TFP applies the tensor function to N(0, σ); the mean of that is 0, and then the
        // perturbation term vanishes, so it is not built at all.
        let delta = match (cx.mode(), tensor_fn) {
            (Mode::Mean, _) | (_, TensorFn::Mean) => None,
            (_, TensorFn::Sample) => Some(scale * cx.noise(StandardNormal, loc.shape(), "flipout/eps")),
            (_, TensorFn::Custom(f)) => {
                let zero_mean = Normal::new(zeros_like(loc), scale);
                Some(f(&zero_mean, cx))
            }
        };
        let Some(delta) = delta else {
            return Applied { output: mean_out, kernel_sample: loc };
        };
        let sign_in = cx.noise(Rademacher, map.input_sign_shape(&x.shape()), "flipout/sign_input");
        let perturbed = map.apply(x * sign_in, delta);
        let sign_out = cx.noise(Rademacher, map.output_sign_shape(&perturbed.shape()), "flipout/sign_output");
        Applied { output: mean_out + perturbed * sign_out, kernel_sample: loc + delta }
    }
}
