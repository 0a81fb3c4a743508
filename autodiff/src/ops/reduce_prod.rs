//! `reduce_prod(x, axes, keep_dims)`: the product over the given axes (negative axes count
//! from the end). An empty group gives 1.
//!
//! VJP: `gx = gy * prod_of_others(x)`, where `prod_of_others` gives each element the product
//! of the other elements of its group. Unlike the shortcut `gy * y / x`, this is exact where
//! elements are zero; the *second* derivative (the VJP of `prod_of_others`) divides by `x` and
//! is NaN or infinite where an element is zero. Shape rule as `reduce_sum`.
//!
//! Domain: `Positive`, and negative values away from zero (`Range(-2, -0.5)`).

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce::reduce;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_sum::reduced_mask;
use crate::ops::{prod_of_others, reshape};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Product over axes.
#[derive(Debug, Clone)]
pub struct ReduceProd {
    /// Axes to reduce (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Keep reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for ReduceProd {
    fn name(&self) -> &'static str {
        "reduce_prod"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let axes = inputs[0].normalize_axes(&self.axes)?;
        Ok(inputs[0].reduced(&axes, self.keep_dims))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let mask = reduced_mask(&self.axes, xd.len());
        reduce(x, xd, &mask, cx.out(), F::one(), |a, b| a * b);
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, gy) = (cx.input(0), cx.grad_output());
        let gy = if self.keep_dims {
            gy
        } else {
            let xs = x.shape();
            let axes = xs.normalize_axes(&self.axes).expect("invariant: axes checked at build");
            reshape(gy, xs.reduced(&axes, true))
        };
        grads([Some(gy * prod_of_others(x, &self.axes))])
    }
}

/// The product of `x` over `axes`.
#[track_caller]
pub fn reduce_prod<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    x.graph().apply(ReduceProd { axes: axes.into(), keep_dims }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::testing::*;

    #[test]
    fn reduce_prod_forward() {
        // x = [[1, 2, 3], [4, 5, 6]]: column products 4, 10, 18; row products 6, 120; all 720.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_forward(|g| reduce_prod(g.constant_f64(&x, [2, 3]), &[0], false), &[4.0, 10.0, 18.0]);
        assert_forward(|g| reduce_prod(g.constant_f64(&x, [2, 3]), &[-1], true), &[6.0, 120.0]);
        assert_forward(|g| reduce_prod(g.constant_f64(&x, [2, 3]), &[0, 1], false), &[720.0]);
        assert_forward(|g| reduce_prod(g.constant_f64(&[], [2, 0]), &[1], false), &[1.0, 1.0]);
    }

    #[test]
    fn reduce_prod_grad() {
        check_grads(|_, x| reduce_prod(x[0], &[1], false), &[Spec::new([2, 3]).domain(Domain::Positive)], 2);
        check_grads(|_, x| reduce_prod(x[0], &[0, 2], true), &[Spec::new([2, 3, 2]).domain(Domain::Positive)], 2);
        check_grads(|_, x| reduce_prod(x[0], &[-1], false), &[Spec::new([3, 3]).domain(Domain::Range(-2.0, -0.5))], 2);
    }

    #[test]
    fn reduce_prod_grad_is_exact_at_zeros() {
        // d(x₀x₁x₂)/dx = (x₁x₂, x₀x₂, x₀x₁) = (0·3, 2·3, 2·0) at x = (2, 0, 3).
        let gx = eval(|g| {
            let x = g.constant_f64(&[2.0, 0.0, 3.0], [3]);
            grad(reduce_prod(x, &[0], false), &[x])[0]
        });
        assert_eq!(gx, [0.0, 6.0, 0.0]);
    }

    #[test]
    fn reduce_prod_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = reduce_prod(g.input("x", [2, 3]), &[0, 2], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("reduce_prod") && msg.contains("[2, 3]") && msg.contains("axis 2"), "{msg}");
    }
}
