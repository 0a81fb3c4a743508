//! `reshape(x, shape)`: the same elements in row-major order under a new shape. With the batch
//! dimension, both shapes must contain it once and agree on the product of the other dims.
//!
//! VJP: `gx = reshape(gy, x.shape)`. Runs in place when `x` dies here. Domain: all reals.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Reinterpret the shape.
#[derive(Debug, Clone)]
pub struct Reshape {
    /// The new shape.
    pub shape: Shape,
}

impl<F: Scalar> Op<F> for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        if !inputs[0].same_size(&self.shape) {
            return Err(ShapeError::Custom(format!(
                "cannot reshape {} into {}: element counts differ",
                inputs[0], self.shape
            )));
        }
        Ok(self.shape.clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        if let Some(x) = cx.input_opt(0) {
            cx.out().copy_from_slice(x);
        }
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(reshape(cx.grad_output(), cx.input(0).shape()))])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// `x` with a new shape of the same number of elements.
#[track_caller]
pub fn reshape<F: Scalar>(x: Tensor<'_, F>, shape: impl Into<Shape>) -> Tensor<'_, F> {
    x.graph().apply(Reshape { shape: shape.into() }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn reshape_forward() {
        assert_forward(|g| reshape(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), [4]), &[1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn reshape_grad() {
        check_grads(|_, x| reshape(x[0], [3, 2]) * x[1], &[Spec::new([2, 3]), Spec::new([3, 2])], 2);
    }
}
