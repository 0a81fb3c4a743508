//! `stack(xs, axis)`: joins tensors of one shape along a new axis, `y[..., i, ...] = xᵢ` with
//! `i` at position `axis` (in `-(r+1)..=r` for rank-`r` inputs, negative counting from the end
//! of the result as in TF).
//!
//! VJP: `gxᵢ = reshape(slice(gy, axis, i, i + 1), xᵢ.shape)`. Shape: all inputs have the same
//! shape (batch dimension included); the result has an axis of size `len(xs)` inserted. An
//! empty list is an error (see [`stack`]). Domain: all reals (linear, exact).
//!
//! The kernel is concatenation of whole sub-blocks: for each outer index, one contiguous copy
//! per input.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::{Graph, Tensor};
use crate::kernels::shape_ops::concat_blocks;
use crate::op::{ForwardCx, Grads, Op, VjpCx};
use crate::ops::expand_dims::insertion_axis;
use crate::ops::{reshape, slice};
use crate::scalar::Scalar;
use crate::shape::{Dim, Shape};

/// Stacking along a new axis.
#[derive(Debug, Clone, Copy)]
pub struct Stack {
    /// Position of the new axis in the result (negative counts from the end).
    pub axis: isize,
}

fn axis_of(axis: isize, rank: usize) -> Result<usize, ShapeError> {
    insertion_axis(axis, rank).ok_or_else(|| {
        ShapeError::Custom(format!(
            "axis {axis} is out of range {}..={rank} for inputs of rank {rank}",
            -(rank as isize) - 1
        ))
    })
}

impl<F: Scalar> Op<F> for Stack {
    fn name(&self) -> &'static str {
        "stack"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let Some(&first) = inputs.first() else {
            return Err(ShapeError::Custom("needs at least one input".into()));
        };
        if let Some(&s) = inputs.iter().find(|&&s| s != first) {
            return Err(ShapeError::Custom(format!("all inputs must have one shape; got {first} and {s}")));
        }
        let a = axis_of(self.axis, first.rank())?;
        let mut out = first.clone();
        out.dims_mut().insert(a, Dim::Fixed(inputs.len()));
        Ok(out)
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let xd = cx.input_dims(0);
        let a = axis_of(self.axis, xd.len()).expect("invariant: axis checked at build");
        let outer: usize = xd[..a].iter().product();
        let block: usize = xd[a..].iter().product();
        let n = cx.num_inputs();
        let xs: SmallVec<[&[F]; 8]> = (0..n).map(|i| cx.input(i)).collect();
        let blocks: SmallVec<[usize; 8]> = SmallVec::from_elem(block, n);
        concat_blocks(&xs, &blocks, outer, cx.out());
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        let xs = cx.input(0).shape();
        let a = axis_of(self.axis, xs.rank()).expect("invariant: axis checked at build") as isize;
        (0..cx.inputs.len()).map(|i| Some(reshape(slice(gy, a, i, i + 1), &xs))).collect()
    }
}

/// The tensors `xs` (all of one shape) stacked along a new axis at `axis`.
///
/// An empty `xs` is an error (the shape of the result would be unknown). With no tensor there
/// is no graph to record it in, so it is recorded in a graph of its own and the result is a
/// poisoned tensor of that graph: using it in your graph, or compiling it, reports the error
/// with this call's location.
#[track_caller]
pub fn stack<'g, F: Scalar>(xs: &[Tensor<'g, F>], axis: isize) -> Tensor<'g, F> {
    match xs.first() {
        Some(x) => x.graph().apply(Stack { axis }, xs),
        None => Graph::detached_error("stack", ShapeError::Custom(EMPTY.into())),
    }
}

const EMPTY: &str = "the input list is empty (stack needs at least one tensor)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::B;
    use crate::testing::*;

    #[test]
    fn stack_forward() {
        // [1, 2] and [3, 4] on axis 0: [[1, 2], [3, 4]]; on axis 1 (= -1): [[1, 3], [2, 4]].
        fn ab(g: &Graph<f64>) -> [Tensor<'_, f64>; 2] {
            [g.constant_f64(&[1.0, 2.0], [2]), g.constant_f64(&[3.0, 4.0], [2])]
        }
        assert_forward(|g| stack(&ab(g), 0), &[1.0, 2.0, 3.0, 4.0]);
        assert_forward(|g| stack(&ab(g), 1), &[1.0, 3.0, 2.0, 4.0]);
        assert_forward(|g| stack(&ab(g), -1), &[1.0, 3.0, 2.0, 4.0]);
        // [2, 2] inputs a = [[0, 1], [2, 3]], b = [[4, 5], [6, 7]] on axis 1: y[i, s, :] = input s row i,
        // [[[0, 1], [4, 5]], [[2, 3], [6, 7]]].
        assert_forward(
            |g| {
                stack(
                    &[g.constant_f64(&[0.0, 1.0, 2.0, 3.0], [2, 2]), g.constant_f64(&[4.0, 5.0, 6.0, 7.0], [2, 2])],
                    1,
                )
            },
            &[0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0],
        );
    }

    #[test]
    fn stack_grad() {
        check_grads(|_, x| stack(&[x[0], x[1], x[0]], 1), &[Spec::new([2, 3]), Spec::new([2, 3])], 2);
        check_grads(
            |_, x| {
                let y = stack(&[x[0], x[1]], -1);
                y * y
            },
            &[Spec::new([3]), Spec::new([3])],
            2,
        );
    }

    #[test]
    fn stack_with_batch_dimension() {
        let g = Graph::<f64>::new();
        let a = g.input("a", [B, Dim::Fixed(2)]);
        let b = g.input("b", [B, Dim::Fixed(2)]);
        assert_eq!(stack(&[a, b], 1).shape(), Shape::from([B, Dim::Fixed(2), Dim::Fixed(2)]));
        assert_eq!(stack(&[a, b], 0).shape(), Shape::from([Dim::Fixed(2), B, Dim::Fixed(2)]));
        assert!(g.check().is_ok());
    }

    #[test]
    fn stack_of_no_tensors_is_an_error() {
        let line = line!() + 1;
        let t = stack::<f64>(&[], -1);
        assert!(t.is_poisoned());
        let msg = t.graph().check().unwrap_err().to_string();
        let at = format!("{}:{line}:", file!());
        assert!(msg.starts_with("stack at ") && msg.contains("empty") && msg.contains(&at), "{msg}");
        // Fetched from the user's graph, the user's graph reports it.
        let g = Graph::<f64>::new();
        let _ = g.input("x", [2]);
        let line = line!() + 1;
        let t = stack(&[], 0);
        let msg = g.compile(&[t]).unwrap_err().to_string();
        let at = format!("{}:{line}:", file!());
        assert!(msg.starts_with("stack at ") && msg.contains("empty") && msg.contains(&at), "{msg}");
    }

    #[test]
    fn stack_shape_errors() {
        let g = Graph::<f64>::new();
        let _ = stack(&[g.input("a", [2, 3]), g.input("b", [3, 2])], 0);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("stack") && msg.contains("[2, 3]") && msg.contains("[3, 2]"), "{msg}");
        let g = Graph::<f64>::new();
        let _ = stack(&[g.input("a", [2]), g.input("b", [2])], 2);
        let msg = g.check().unwrap_err().to_string();
        assert!(msg.contains("stack") && msg.contains("axis 2"), "{msg}");
    }
}
