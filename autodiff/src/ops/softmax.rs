//! `softmax(x, axis)`: `yᵢ = exp(xᵢ - m) / Σⱼ exp(xⱼ - m)` along `axis`, with `m` the maximum
//! of the group. Subtracting `m` keeps every exponent `≤ 0`, so nothing overflows and the
//! largest term is exactly 1: `softmax([1000, 0]) = [1, 0]`. A group containing `+inf`, NaN,
//! or only `-inf` gives NaN, as in TensorFlow.
//!
//! VJP with the output `y`: `gx = y * (gy - Σ_axis(gy * y))`. The op is defined over a set of
//! axes ([`Softmax::axes`]); `softmax()` uses one, and `logsumexp`'s gradient uses several.
//! Shape: that of `x`. Runs in place when `x` dies here. Domain: all reals.

use smallvec::{smallvec, SmallVec};

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::reduce_groups::{for_each_group, max_nan, Groups};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::reduce_sum;
use crate::ops::reduce_sum::reduced_mask;
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Softmax over a set of axes (each group of elements reduced together sums to 1).
#[derive(Debug, Clone)]
pub struct Softmax {
    /// The axes each group spans (may be negative).
    pub axes: SmallVec<[isize; 4]>,
}

impl<F: Scalar> Op<F> for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
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
            let m = groups.fold(buf, base, F::neg_infinity(), max_nan);
            // Exponentials first, then their sum (in the same order as a fused loop): the
            // first loop vectorizes.
            groups.update(buf, base, |v| (v - m).exp_v());
            let s = groups.fold(buf, base, F::zero(), |s, e| s + e);
            groups.update(buf, base, |e| e / s);
        });
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (y, gy) = (cx.output(), cx.grad_output());
        grads([Some(y * (gy - reduce_sum(gy * y, &self.axes, true)))])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// The softmax of `x` along `axis` (negative counts from the end).
#[track_caller]
pub fn softmax<F: Scalar>(x: Tensor<'_, F>, axis: isize) -> Tensor<'_, F> {
    x.graph().apply(Softmax { axes: smallvec![axis] }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn softmax_forward() {
        // softmax([1, 2, 3]) = eⁱ / (e¹ + e² + e³).
        let z = 1f64.exp() + 2f64.exp() + 3f64.exp();
        let want = [1f64.exp() / z, 2f64.exp() / z, 3f64.exp() / z];
        assert_forward(|g| softmax(g.constant_f64(&[1.0, 2.0, 3.0], [3]), -1), &want);
        // Along axis 0 of [[0, 5], [0, 5]]: equal entries in each column, so 1/2 everywhere.
        assert_forward(|g| softmax(g.constant_f64(&[0.0, 5.0, 0.0, 5.0], [2, 2]), 0), &[0.5; 4]);
        // Along axis 1 of [2, 2, 2] (a strided group): column pairs (0, ln 3) give 1/4, 3/4.
        let l3 = 3f64.ln();
        assert_forward(
            |g| softmax(g.constant_f64(&[0.0, 0.0, l3, l3, l3, 0.0, 0.0, l3], [2, 2, 2]), 1),
            &[0.25, 0.25, 0.75, 0.75, 0.75, 0.25, 0.25, 0.75],
        );
    }

    #[test]
    fn softmax_forward_extreme_logits() {
        // exp(-1000) and exp(-2000) underflow to exactly 0; the maximum's term is exactly 1.
        assert_forward(|g| softmax(g.constant_f64(&[1000.0, 0.0, -1000.0], [3]), 0), &[1.0, 0.0, 0.0]);
        assert_forward(|g| softmax(g.constant_f64(&[-1000.0, -1000.0], [2]), 0), &[0.5, 0.5]);
        assert_forward(|g| softmax(g.constant_f64(&[1e3, 1e3, -1e3, 1e3], [2, 2]), 1), &[0.5, 0.5, 0.0, 1.0]);
    }

    #[test]
    fn softmax_forward_f32_extreme_logits_are_finite() {
        let g = Graph::<f32>::new();
        let y = softmax(g.constant_f64(&[100.0, -100.0, 1000.0, 999.0], [2, 2]), -1);
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        let out = s.run(&ParamStore::new(0), &[]).unwrap();
        assert!(out[0].iter().all(|v| v.is_finite()), "{:?}", &out[0]);
        assert_eq!(out[0][0], 1.0);
        assert!((out[0][2] - 1.0 / (1.0 + (-1f32).exp())).abs() < 1e-6);
    }

    #[test]
    fn softmax_forward_large_input_matches_serial_rows() {
        // Above the parallel threshold: every row must equal the softmax of that row alone.
        let (rows, cols) = (1 << 12, 10);
        let x: Vec<f64> = (0..rows * cols).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let y = eval(|g| softmax(g.constant_f64(&x, [rows, cols]), 1));
        for r in [0, 1, rows / 2, rows - 1] {
            let row = eval(|g| softmax(g.constant_f64(&x[r * cols..(r + 1) * cols], [cols]), 0));
            assert_eq!(&y[r * cols..(r + 1) * cols], &row[..]);
        }
    }

    #[test]
    fn softmax_grad() {
        check_grads(|_, x| softmax(x[0], -1), &[Spec::new([2, 4])], 2);
        check_grads(|_, x| softmax(x[0], 1), &[Spec::new([2, 3, 2])], 2);
        check_grads(|g, x| g.apply(Softmax { axes: smallvec![0, 2] }, &[x[0]]), &[Spec::new([2, 2, 3])], 2);
    }

    #[test]
    fn softmax_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = softmax(g.input("x", [2, 3]), 2);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("softmax") && msg.contains("[2, 3]") && msg.contains("axis 2"), "{msg}");
    }

    #[test]
    fn softmax_forward_in_place() {
        // `x + 0` is computed and dies here, so the op takes over its buffer; the result must
        // equal the out-of-place one.
        let x = [1.0, 2.0, 3.0, 0.5, -1.0, 4.0];
        let want = eval(|g| softmax(g.constant_f64(&x, [2, 3]), 0));
        let g = Graph::<f64>::new();
        let y = softmax(g.constant_f64(&x, [2, 3]) + 0.0, 0);
        let plan = g.compile(&[y]).unwrap();
        assert_eq!(plan.num_in_place(), 1);
        let mut s = Session::new(plan, 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], want[..]);
    }
}
