//! The reparameterization estimator (Kingma & Welling 2014; TFP's `DenseReparameterization`):
//! one kernel draw `W = μ + σ ⊙ ε` shared by the whole batch, then `y = x ⊛ W`.

use autodiff::prelude::*;
use distributions::Distribution;

use super::{Applied, KernelEstimator};
use crate::layer::LayerCx;
use crate::linear_map::LinearMap;
use crate::tensor_fn::TensorFn;

/// One kernel sample per run, shared by every example.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reparameterization;

impl KernelEstimator for Reparameterization {
    const NAME: &'static str = "reparameterization";
    const TITLE: &'static str = "Reparameterization";

    fn apply<'g, F: Scalar>(
        &self,
        x: Tensor<'g, F>,
        q: &dyn Distribution<'g, F>,
        tensor_fn: &TensorFn<F>,
        map: &dyn LinearMap<F>,
        cx: &mut LayerCx<'g, '_, F>,
    ) -> Applied<'g, F> {
        let w = tensor_fn.apply(q, cx, "kernel_posterior/eps");
        Applied { output: map.apply(x, w), kernel_sample: w }
    }
}
