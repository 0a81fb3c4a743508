//! How a posterior becomes the tensor a layer uses: TFP's `*_posterior_tensor_fn`.

use std::fmt;
use std::sync::Arc;

use autodiff::prelude::*;
use distributions::Distribution;

use crate::layer::{in_user_code, LayerCx, Mode};

/// A user-supplied tensor function.
pub type CustomTensorFn<F> =
    Arc<dyn for<'g, 's> Fn(&dyn Distribution<'g, F>, &mut LayerCx<'g, 's, F>) -> Tensor<'g, F> + Send + Sync>;

/// Turns a distribution into a tensor.
#[derive(Clone, Default)]
pub enum TensorFn<F: Scalar> {
    /// A reparameterized sample, fresh on every run (TFP's default, `lambda d: d.sample()`).
    #[default]
    Sample,
    /// The distribution's mean (TFP's `lambda d: d.mean()`).
    Mean,
    /// Any function of the distribution.
    Custom(CustomTensorFn<F>),
}

impl<F: Scalar> fmt::Debug for TensorFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TensorFn::Sample => "Sample",
            TensorFn::Mean => "Mean",
            TensorFn::Custom(_) => "Custom",
        })
    }
}

impl<F: Scalar> TensorFn<F> {
    /// A custom tensor function.
    pub fn custom(
        f: impl for<'g, 's> Fn(&dyn Distribution<'g, F>, &mut LayerCx<'g, 's, F>) -> Tensor<'g, F> + Send + Sync + 'static,
    ) -> Self {
        TensorFn::Custom(Arc::new(f))
    }

    /// Applies the function. In [`Mode::Mean`] every function becomes the mean. `salt` names
    /// the noise leaf of a sample within the layer's scope.
    #[track_caller]
    pub fn apply<'g>(&self, d: &dyn Distribution<'g, F>, cx: &mut LayerCx<'g, '_, F>, salt: &str) -> Tensor<'g, F> {
        if cx.mode() == Mode::Mean {
            return d.mean();
        }
        match self {
            TensorFn::Sample => sample(d, cx, salt),
            TensorFn::Mean => d.mean(),
            TensorFn::Custom(f) => {
                let g = cx.graph();
                in_user_code(g, || f(d, cx))
            }
        }
    }
}

/// A sample of `d` from standard-normal noise drawn for the layer being built (`loc + scale · ε`
/// for the location-scale families, which passes gradients to their parameters).
#[track_caller]
pub fn sample<'g, F: Scalar>(d: &dyn Distribution<'g, F>, cx: &LayerCx<'g, '_, F>, salt: &str) -> Tensor<'g, F> {
    let mut shape = d.batch_shape();
    shape.dims_mut().extend(d.event_shape().dims().iter().copied());
    d.sample_with_noise(cx.noise(StandardNormal, shape, salt))
}
