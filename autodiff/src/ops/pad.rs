//! `pad(x, paddings, value)`: constant padding, `paddings[k] = (before, after)` values of `value`
//! around axis `k`: `y[i] = x[i - before]` where that index is inside `x`, else `value`.
//!
//! VJP: `gx = slice(gy, k, before_k, before_k + n_k)` on every padded axis (the padding does not
//! depend on `x`). Shape: axis `k` grows by `before + after`; one pair per axis. The batch
//! dimension may be on any axis whose padding is `(0, 0)`. Domain: all reals (linear, exact).
//!
//! The kernel writes each output row once: the value, one contiguous copy of the input row,
//! the value again (or the value alone for rows outside `x`).

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::shape_ops;
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::ops::slice;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Constant padding.
#[derive(Debug, Clone)]
pub struct Pad {
    /// `(before, after)` per axis.
    pub paddings: SmallVec<[(usize, usize); 4]>,
    /// The padding value.
    pub value: f64,
}

impl<F: Scalar> Op<F> for Pad {
    fn name(&self) -> &'static str {
        "pad"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        if self.paddings.len() != x.rank() {
            return Err(ShapeError::Custom(format!(
                "{} (before, after) pairs given for {x} of rank {}",
                self.paddings.len(),
                x.rank()
            )));
        }
        let mut out = x.clone();
        for (a, (d, &(lo, hi))) in out.dims_mut().iter_mut().zip(&self.paddings).enumerate() {
            *d = match *d {
                Dim::Fixed(n) => match n.checked_add(lo).and_then(|m| m.checked_add(hi)) {
                    Some(m) => Dim::Fixed(m),
                    None => {
                        return Err(ShapeError::Custom(format!(
                            "padding axis {a} of {x} by ({lo}, {hi}) overflows the size type"
                        )))
                    }
                },
                Dim::Batch if lo == 0 && hi == 0 => Dim::Batch,
                Dim::Batch => {
                    return Err(ShapeError::Custom(format!(
                        "cannot pad axis {a} of {x} by ({lo}, {hi}): it is the batch dimension, whose size is only known at run time"
                    )))
                }
            };
        }
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let (x, xd) = (cx.input(0), cx.input_dims(0));
        shape_ops::pad(x, xd, &self.paddings, F::of(self.value), cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let xs = cx.input(0).shape();
        let mut g = cx.grad_output();
        for (a, &(lo, hi)) in self.paddings.iter().enumerate() {
            if (lo, hi) != (0, 0) {
                let n = xs.dim(a).fixed().expect("invariant: padded axes are fixed");
                g = slice(g, a as isize, lo, lo + n);
            }
        }
        grads([Some(g)])
    }
}

/// `x` padded with `value`: `paddings[k] = (before, after)` for axis `k`.
#[track_caller]
pub fn pad<'g, F: Scalar>(x: Tensor<'g, F>, paddings: &[(usize, usize)], value: f64) -> Tensor<'g, F> {
    x.graph().apply(Pad { paddings: paddings.into(), value }, &[x])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;

    #[test]
    fn pad_forward() {
        // [1, 2] padded (1, 2) with 9: [9, 1, 2, 9, 9].
        assert_forward(|g| pad(g.constant_f64(&[1.0, 2.0], [2]), &[(1, 2)], 9.0), &[9.0, 1.0, 2.0, 9.0, 9.0]);
        // [[1, 2], [3, 4]] padded ((1, 0), (0, 1)) with 0:
        // [[0, 0, 0], [1, 2, 0], [3, 4, 0]].
        assert_forward(
            |g| pad(g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), &[(1, 0), (0, 1)], 0.0),
            &[0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0],
        );
        // Padding only the middle axis of [1, 2, 1]: [[[5], [6]]] -> [[[-1], [5], [6], [-1]]].
        assert_forward(
            |g| pad(g.constant_f64(&[5.0, 6.0], [1, 2, 1]), &[(0, 0), (1, 1), (0, 0)], -1.0),
            &[-1.0, 5.0, 6.0, -1.0],
        );
        // A scalar has nothing to pad.
        assert_forward(|g| pad(g.scalar(3.0), &[], 1.0), &[3.0]);
    }

    #[test]
    fn pad_grad() {
        check_grads(|_, x| pad(x[0], &[(1, 2), (0, 1)], 0.5), &[Spec::new([2, 3])], 2);
        check_grads(
            |_, x| {
                let y = pad(x[0], &[(2, 0), (0, 0), (1, 1)], 1.0);
                y * y
            },
            &[Spec::new([2, 2, 2])],
            2,
        );
    }

    #[test]
    fn pad_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let x = g.input("x", [B, Dim::Fixed(2)]);
        assert_eq!(pad(x, &[(0, 0), (1, 1)], 0.0).shape(), Shape::from([B, Dim::Fixed(4)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn pad_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = pad(g.input("x", [B, Dim::Fixed(2)]), &[(1, 0), (0, 0)], 0.0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("pad") && msg.contains("batch dimension") && msg.contains("[B, 2]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = pad(g.input("x", [2, 3]), &[(1, 1)], 0.0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("pad") && msg.contains("1 (before, after) pairs") && msg.contains("[2, 3]"), "{msg}");
        // A pad that wrapped below zero in the caller's arithmetic.
        let g = Graph::<f64>::new();
        let _ = pad(g.input("x", [3]), &[(usize::MAX, 1)], 0.0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("padding axis 0 of [3]") && msg.contains("overflows"), "{msg}");
    }
}
