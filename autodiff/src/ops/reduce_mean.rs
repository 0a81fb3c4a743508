//! `reduce_mean(x, axes, keep_dims)`: the mean over the given axes (negative axes count from
//! the end), `y = Σ x / n` with `n` the number of elements reduced into each output.
//!
//! VJP: `gx = reduce_mean_grad(gy, x) = broadcast(gy) / n`. The batch dimension may be among the
//! reduced axes and is only known at run time, so `n` is never a build-time constant: both the
//! forward kernel and [`reduce_mean_grad`] read it from the run-time dims. Shape rule as
//! `reduce_sum`. Domain: all reals. Reducing an axis of size 0 gives NaN (`0 / 0`), as in
//! NumPy and TensorFlow.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce::sum;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_mean_grad;
use crate::ops::reduce_sum::reduced_mask;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Mean over axes.
#[derive(Debug, Clone)]
pub struct ReduceMean {
    /// Axes to average over (may be negative).
    pub axes: SmallVec<[isize; 4]>,
    /// Keep reduced axes as size 1.
    pub keep_dims: bool,
}

impl<F: Scalar> Op<F> for ReduceMean {
    fn name(&self) -> &'static str {
        "reduce_mean"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let axes = inputs[0].normalize_axes(&self.axes)?;
        Ok(inputs[0].reduced(&axes, self.keep_dims))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        let mask = reduced_mask(&self.axes, xd.len());
        let n = F::of(reduced_count(xd, &mask) as f64);
        let out = cx.out();
        sum(x, xd, &mask, out);
        out.iter_mut().for_each(|o| *o = *o / n);
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(reduce_mean_grad(cx.grad_output(), cx.input(0), &self.axes, self.keep_dims))])
    }
}

/// The number of elements reduced into each output: the product of the reduced run-time dims.
pub(crate) fn reduced_count(dims: &[usize], mask: &[bool]) -> usize {
    dims.iter().zip(mask).filter(|(_, &m)| m).map(|(&d, _)| d).product()
}

/// Averages `x` over `axes`.
#[track_caller]
pub fn reduce_mean<'g, F: Scalar>(x: Tensor<'g, F>, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
    x.graph().apply(ReduceMean { axes: axes.into(), keep_dims }, &[x])
}

impl<'g, F: Scalar> Tensor<'g, F> {
    /// Mean over `axes`.
    #[track_caller]
    pub fn mean(self, axes: &[isize], keep_dims: bool) -> Tensor<'g, F> {
        reduce_mean(self, axes, keep_dims)
    }
    /// Mean of all elements, as a scalar.
    #[track_caller]
    pub fn mean_all(self) -> Tensor<'g, F> {
        let axes: SmallVec<[isize; 4]> = (0..self.rank() as isize).collect();
        self.graph().apply(ReduceMean { axes, keep_dims: false }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing::strategies::{axes_for, shapes};
    use crate::testing::*;
    use crate::{grad, ParamStore, Session};

    #[test]
    fn reduce_mean_forward() {
        // x = [[1, 2, 3], [4, 5, 6]]: column means (1+4)/2.., row means 6/3 and 15/3, total 21/6.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_forward(|g| reduce_mean(g.constant_f64(&x, [2, 3]), &[0], false), &[2.5, 3.5, 4.5]);
        assert_forward(|g| reduce_mean(g.constant_f64(&x, [2, 3]), &[-1], true), &[2.0, 5.0]);
        assert_forward(|g| g.constant_f64(&x, [2, 3]).mean_all(), &[3.5]);
        assert_forward(|g| g.constant_f64(&x, [2, 3]).mean(&[0, 1], true), &[3.5]);
        // x = [[[0, 1], [2, 3]], [[4, 5], [6, 7]]] over axes 0 and 2: (0+1+4+5)/4, (2+3+6+7)/4.
        let y: Vec<f64> = (0..8).map(f64::from).collect();
        assert_forward(|g| reduce_mean(g.constant_f64(&y, [2, 2, 2]), &[0, -1], false), &[2.5, 4.5]);
    }

    #[test]
    fn reduce_mean_forward_empty_axis_is_nan() {
        assert_forward(|g| reduce_mean(g.constant_f64(&[], [2, 0]), &[1], false), &[f64::NAN, f64::NAN]);
    }

    #[test]
    fn reduce_mean_grad() {
        check_grads(|_, x| reduce_mean(x[0], &[0, 2], false), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| reduce_mean(x[0], &[1], true), &[Spec::new([2, 3, 2])], 2);
        check_grads(|_, x| x[0].mean_all(), &[Spec::new([3, 2])], 2);
        // A non-linear consumer, so the second derivative is not identically zero.
        check_grads(|_, x| x[0].mean(&[-1], false) * x[0].mean(&[-1], false), &[Spec::new([3, 4])], 2);
    }

    #[test]
    fn reduce_mean_divisor_follows_the_run_time_batch() {
        let g = Graph::<f64>::new();
        let x = g.batched_input("x", &[2]); // [B, 2]
        let m = reduce_mean(x, &[0], false);
        let gx = grad(m.sum_all(), &[x])[0];
        let mut s = Session::new(g.compile(&[m, gx]).unwrap(), 0);
        let p = ParamStore::new(0);
        // B = 2: means (1+3)/2, (2+6)/2; each gradient entry is 1/B.
        let out = s.run(&p, &[("x", &[1.0, 2.0, 3.0, 6.0])]).unwrap();
        assert_eq!((out[0].to_vec(), out[1].to_vec()), (vec![2.0, 4.0], vec![0.5; 4]));
        // B = 4: means (1+3+5+7)/4, (2+4+6+8)/4; gradients 1/4.
        let out = s.run(&p, &[("x", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])]).unwrap();
        assert_eq!((out[0].to_vec(), out[1].to_vec()), (vec![4.0, 5.0], vec![0.25; 8]));
    }

    #[test]
    fn reduce_mean_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = reduce_mean(g.input("x", [2, 3]), &[2], false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("reduce_mean") && msg.contains("[2, 3]") && msg.contains("axis 2"), "{msg}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn reduce_mean_grad_over_random_axes(
            (shape, axes) in shapes(1..=3, 1..=3).prop_flat_map(|s| { let r = s.len(); (Just(s), axes_for(r)) }),
            keep_dims in any::<bool>(),
        ) {
            let spec = [Spec::new(shape.clone())];
            let r = try_check_grads(&|_, x| reduce_mean(x[0], &axes, keep_dims), &spec, 1, GradCheckOptions::default());
            prop_assert!(r.is_ok(), "shape {:?} axes {:?} keep_dims {}: {:?}", shape, axes, keep_dims, r);
        }
    }
}
