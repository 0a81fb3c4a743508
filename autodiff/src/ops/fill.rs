//! `fill(like, v)`: a tensor of `like`'s shape with every element `v`. Takes the shape at run
//! time, so it works with the batch dimension.
//!
//! VJP: none (the output does not depend on `like`'s values).

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// A constant of another tensor's shape.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    /// The value.
    pub value: f64,
}

impl<F: Scalar> Op<F> for Fill {
    fn name(&self) -> &'static str {
        "fill"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let v = F::of(self.value);
        cx.out().iter_mut().for_each(|o| *o = v);
        Ok(())
    }
    fn vjp<'g>(&self, _cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([None])
    }
}

/// A tensor shaped like `like`, filled with `value`.
#[track_caller]
pub fn fill<F: Scalar>(like: Tensor<'_, F>, value: f64) -> Tensor<'_, F> {
    like.graph().apply(Fill { value }, &[like])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn fill_forward() {
        assert_forward(|g| fill(g.constant_f64(&[1.0, 2.0, 3.0], [3]), 2.5), &[2.5, 2.5, 2.5]);
    }

    #[test]
    fn fill_has_no_grad() {
        // d/dx fill(x) = 0 everywhere, and d/dx (x * fill(x, 3)) = 3.
        check_grads(|_, x| x[0] * fill(x[0], 3.0), &[Spec::new([4])], 2);
    }
}
