//! `prod_of_others(x, axes)`: for every element, the product of the *other* elements of its
//! group (the elements reduced together over `axes`), `pᵢ = Π_{j≠i} xⱼ`. It is the derivative
//! of `reduce_prod`, `∂(Π x)/∂xᵢ`, computed without dividing by `xᵢ`, so it is exact where
//! `xᵢ = 0`.
//!
//! Forward per group, from the number of zeros `z` and the product `q` of the non-zero
//! elements: `pᵢ = q / xᵢ` if `z = 0`; `pᵢ = q` at the zero and `0` elsewhere if `z = 1`;
//! `0` everywhere if `z ≥ 2`. Shape: that of `x`. Runs in place when `x` dies here.
//!
//! VJP: `∂pᵢ/∂xⱼ = pᵢ / xⱼ` for `j ≠ i` (and 0 for `j = i`), so
//! `gxⱼ = (Σᵢ gpᵢ pᵢ - gpⱼ pⱼ) / xⱼ = (reduce_sum(gp * p) - gp * p) / x`. That divides by `x`:
//! the second derivative of `reduce_prod` is NaN or infinite where an element is zero.
//!
//! Domain: `Positive` and negative values away from zero (`Range(-2, -0.5)`). If `q` overflows
//! (products beyond the float range), `q / xᵢ` is infinite even where `pᵢ` is finite.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{for_each_group, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_sum;
use crate::ops::reduce_sum::reduced_mask;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// The product of the other elements of each element's group.
#[derive(Debug, Clone)]
pub struct ProdOfOthers {
    /// The axes spanning a group (may be negative).
    pub axes: SmallVec<[isize; 4]>,
}

impl<F: Scalar> Op<F> for ProdOfOthers {
    fn name(&self) -> &'static str {
        "prod_of_others"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        inputs[0].normalize_axes(&self.axes)?;
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let xd = cx.input_dims(0);
        let groups = Groups::new(xd, &reduced_mask(&self.axes, xd.len()));
        let x = cx.input_opt(0);
        let out = cx.out();
        if let Some(x) = x {
            out.copy_from_slice(x);
        }
        for_each_group(&groups, out, |buf, base, _| {
            let (zeros, q) =
                groups.fold(
                    buf,
                    base,
                    (0usize, F::one()),
                    |(z, q), v| {
                        if v == F::zero() {
                            (z + 1, q)
                        } else {
                            (z, q * v)
                        }
                    },
                );
            match zeros {
                0 => groups.update(buf, base, |v| q / v),
                1 => groups.update(buf, base, |v| if v == F::zero() { q } else { F::zero() }),
                _ => groups.update(buf, base, |_| F::zero()),
            }
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (x, p, gp) = (cx.input(0), cx.output(), cx.grad_output());
        let w = gp * p;
        grads([Some((reduce_sum(w, &self.axes, true) - w) / x)])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// For every element of `x`, the product of the other elements of its group over `axes`.
#[track_caller]
pub fn prod_of_others<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize]) -> Tensor<'g, F> {
    x.graph().apply(ProdOfOthers { axes: axes.into() }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn prod_of_others_forward() {
        // Rows [2, 3, 4] and [-1, 5, 0.5]: products of the other two elements.
        assert_forward(
            |g| prod_of_others(g.constant_f64(&[2.0, 3.0, 4.0, -1.0, 5.0, 0.5], [2, 3]), &[1]),
            &[12.0, 8.0, 6.0, 2.5, -0.5, -5.0],
        );
        // Columns of [[2, 0], [3, 0], [0, 7]]: one zero (its entry is 2·3, the others 0), and
        // two zeros (all 0).
        assert_forward(
            |g| prod_of_others(g.constant_f64(&[2.0, 0.0, 3.0, 0.0, 0.0, 7.0], [3, 2]), &[0]),
            &[0.0, 0.0, 0.0, 0.0, 6.0, 0.0],
        );
    }

    #[test]
    fn prod_of_others_grad() {
        check_grads(|_, x| prod_of_others(x[0], &[1]), &[Spec::new([2, 3]).domain(Domain::Positive)], 2);
        check_grads(|_, x| prod_of_others(x[0], &[0, 2]), &[Spec::new([2, 2, 3]).domain(Domain::Range(-2.0, -0.5))], 2);
    }

    #[test]
    fn prod_of_others_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = prod_of_others(g.input("x", [2, 3]), &[5]);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("prod_of_others") && msg.contains("[2, 3]") && msg.contains("axis 5"), "{msg}");
    }

    #[test]
    fn prod_of_others_forward_in_place() {
        // `x + 0` is computed and dies here, so the op takes over its buffer; the result must
        // equal the out-of-place one.
        let x = [2.0, 0.0, 3.0, 0.0, 0.0, 7.0];
        let want = eval(|g| prod_of_others(g.constant_f64(&x, [3, 2]), &[0]));
        let g = Graph::<f64>::new();
        let y = prod_of_others(g.constant_f64(&x, [3, 2]) + 0.0, &[0]);
        let plan = g.compile(&[y]).unwrap();
        assert_eq!(plan.num_in_place(), 1);
        let mut s = Session::new(plan, 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], want[..]);
    }
}
