//! `concat(xs, axis)`: joins tensors along an existing axis, `y = [x₀ | x₁ | …]` on `axis`.
//!
//! VJP: `gxᵢ = slice(gy, axis, oᵢ, oᵢ + nᵢ)` with `oᵢ = n₀ + … + nᵢ₋₁`. Shape: every input has
//! one rank and the same dims except on `axis`, where the sizes add. The batch dimension may be
//! on any other axis (in every input alike); concatenating along it is an error (the offsets
//! would only be known at run time) unless there is a single input. An empty list is an error
//! (see [`concat`]). Domain: all reals (linear, exact).
//!
//! The kernel copies, for each outer index, one contiguous block per input.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::{Graph, Tensor};
use crate::kernels::shape_ops::concat_blocks;
use crate::op::{ForwardCx, Grads, Op, VjpCx};
use crate::ops::slice;
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Concatenation along an axis.
#[derive(Debug, Clone, Copy)]
pub struct Concat {
    /// The axis (negative counts from the end).
    pub axis: isize,
}

impl<F: Scalar> Op<F> for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let Some(&first) = inputs.first() else {
            return Err(ShapeError::Custom("needs at least one input".into()));
        };
        let a = first.normalize_axis(self.axis)?;
        if inputs.len() == 1 {
            return Ok(first.clone());
        }
        let mut total = 0;
        for &s in inputs {
            if s.rank() != first.rank() {
                return Err(ShapeError::RankMismatch { expected: first.rank(), got: s.rank() });
            }
            if let Some(k) = (0..s.rank()).find(|&k| k != a && s.dim(k) != first.dim(k)) {
                return Err(ShapeError::DimMismatch { axis: k, lhs: first.clone(), rhs: s.clone() });
            }
            match s.dim(a) {
                Dim::Fixed(n) => total += n,
                Dim::Batch => {
                    return Err(ShapeError::Custom(format!(
                        "cannot concatenate along axis {a}: it is the batch dimension, whose size is only known at run time"
                    )))
                }
            }
        }
        Ok(first.with_dim(a, Dim::Fixed(total)))
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let od = cx.out_dims();
        let a = crate::shape::normalize_axis(self.axis, od.len()).expect("invariant: axis checked at build");
        let outer: usize = od[..a].iter().product();
        let inner: usize = od[a + 1..].iter().product();
        let n = cx.num_inputs();
        let xs: SmallVec<[&[F]; 8]> = (0..n).map(|i| cx.input(i)).collect();
        let blocks: SmallVec<[usize; 8]> = (0..n).map(|i| cx.input_dims(i)[a] * inner).collect();
        concat_blocks(&xs, &blocks, outer, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        let n = cx.inputs.len();
        if n == 1 {
            return crate::op::grads([Some(gy)]);
        }
        let a = gy.shape().normalize_axis(self.axis).expect("invariant: axis checked at build");
        let mut at = 0;
        (0..n)
            .map(|i| {
                let d = cx.input(i).shape().dim(a).fixed().expect("invariant: concatenated axes are fixed");
                at += d;
                Some(slice(gy, a as isize, at - d, at))
            })
            .collect()
    }
}

/// The tensors `xs` joined along `axis`.
///
/// An empty `xs` is an error. With no tensor there is no graph to record it in, so it is
/// recorded in a graph of its own and the result is a poisoned tensor of that graph: using it
/// in your graph, or compiling it, reports the error with this call's location.
#[track_caller]
pub fn concat<'g, F: Scalar>(xs: &[Tensor<'g, F>], axis: isize) -> Tensor<'g, F> {
    match xs.first() {
        Some(x) => x.graph().apply(Concat { axis }, xs),
        None => Graph::detached_error("concat", ShapeError::Custom(EMPTY.into())),
    }
}

const EMPTY: &str = "the input list is empty (concat needs at least one tensor)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;
    use crate::{ParamStore, Session};

    #[test]
    fn concat_forward() {
        // [[1, 2], [3, 4]] and [[5], [6]] along axis 1: [[1, 2, 5], [3, 4, 6]].
        assert_forward(
            |g| concat(&[g.constant_f64(&[1.0, 2.0, 3.0, 4.0], [2, 2]), g.constant_f64(&[5.0, 6.0], [2, 1])], 1),
            &[1.0, 2.0, 5.0, 3.0, 4.0, 6.0],
        );
        // Along the only axis (-1 is 0 here) the blocks are whole inputs: [1, 2] ++ [3] ++ [4, 5, 6].
        assert_forward(
            |g| {
                concat(
                    &[
                        g.constant_f64(&[1.0, 2.0], [2]),
                        g.constant_f64(&[3.0], [1]),
                        g.constant_f64(&[4.0, 5.0, 6.0], [3]),
                    ],
                    -1,
                )
            },
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        );
    }

    #[test]
    fn concat_grad() {
        check_grads(|_, x| concat(&[x[0], x[1], x[0]], 1), &[Spec::new([2, 1, 3]), Spec::new([2, 2, 3])], 2);
        check_grads(
            |_, x| {
                let y = concat(&[x[0], x[1]], 0);
                y * y
            },
            &[Spec::new([1, 2]), Spec::new([3, 2])],
            2,
        );
    }

    #[test]
    fn concat_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let a = g.input("a", [B, Dim::Fixed(1)]);
        let b = g.input("b", [B, Dim::Fixed(2)]);
        let y = concat(&[a, b], 1);
        assert_eq!(y.shape(), Shape::from([B, Dim::Fixed(3)]));
        let w = g.constant_f64(&[1.0, 2.0, 3.0], [3]);
        let gs = crate::grad((y * w).sum_all(), &[a, b]);
        let mut s = Session::new(g.compile(&[y, gs[0], gs[1]]).unwrap(), 0);
        // Batch 2: rows [a | b] = [[1 | 2, 3], [4 | 5, 6]]; gradients are w split by column.
        let out = s.run(&ParamStore::new(0), &[("a", &[1.0, 4.0]), ("b", &[2.0, 3.0, 5.0, 6.0])]).unwrap();
        assert_eq!(out[0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(out[1], [1.0, 1.0]);
        assert_eq!(out[2], [2.0, 3.0, 2.0, 3.0]);
    }

    #[test]
    fn concat_of_no_tensors_is_an_error() {
        let line = line!() + 1;
        let t = concat::<f32>(&[], 0);
        assert!(t.is_poisoned());
        let msg = t.graph().check().unwrap_err().to_string();
        let at = format!("{}:{line}:", file!());
        assert!(msg.starts_with("concat at ") && msg.contains("empty") && msg.contains(&at), "{msg}");
        // Used in the user's graph, the user's graph reports it.
        let g = Graph::<f32>::new();
        let line = line!() + 1;
        let y = g.input("x", [2]) * concat(&[], 0);
        assert!(y.is_poisoned());
        let msg = g.check().unwrap_err().to_string();
        let at = format!("{}:{line}:", file!());
        assert!(msg.starts_with("concat at ") && msg.contains("empty") && msg.contains(&at), "{msg}");
    }

    #[test]
    fn concat_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = concat(&[g.input("a", [2, 3]), g.input("b", [3, 3])], 1);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("concat") && msg.contains("[2, 3]") && msg.contains("[3, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = concat(&[g.input("a", [B, Dim::Fixed(3)]), g.input("b", [B, Dim::Fixed(3)])], 0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("concat") && msg.contains("batch dimension") && msg.contains("[B, 3]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = concat(&[g.input("a", [2]), g.input("b", [2, 1])], 0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("concat") && msg.contains("rank") && msg.contains("[2, 1]"), "{msg}");
    }
}
