//! `relu_grad(x, gy) = gy · [x > 0]`: the VJP of [`relu`](crate::ops::relu) in one pass, with
//! broadcasting (0 at the kink `x = 0` and for NaN `x`, as TensorFlow).
//!
//! A ReLU layer's gradient runs over every activation on every step; as `greater` then `mul` it
//! would write and read back a whole intermediate tensor. The product is kept (rather than a
//! select) so the values are exactly those of `gy * greater(x, 0)`, including `±0` and NaN for a
//! non-finite `gy`.
//!
//! VJP: linear in `gy` with the same mask, `g_gy = relu_grad(x, g)`, so relu's derivatives of
//! every order exist. Gradient checks: standard normal values at least 0.1 away from the kink.
//!
// no-gradient (x only): the mask is piecewise constant in `x` (zero derivative away from the
// kink, undefined at it).

use crate::elementwise::{Binary, BinaryElementwise};
use crate::graph::Tensor;
use crate::scalar::Scalar;

/// `gy · [x > 0]`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct ReluGrad;

impl<F: Scalar> BinaryElementwise<F> for ReluGrad {
    const NAME: &'static str = "relu_grad";
    #[inline(always)]
    fn f(&self, x: F, gy: F) -> F {
        gy * if x > F::zero() { F::one() } else { F::zero() }
    }
    fn vjp<'g>(
        &self,
        x: Tensor<'g, F>,
        _gy: Tensor<'g, F>,
        _y: Tensor<'g, F>,
        g: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>) {
        (None, Some(relu_grad(x, g)))
    }
}

/// `gy · [x > 0]` with broadcasting: the gradient of `relu(x)` given the output's cotangent.
#[track_caller]
pub fn relu_grad<'g, F: Scalar>(x: Tensor<'g, F>, gy: Tensor<'g, F>) -> Tensor<'g, F> {
    x.graph().apply(Binary(ReluGrad), &[x, gy])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::ops::{greater, mul};
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn relu_grad_forward() {
        // Passes gy where x > 0: x = [-1, 0, 2, NaN] keeps only the third; gy = 3.
        assert_forward(
            |g| relu_grad(g.constant_f64(&[-1.0, 0.0, 2.0, f64::NAN], [4]), g.scalar(3.0)),
            &[0.0, 0.0, 3.0, 0.0],
        );
        // Broadcasting x [2, 1] against gy [3]: rows of gy where x > 0.
        assert_forward(
            |g| relu_grad(g.constant_f64(&[1.0, -1.0], [2, 1]), g.constant_f64(&[1.0, 2.0, 3.0], [3])),
            &[1.0, 2.0, 3.0, 0.0, 0.0, 0.0],
        );
    }

    #[test]
    fn relu_grad_matches_greater_times_gy_bitwise() {
        // The same products as `gy * greater(x, 0)`, signed zeros and NaN included.
        let x = [-1.0, 2.0, 0.0, 3.0, -2.0, 1.0];
        let gy = [-0.5, -0.0, 4.0, f64::INFINITY, f64::NAN, 7.0];
        let a = eval(|g| relu_grad(g.constant_f64(&x, [6]), g.constant_f64(&gy, [6])));
        let b = eval(|g| {
            let xt = g.constant_f64(&x, [6]);
            mul(g.constant_f64(&gy, [6]), greater(xt, xt.scalar(0.0)))
        });
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn relu_grad_grad() {
        check_grads(
            |_, x| relu_grad(x[0], x[1]),
            &[Spec::new([3, 2]).domain(Domain::AwayFrom(0.0, 0.1)), Spec::new([3, 2])],
            2,
        );
        check_grads(
            |_, x| {
                let y = relu_grad(x[0], x[1]);
                y * y
            },
            &[Spec::new([2, 3]).domain(Domain::AwayFrom(0.0, 0.1)), Spec::new([3])],
            2,
        );
    }

    #[test]
    fn relu_grad_has_no_gradient_in_x() {
        // d/dx Σ relu_grad(x, gy) is zero: the mask does not vary away from the kink.
        let g = Graph::<f64>::new();
        let x = g.constant_f64(&[-1.0, 2.0], [2]);
        let gy = g.constant_f64(&[3.0, 4.0], [2]);
        let y = relu_grad(x, gy).sum_all();
        let gx = grad(y, &[x])[0];
        let mut s = Session::new(g.compile(&[gx]).unwrap(), 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], [0.0, 0.0]);
    }
}
