//! A deterministic dense layer (Keras' `Dense`), so models can mix Bayesian and ordinary layers.

use autodiff::prelude::*;
use std::panic::Location;

use crate::activation::Activation;
use crate::layer::{Layer, LayerCx};
use crate::linear_map::{DenseMap, LinearMap};

/// `y = activation(x @ kernel + bias)`, kernel `[in, units]` initialised Glorot-uniform and bias
/// zeros (Keras' defaults).
#[derive(Clone, Debug)]
pub struct Dense<F: Scalar> {
    name: String,
    /// Where the layer was created (see [`Layer::origin`]).
    origin: &'static Location<'static>,
    /// Output units.
    pub units: usize,
    /// Activation (default: none).
    pub activation: Activation<F>,
    /// Whether to add a bias (default: true).
    pub use_bias: bool,
    /// Kernel initializer.
    pub kernel_init: Init,
    /// Bias initializer.
    pub bias_init: Init,
    /// Whether optimizers update the parameters.
    pub trainable: bool,
}

impl<F: Scalar> Dense<F> {
    /// A dense layer with `units` outputs, named `dense`.
    #[track_caller]
    pub fn new(units: usize) -> Self {
        Dense {
            name: "dense".into(),
            origin: Location::caller(),
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_init: Init::GlorotUniform,
            bias_init: Init::Zeros,
            trainable: true,
        }
    }
    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the activation.
    pub fn activation(mut self, a: Activation<F>) -> Self {
        self.activation = a;
        self
    }
    /// Adds or removes the bias.
    pub fn use_bias(mut self, b: bool) -> Self {
        self.use_bias = b;
        self
    }
    /// Freezes or unfreezes the parameters.
    pub fn trainable(mut self, t: bool) -> Self {
        self.trainable = t;
        self
    }
}

impl<F: Scalar> Layer<F> for Dense<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn origin(&self) -> Option<&'static Location<'static>> {
        Some(self.origin)
    }

    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let n_in = match LinearMap::<F>::kernel_shape(&DenseMap { units: self.units }, &x.shape()) {
            Ok(kernel) => kernel[0],
            Err(msg) => {
                let msg = format!("Dense ({}): {msg}", self.name);
                cx.graph().record_shape_error("dense", ShapeError::Custom(msg), &[x]);
                return cx.graph().poisoned();
            }
        };
        let w = cx.param("kernel", &[n_in, self.units], self.kernel_init, self.trainable);
        let mut y = matmul(x, w);
        if self.use_bias {
            y = y + cx.param("bias", &[self.units], self.bias_init, self.trainable);
        }
        self.activation.apply(y)
    }
}
