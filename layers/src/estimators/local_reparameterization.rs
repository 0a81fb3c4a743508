//! The local reparameterization estimator (Kingma, Salimans & Welling 2015; TFP's
//! `DenseLocalReparameterization`): sample the pre-activations instead of the weights,
//! `y = x ⊛ μ + sqrt((x ⊙ x) ⊛ σ² + δ) ⊙ ε`, with `ε` drawn per output element.
//!
//! TFP takes `sqrt` of the variance directly, whose gradient is infinite at 0, so an all-zero
//! input row (common after a ReLU) gives NaN gradients. Here `δ = eps(dtype)²` (1.4e-14 in
//! f32) keeps the gradient finite; it shifts the standard deviation by at most `eps(dtype)`.
//! The divergence function receives a separate weight draw `μ + σ ⊙ ε'`, built only if read.

use autodiff::prelude::*;
use distributions::{Distribution, Normal};

use super::{independent_normal, Applied, KernelEstimator};
use crate::layer::LayerCx;
use crate::linear_map::LinearMap;
use crate::tensor_fn::TensorFn;

/// Independent noise on every output element, matching each example's output variance.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalReparameterization;

impl KernelEstimator for LocalReparameterization {
    const NAME: &'static str = "local_reparameterization";
    const TITLE: &'static str = "LocalReparameterization";

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
        let mean = map.apply(x, loc);
        let var = map.apply(square(x), square(scale));
        let std = sqrt(var + F::EPS * F::EPS);
        let affine = Normal::new(mean, std);
        let output = tensor_fn.apply(&affine, cx, "local_reparameterization/eps");
        let kernel_sample = loc + scale * cx.noise(StandardNormal, loc.shape(), "kernel_posterior/eps");
        Applied { output, kernel_sample }
    }
}
