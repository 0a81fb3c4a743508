//! `add_n(x₁, …, xₙ) = Σ xᵢ`, all of one shape. The gradient driver uses it to sum the
//! contributions to a node.
//!
//! VJP: `gxᵢ = gy` for every input. Domain: all reals.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::op::{ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Sum of several tensors of one shape.
#[derive(Debug, Clone, Copy)]
pub struct AddN;

impl<F: Scalar> Op<F> for AddN {
    fn name(&self) -> &'static str {
        "add_n"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let Some(first) = inputs.first() else {
            return Err(ShapeError::Custom("add_n needs at least one input".into()));
        };
        for s in &inputs[1..] {
            if s != first {
                return Err(ShapeError::Custom(format!("all inputs must have one shape; got {first} and {s}")));
            }
        }
        Ok((*first).clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let n = cx.num_inputs();
        let aliased = cx.aliased();
        let (ins, out) = cx.split();
        if aliased.is_none() {
            out.copy_from_slice(ins[0].expect("invariant: not aliased"));
        }
        for (k, x) in ins.iter().enumerate().take(n) {
            if k == 0 {
                continue;
            }
            let x = x.expect("invariant: only input 0 is aliased");
            for (o, &v) in out.iter_mut().zip(x) {
                *o = *o + v;
            }
        }
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        (0..cx.inputs.len()).map(|_| Some(gy)).collect::<SmallVec<_>>()
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// The sum of several tensors of one shape.
#[track_caller]
pub fn add_n<'g, F: Scalar>(xs: &[Tensor<'g, F>]) -> Tensor<'g, F> {
    xs[0].graph().apply(AddN, xs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn add_n_forward() {
        assert_forward(
            |g| {
                add_n(&[
                    g.constant_f64(&[1.0, 2.0], [2]),
                    g.constant_f64(&[3.0, 4.0], [2]),
                    g.constant_f64(&[5.0, 6.0], [2]),
                ])
            },
            &[9.0, 12.0],
        );
    }

    #[test]
    fn add_n_grad() {
        check_grads(|_, x| add_n(&[x[0], x[1], x[0]]), &[Spec::new([2, 2]), Spec::new([2, 2])], 2);
    }
}
