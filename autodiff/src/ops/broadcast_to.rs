//! `broadcast_to(x, shape)`: repeats `x` along broadcast axes (NumPy rules).
//!
//! VJP: `gx = sum_to(gy, x.shape)`. Domain: all reals.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce::broadcast;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::sum_to;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Broadcast to a larger shape.
#[derive(Debug, Clone)]
pub struct BroadcastTo {
    /// The target shape.
    pub shape: Shape,
}

impl<F: Scalar> Op<F> for BroadcastTo {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let b = inputs[0].broadcast_with(&self.shape)?;
        if b != self.shape {
            return Err(ShapeError::NotBroadcastable { lhs: inputs[0].clone(), rhs: self.shape.clone() });
        }
        Ok(b)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd, od) = (cx.input(0), cx.input_dims(0), cx.out_dims());
        broadcast(x, xd, cx.out(), od);
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(sum_to(cx.grad_output(), cx.input(0).shape()))])
    }
}

/// Broadcasts `x` to `shape`.
#[track_caller]
pub fn broadcast_to<F: Scalar>(x: Tensor<'_, F>, shape: impl Into<Shape>) -> Tensor<'_, F> {
    x.graph().apply(BroadcastTo { shape: shape.into() }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn broadcast_to_forward() {
        assert_forward(|g| broadcast_to(g.constant_f64(&[1.0, 2.0], [2, 1]), [2, 3]), &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn broadcast_to_grad() {
        check_grads(|_, x| broadcast_to(x[0], [3, 2, 4]), &[Spec::new([2, 1])], 2);
    }
}
