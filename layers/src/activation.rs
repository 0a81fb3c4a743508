//! Activations by name, as Keras' `activations.get` accepts them, plus any function.

use std::fmt;
use std::sync::Arc;

use autodiff::prelude::*;

use crate::layer::in_user_code;

/// A user-supplied activation.
pub type ActivationFn<F> = Arc<dyn for<'g> Fn(Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync>;

/// An activation function applied to a layer's output.
#[derive(Clone, Default)]
pub enum Activation<F: Scalar> {
    /// Identity (TFP's default, `activation=None`).
    #[default]
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// `log(1 + exp(x))`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// ELU with alpha 1 (Keras' default).
    Elu,
    /// SELU.
    Selu,
    /// GELU, exact (erf) form.
    Gelu,
    /// Leaky ReLU with the given negative slope.
    LeakyRelu(f64),
    /// Softmax over the last axis.
    Softmax,
    /// Any function.
    Custom(ActivationFn<F>),
}

impl<F: Scalar> fmt::Debug for Activation<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu(a) => write!(f, "LeakyRelu({a})"),
            Activation::Custom(_) => f.write_str("Custom"),
            other => f.write_str(match other {
                Activation::Linear => "Linear",
                Activation::Relu => "Relu",
                Activation::Tanh => "Tanh",
                Activation::Sigmoid => "Sigmoid",
                Activation::Softplus => "Softplus",
                Activation::Softsign => "Softsign",
                Activation::Elu => "Elu",
                Activation::Selu => "Selu",
                Activation::Gelu => "Gelu",
                Activation::Softmax => "Softmax",
                _ => unreachable!("handled above"),
            }),
        }
    }
}

impl<F: Scalar> Activation<F> {
    /// Applies the activation.
    #[track_caller]
    pub fn apply<'g>(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        match self {
            Activation::Linear => x,
            Activation::Relu => relu(x),
            Activation::Tanh => tanh(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::Softplus => softplus(x),
            Activation::Softsign => softsign(x),
            Activation::Elu => elu(x, 1.0),
            Activation::Selu => selu(x),
            Activation::Gelu => gelu(x),
            Activation::LeakyRelu(a) => leaky_relu(x, *a),
            Activation::Softmax => softmax(x, -1),
            Activation::Custom(f) => in_user_code(x.graph(), || f(x)),
        }
    }

    /// A custom activation from a function.
    pub fn custom(f: impl for<'g> Fn(Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync + 'static) -> Self {
        Activation::Custom(Arc::new(f))
    }
}
