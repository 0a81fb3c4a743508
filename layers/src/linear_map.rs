//! The linear map a variational layer applies with its kernel: a matrix product for dense
//! layers, a convolution for conv layers. Estimators are written against this trait, so each
//! estimator serves every layer family.

use autodiff::prelude::*;

/// A linear map `y = x ⊛ kernel` and the shapes Flipout needs around it.
pub trait LinearMap<F: Scalar>: Send + Sync {
    /// The layer family's name, used in error messages (e.g. `"DenseFlipout"` is built from it).
    fn family(&self) -> &'static str;
    /// The kernel shape for inputs of shape `x`, or why the input does not fit.
    fn kernel_shape(&self, x: &Shape) -> Result<Vec<usize>, String>;
    /// The bias shape.
    fn bias_shape(&self) -> Vec<usize>;
    /// `x ⊛ kernel`.
    fn apply<'g>(&self, x: Tensor<'g, F>, kernel: Tensor<'g, F>) -> Tensor<'g, F>;
    /// Adds the bias to the map's output.
    fn add_bias<'g>(&self, y: Tensor<'g, F>, bias: Tensor<'g, F>) -> Tensor<'g, F>;
    /// Shape of Flipout's input signs for inputs of shape `x`.
    fn input_sign_shape(&self, x: &Shape) -> Shape;
    /// Shape of Flipout's output signs for outputs of shape `y`.
    fn output_sign_shape(&self, y: &Shape) -> Shape;
}

/// A dense layer's map: `x @ kernel` over the last axis, kernel `[in, units]` (TF layout).
#[derive(Clone, Copy, Debug)]
pub struct DenseMap {
    /// Output units.
    pub units: usize,
}

impl<F: Scalar> LinearMap<F> for DenseMap {
    fn family(&self) -> &'static str {
        "Dense"
    }
    fn kernel_shape(&self, x: &Shape) -> Result<Vec<usize>, String> {
        if self.units == 0 {
            return Err("units must be at least 1".into());
        }
        if x.rank() < 2 {
            return Err(format!("input must have rank >= 2 ([batch, ..., features]), got {x}"));
        }
        match x.dim(x.rank() - 1).fixed() {
            Some(n) => Ok(vec![n, self.units]),
            None => Err(format!("the last dimension of the input must be known, got {x}")),
        }
    }
    fn bias_shape(&self) -> Vec<usize> {
        vec![self.units]
    }
    fn apply<'g>(&self, x: Tensor<'g, F>, kernel: Tensor<'g, F>) -> Tensor<'g, F> {
        matmul(x, kernel)
    }
    fn add_bias<'g>(&self, y: Tensor<'g, F>, bias: Tensor<'g, F>) -> Tensor<'g, F> {
        y + bias
    }
    /// TFP draws dense input signs on the full input shape.
    fn input_sign_shape(&self, x: &Shape) -> Shape {
        x.clone()
    }
    /// ... and output signs on `batch_shape + [units]`.
    fn output_sign_shape(&self, y: &Shape) -> Shape {
        y.clone()
    }
}
