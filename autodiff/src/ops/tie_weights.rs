//! `tie_weights(x, y, axes, keep_dims)`: for every group of `x` reduced over `axes`, weight
//! `1/k` on the `k` elements equal to the group's value in `y`, and `0` elsewhere. With `y` the
//! group maxima (or minima), this is how the gradient of `reduce_max` / `reduce_min` is split
//! equally among ties, as in TensorFlow: `gx = tie_weights(x, y) * gy`.
//!
//! Shape rule: `y` must have the shape of `x` reduced over `axes` (with `keep_dims`); the output
//! has `x`'s shape. A group where no element equals `y` (e.g. its maximum is NaN) gets all-zero
//! weights. Runs in place when `x` dies here.
//!
// no-gradient: the weights are piecewise constant in `x` and `y` (they jump only where ties
// form), so their derivative is zero wherever it exists.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{for_each_group, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_sum::reduced_mask;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Equal weights on the elements of each group that equal the group's reduced value.
#[derive(Debug, Clone)]
pub struct TieWeights {
    /// The reduced axes (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Whether `y` keeps the reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for TieWeights {
    fn name(&self) -> &'static str {
        "tie_weights"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let (x, y) = (inputs[0], inputs[1]);
        let axes = x.normalize_axes(&self.axes)?;
        let want = x.reduced(&axes, self.keep_dims);
        if *y != want {
            return Err(ShapeError::Custom(format!(
                "y has shape {y}, but {x} reduced over axes {:?} has shape {want}",
                &self.axes[..]
            )));
        }
        Ok(x.clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let xd = cx.input_dims(0);
        let groups = Groups::new(xd, &reduced_mask(&self.axes, xd.len()));
        let y = cx.input(1);
        let x = cx.input_opt(0);
        let out = cx.out();
        if let Some(x) = x {
            out.copy_from_slice(x);
        }
        for_each_group(&groups, out, |buf, base, g| {
            let m = y[g];
            let k = groups.fold(buf, base, 0usize, |k, v| k + usize::from(v == m));
            let w = if k == 0 { F::zero() } else { F::one() / F::of(k as f64) };
            groups.update(buf, base, |v| if v == m { w } else { F::zero() });
        });
        Ok(())
    }
    fn vjp<'g>(&self, _cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([None, None])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// Weights `1/k` on the `k` elements of each group of `x` (reduced over `axes`) that equal the
/// group's value in `y`, zero elsewhere.
#[track_caller]
pub fn tie_weights<'g, F: Scalar>(
    x: Tensor<'g, F>,
    y: Tensor<'g, F>,
    axes: &[isize],
    keep_dims: bool,
) -> Tensor<'g, F> {
    x.graph().apply(TieWeights { axes: axes.into(), keep_dims }, &[x, y])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn tie_weights_forward() {
        // Rows [1, 3, 3] and [2, 0, -1] with maxima 3 and 2: the tie at 3 shares 1/2 each.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[1.0, 3.0, 3.0, 2.0, 0.0, -1.0], [2, 3]);
                tie_weights(x, g.constant_f64(&[3.0, 2.0], [2]), &[1], false)
            },
            &[0.0, 0.5, 0.5, 1.0, 0.0, 0.0],
        );
        // Columns of [[5, 5], [5, 4], [5, 4]] against [5, 5] (keep_dims): 1/3 each in column 0.
        assert_forward(
            |g| {
                let x = g.constant_f64(&[5.0, 5.0, 5.0, 4.0, 5.0, 4.0], [3, 2]);
                tie_weights(x, g.constant_f64(&[5.0, 5.0], [1, 2]), &[0], true)
            },
            &[1.0 / 3.0, 1.0, 1.0 / 3.0, 0.0, 1.0 / 3.0, 0.0],
        );
        // No element equals the value (a NaN maximum): all-zero weights, never NaN.
        assert_forward(
            |g| {
                tie_weights(
                    g.constant_f64(&[1.0, f64::NAN], [2]),
                    g.constant_f64(&[f64::NAN], Shape::scalar()),
                    &[0],
                    false,
                )
            },
            &[0.0, 0.0],
        );
    }

    #[test]
    fn tie_weights_grad_is_zero() {
        // Values away from each other: small perturbations do not change the weights, and the
        // symbolic gradient is zero. Order 1: the op has no gradient to differentiate again.
        check_grads(
            |_, v| tie_weights(v[0], v[1], &[0], false),
            &[Spec::new([3, 2]).values(vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]), Spec::new([2]).values(vec![3.0, 6.0])],
            1,
        );
    }

    #[test]
    fn tie_weights_shape_error_names_shapes() {
        let g = Graph::<f64>::new();
        let _ = tie_weights(g.input("x", [2, 3]), g.input("y", [3]), &[1], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("tie_weights") && msg.contains("[2, 3]") && msg.contains("[3]"), "{msg}");
    }

    #[test]
    fn tie_weights_forward_in_place() {
        // `x + 0` is computed and dies here, so the op takes over its buffer; the result must
        // equal the out-of-place one.
        let (x, m) = ([1.0, 3.0, 3.0, 2.0, 0.0, -1.0], [3.0, 2.0]);
        let want = eval(|g| tie_weights(g.constant_f64(&x, [2, 3]), g.constant_f64(&m, [2]), &[1], false));
        let g = Graph::<f64>::new();
        let y = tie_weights(g.constant_f64(&x, [2, 3]) + 0.0, g.constant_f64(&m, [2]), &[1], false);
        let plan = g.compile(&[y]).unwrap();
        assert_eq!(plan.num_in_place(), 1);
        let mut s = Session::new(plan, 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], want[..]);
    }
}
