//! `reduce_mean_grad(gy, x, axes, keep_dims)`: the VJP of `reduce_mean`, `gx = broadcast(gy) / n`,
//! where `n` is the number of elements of `x` reduced into each output, read from `x`'s run-time
//! dims (the batch dimension may be reduced). Only `x`'s shape is used, never its values.
//!
//! Shape rule: `gy` must have the shape of `reduce_mean(x, axes, keep_dims)`; the output has
//! `x`'s shape.
//!
//! VJP: the op is linear in `gy` and is the adjoint of `reduce_mean`, so
//! `ggy = reduce_mean(ggx, axes, keep_dims)`. No gradient flows to `x` (its values are unused).
//! Domain: all reals.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::{binary, Operand};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_mean;
use crate::ops::reduce_mean::reduced_count;
use crate::ops::reduce_sum::reduced_mask;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// The gradient of a mean: `gy` spread evenly over the reduced elements.
#[derive(Debug, Clone)]
pub struct ReduceMeanGrad {
    /// The axes `reduce_mean` averaged over (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Whether `gy` keeps the reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for ReduceMeanGrad {
    fn name(&self) -> &'static str {
        "reduce_mean_grad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (gy, x) = (inputs[0], inputs[1]);
        let axes = x.normalize_axes(&self.axes)?;
        let want = x.reduced(&axes, self.keep_dims);
        if *gy != want {
            return Err(ShapeError::Custom(format!(
                "gy has shape {gy}, but the mean of {x} over axes {:?} has shape {want}",
                &self.axes[..]
            )));
        }
        Ok(x.clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (gy, xd) = (cx.input(0), cx.input_dims(1));
        let mask = reduced_mask(&self.axes, xd.len());
        let n = F::of(reduced_count(xd, &mask) as f64);
        // gy with the reduced axes as size 1, which broadcasts against x's dims.
        let kept: SmallVec<[usize; 6]> = xd.iter().zip(&mask).map(|(&d, &m)| if m { 1 } else { d }).collect();
        let od = cx.out_dims();
        binary(Operand::Slice(gy, &kept), Operand::Slice(gy, &kept), cx.out(), od, |a, _| a / n);
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(reduce_mean(cx.grad_output(), &self.axes, self.keep_dims)), None])
    }
}

/// `broadcast(gy) / n`: the gradient of `reduce_mean(x, axes, keep_dims)` for the cotangent `gy`.
#[track_caller]
pub fn reduce_mean_grad<'g, F: Scalar>(
    gy: Tensor<'g, F>,
    x: Tensor<'g, F>,
    axes: &[isize],
    keep_dims: bool,
) -> Tensor<'g, F> {
    gy.graph().apply(ReduceMeanGrad { axes: axes.into(), keep_dims }, &[gy, x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn reduce_mean_grad_forward() {
        // x is [2, 3] reduced over axis 1 (n = 3): each row of the output is gy[row] / 3.
        assert_forward(
            |g| reduce_mean_grad(g.constant_f64(&[3.0, 6.0], [2]), g.constant_f64(&[0.0; 6], [2, 3]), &[1], false),
            &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
        );
        // Over axis 0 with keep_dims (n = 2): each column is gy[col] / 2.
        assert_forward(
            |g| {
                reduce_mean_grad(
                    g.constant_f64(&[2.0, 4.0, 8.0], [1, 3]),
                    g.constant_f64(&[0.0; 6], [2, 3]),
                    &[0],
                    true,
                )
            },
            &[1.0, 2.0, 4.0, 1.0, 2.0, 4.0],
        );
    }

    #[test]
    fn reduce_mean_grad_grad() {
        // Order 2 in gy, with x a constant: with x an input, the second-order check would
        // differentiate x ↦ ∂L/∂x = zeros_like(x), which does not read gy, and the harness
        // rejects a feed its graph does not read.
        let x = [0.0; 12];
        check_grads(|g, v| reduce_mean_grad(v[0], g.constant_f64(&x, [2, 3, 2]), &[0, 2], false), &[Spec::new([3])], 2);
        check_grads(|g, v| reduce_mean_grad(v[0], g.constant_f64(&x, [4, 3]), &[-1], true), &[Spec::new([4, 1])], 2);
        // The gradient to x is zero (its values are unused), which the numerical check confirms.
        check_grads(|_, v| reduce_mean_grad(v[0], v[1], &[0, 2], false), &[Spec::new([3]), Spec::new([2, 3, 2])], 1);
    }

    #[test]
    fn reduce_mean_grad_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let _ = reduce_mean_grad(g.input("gy", [3]), g.input("x", [2, 3]), &[1], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("reduce_mean_grad") && msg.contains("[3]") && msg.contains("[2, 3]"), "{msg}");
    }
}
