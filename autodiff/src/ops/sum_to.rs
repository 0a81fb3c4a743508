//! `sum_to(x, shape)`: sums a broadcast tensor back to `shape` (the unbroadcast). The gradient
//! driver inserts it wherever an op's gradient has the broadcast shape of its output.
//!
//! Forward: sum over leading axes `x` has beyond `shape`'s rank and over axes where `shape` is 1.
//! VJP: `gx = broadcast_to(gy, x.shape)`. Domain: all reals.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce::sum;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::broadcast_to;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Sum a broadcast tensor back to a shape it was broadcast from.
#[derive(Debug, Clone)]
pub struct SumTo {
    /// The target shape.
    pub shape: Shape,
}

impl<F: Scalar> Op<F> for SumTo {
    fn name(&self) -> &'static str {
        "sum_to"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        inputs[0].axes_summed_to(&self.shape)?;
        Ok(self.shape.clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let x = cx.input(0);
        let xd = cx.input_dims(0);
        let od = cx.out_dims();
        let lead = xd.len() - od.len();
        let mask: smallvec::SmallVec<[bool; 6]> =
            (0..xd.len()).map(|i| i < lead || (od[i - lead] == 1 && xd[i] != 1)).collect();
        sum(x, xd, &mask, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(broadcast_to(cx.grad_output(), cx.input(0).shape()))])
    }
}

/// Sums `x` down to `shape` (which must broadcast to `x`'s shape).
#[track_caller]
pub fn sum_to<F: Scalar>(x: Tensor<'_, F>, shape: impl Into<Shape>) -> Tensor<'_, F> {
    x.graph().apply(SumTo { shape: shape.into() }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sum_to_forward() {
        assert_forward(|g| sum_to(g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]), [3]), &[5.0, 7.0, 9.0]);
        assert_forward(|g| sum_to(g.constant_f64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]), [2, 1]), &[6.0, 15.0]);
    }

    #[test]
    fn sum_to_grad() {
        check_grads(|_, x| sum_to(x[0], [1, 3]), &[Spec::new([2, 4, 3])], 2);
    }
}
