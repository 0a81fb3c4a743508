//! `cumsum(x, axis, exclusive, reverse)`: running sums along `axis` with TensorFlow's flags.
//! `y[k] = Σ_{j≤k} x[j]`; `exclusive` leaves out `x[k]` itself (`y[0] = 0`); `reverse` sums from
//! the end (`y[k] = Σ_{j≥k} x[j]`). E.g. on `[1, 2, 3]`: `[1, 3, 6]`, exclusive `[0, 1, 3]`,
//! reverse `[6, 5, 3]`, both `[5, 3, 0]`.
//!
//! VJP: `gx = cumsum(gy, axis, exclusive, !reverse)` (the transpose of a running sum is the
//! running sum from the other end). Shape: that of `x`. Runs in place when `x` dies here.
//! Domain: all reals.
//!
//! The kernel adds whole rows (`x[.., k, :]`) to the previous one, so the inner loop is
//! contiguous whatever the axis; sums are sequential along the axis, so results do not depend
//! on the number of threads.

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::{should_par, CHUNK};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::{normalize_axis, Shape};
use crate::team::for_each_chunk_mut;

/// Running sum along an axis.
#[derive(Debug, Clone, Copy)]
pub struct Cumsum {
    /// The axis (may be negative).
    pub axis: isize,
    /// Leave out each element itself (the first output is 0).
    pub exclusive: bool,
    /// Sum from the end of the axis.
    pub reverse: bool,
}

impl Cumsum {
    /// The running sums of one block `[n, inner]` (in place).
    fn block<F: Scalar>(&self, b: &mut [F], n: usize, inner: usize) {
        if n == 0 || inner == 0 {
            return;
        }
        let add_row = |b: &mut [F], from: usize, to: usize| {
            let (src, dst) = if from < to {
                let (h, t) = b.split_at_mut(to * inner);
                (&h[from * inner..(from + 1) * inner], &mut t[..inner])
            } else {
                let (h, t) = b.split_at_mut(from * inner);
                (&t[..inner], &mut h[to * inner..(to + 1) * inner])
            };
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + s);
        };
        let len = n * inner;
        if self.reverse {
            (0..n - 1).rev().for_each(|k| add_row(b, k + 1, k));
            if self.exclusive {
                b.copy_within(inner..len, 0);
                b[len - inner..].iter_mut().for_each(|v| *v = F::zero());
            }
        } else {
            (1..n).for_each(|k| add_row(b, k - 1, k));
            if self.exclusive {
                b.copy_within(0..len - inner, inner);
                b[..inner].iter_mut().for_each(|v| *v = F::zero());
            }
        }
    }
}

impl<F: Scalar> Op<F> for Cumsum {
    fn name(&self) -> &'static str {
        "cumsum"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        inputs[0].normalize_axis(self.axis)?;
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let xd = cx.input_dims(0);
        let a = normalize_axis(self.axis, xd.len()).expect("invariant: axis checked at build");
        let (n, inner): (usize, usize) = (xd[a], xd[a + 1..].iter().product());
        let x = cx.input_opt(0);
        let out = cx.out();
        if let Some(x) = x {
            out.copy_from_slice(x);
        }
        let block = n * inner;
        if block == 0 {
            return Ok(());
        }
        if should_par(out.len()) && out.len() > block {
            let per = (CHUNK / block).max(1);
            for_each_chunk_mut(out, per * block, |_, c| c.chunks_mut(block).for_each(|b| self.block(b, n, inner)));
        } else {
            out.chunks_mut(block).for_each(|b| self.block(b, n, inner));
        }
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([Some(cumsum(cx.grad_output(), self.axis, self.exclusive, !self.reverse))])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// Running sums of `x` along `axis`; `exclusive` leaves out each element itself, `reverse`
/// sums from the end.
#[track_caller]
pub fn cumsum<F: Scalar>(x: Tensor<'_, F>, axis: isize, exclusive: bool, reverse: bool) -> Tensor<'_, F> {
    x.graph().apply(Cumsum { axis, exclusive, reverse }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn cumsum_forward() {
        let x = [1.0, 2.0, 3.0];
        assert_forward(|g| cumsum(g.constant_f64(&x, [3]), 0, false, false), &[1.0, 3.0, 6.0]);
        assert_forward(|g| cumsum(g.constant_f64(&x, [3]), 0, true, false), &[0.0, 1.0, 3.0]);
        assert_forward(|g| cumsum(g.constant_f64(&x, [3]), 0, false, true), &[6.0, 5.0, 3.0]);
        assert_forward(|g| cumsum(g.constant_f64(&x, [3]), -1, true, true), &[5.0, 3.0, 0.0]);
        // [[1, 2], [3, 4], [5, 6]] down the columns: [[1, 2], [4, 6], [9, 12]]; across rows
        // exclusive: [[0, 1], [0, 3], [0, 5]].
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_forward(|g| cumsum(g.constant_f64(&m, [3, 2]), 0, false, false), &[1.0, 2.0, 4.0, 6.0, 9.0, 12.0]);
        assert_forward(|g| cumsum(g.constant_f64(&m, [3, 2]), 1, true, false), &[0.0, 1.0, 0.0, 3.0, 0.0, 5.0]);
        assert_forward(|g| cumsum(g.constant_f64(&m, [3, 2]), 0, true, true), &[8.0, 10.0, 5.0, 6.0, 0.0, 0.0]);
    }

    #[test]
    fn cumsum_forward_large_input_matches_serial_blocks() {
        // Above the parallel threshold: each block must equal the running sum of that block alone.
        let (outer, n) = (1 << 12, 9);
        let x: Vec<f64> = (0..outer * n).map(|i| ((i * 37) % 101) as f64 / 7.0).collect();
        let y = eval(|g| cumsum(g.constant_f64(&x, [outer, n]), 1, false, true));
        for r in [0, outer / 3, outer - 1] {
            let row = eval(|g| cumsum(g.constant_f64(&x[r * n..(r + 1) * n], [n]), 0, false, true));
            assert_eq!(&y[r * n..(r + 1) * n], &row[..]);
        }
    }

    #[test]
    fn cumsum_grad() {
        for exclusive in [false, true] {
            for reverse in [false, true] {
                check_grads(move |_, x| cumsum(x[0], 1, exclusive, reverse), &[Spec::new([2, 4, 3])], 2);
                check_grads(move |_, x| cumsum(x[0], 0, exclusive, reverse), &[Spec::new([3, 2])], 2);
            }
        }
    }

    #[test]
    fn cumsum_shape_error_names_axis_and_shape() {
        let g = Graph::<f64>::new();
        let _ = cumsum(g.input("x", [3, 2]), -3, false, false);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("cumsum") && msg.contains("[3, 2]") && msg.contains("axis -3"), "{msg}");
    }

    #[test]
    fn cumsum_forward_in_place() {
        // `x + 0` is computed and dies here, so the op takes over its buffer; the result must
        // equal the out-of-place one.
        let x = [1.0, 2.0, 3.0, 0.5, -1.0, 4.0];
        let want = eval(|g| cumsum(g.constant_f64(&x, [3, 2]), 0, true, true));
        let g = Graph::<f64>::new();
        let y = cumsum(g.constant_f64(&x, [3, 2]) + 0.0, 0, true, true);
        let plan = g.compile(&[y]).unwrap();
        assert_eq!(plan.num_in_place(), 1);
        let mut s = Session::new(plan, 0);
        assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap()[0], want[..]);
    }
}
