//! `add_n(x₁, …, xₙ) = Σ xᵢ`, all of one shape. The gradient driver uses it to sum the
//! contributions to a node.
//!
//! VJP: `gxᵢ = gy` for every input. Shape: at least one input; an empty list is reported as an
//! error (see [`add_n`]). Domain: all reals.

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::{Graph, Tensor};
use crate::op::{ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// Sum of several tensors of one shape.
#[derive(Debug, Clone, Copy)]
pub struct AddN;

impl<F: Scalar> Op<F> for AddN {
    fn name(&self) -> &'static str {
        "add_n"
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        let Some(first) = inputs.first() else {
            return Err(ShapeError::Custom("add_n needs at least one input".into()));
        };
        for s in &inputs[1..] {
            if s != first {
                return Err(ShapeError::Custom(format!("all inputs must have one shape; got {first} and {s}")));
            }
        }
        Ok((*first).clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let n = cx.num_inputs();
        let aliased = cx.aliased();
        let (ins, out) = cx.split();
        if aliased.is_none() {
            out.copy_from_slice(ins[0].expect("invariant: not aliased"));
        }
        for (k, x) in ins.iter().enumerate().take(n) {
            if k == 0 {
                continue;
            }
            let x = x.expect("invariant: only input 0 is aliased");
            for (o, &v) in out.iter_mut().zip(x) {
                *o = *o + v;
            }
        }
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let gy = cx.grad_output();
        (0..cx.inputs.len()).map(|_| Some(gy)).collect::<SmallVec<_>>()
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// The sum of several tensors of one shape.
///
/// An empty `xs` is an error (there is no shape to give a zero sum). With no tensor there is no
/// graph to record it in, so it is recorded in a graph of its own and the result is a poisoned
/// tensor of that graph: using it in your graph, or compiling it, reports the error with this
/// call's location.
#[track_caller]
pub fn add_n<'g, F: Scalar>(xs: &[Tensor<'g, F>]) -> Tensor<'g, F> {
    match xs.first() {
        Some(x) => x.graph().apply(AddN, xs),
        None => Graph::detached_error("add_n", ShapeError::Custom(EMPTY.into())),
    }
}

const EMPTY: &str = "the input list is empty (add_n needs at least one tensor)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn add_n_forward() {
        assert_forward(
            |g| {
                add_n(&[
                    g.constant_f64(&[1.0, 2.0], [2]),
                    g.constant_f64(&[3.0, 4.0], [2]),
                    g.constant_f64(&[5.0, 6.0], [2]),
                ])
            },
            &[9.0, 12.0],
        );
    }

    #[test]
    fn add_n_grad() {
        check_grads(|_, x| add_n(&[x[0], x[1], x[0]]), &[Spec::new([2, 2]), Spec::new([2, 2])], 2);
    }

    /// The message of an empty-list error made on line `line` of this file.
    fn is_empty_error(msg: &str, line: u32) -> bool {
        msg.starts_with("add_n at ") && msg.contains("empty") && msg.contains(&format!("{}:{line}:", file!()))
    }

    #[test]
    fn add_n_of_no_tensors_is_an_error() {
        // No tensor, so no graph to record in: the result's own graph holds the error.
        let line = line!() + 1;
        let t = add_n::<f64>(&[]);
        assert!(t.is_poisoned());
        let msg = t.graph().check().unwrap_err().to_string();
        assert!(is_empty_error(&msg, line), "{msg}");
        assert_eq!(t.graph().compile(&[t]).unwrap_err().to_string(), msg);

        // Built on in the user's graph, the user's graph reports it (not as a foreign tensor).
        let g = Graph::<f64>::new();
        let x = g.input("x", [2]);
        let line = line!() + 1;
        let y = x + add_n(&[]);
        assert!(y.is_poisoned());
        let msg = g.check().unwrap_err().to_string();
        assert!(is_empty_error(&msg, line), "{msg}");

        // Built on in its own graph (the first operand's) and fetched from the user's graph, or
        // differentiated with respect to the user's tensors: the same error at compile.
        let g = Graph::<f64>::new();
        let x = g.input("x", [2]);
        let line = line!() + 1;
        let y = (add_n(&[]) * x).sum_all();
        let gx = crate::grad(y, &[x])[0];
        assert!(g.check().is_ok());
        let msg = g.compile(&[y, gx]).unwrap_err().to_string();
        assert!(is_empty_error(&msg, line), "{msg}");
        let msg = g.compile(&[gx]).unwrap_err().to_string();
        assert!(is_empty_error(&msg, line), "{msg}");

        // A tensor of an ordinary other graph is still reported as foreign.
        let (g1, g2) = (Graph::<f64>::new(), Graph::<f64>::new());
        let _ = g1.input("a", [2]) + g2.input("b", [2]);
        assert!(g1.check().unwrap_err().to_string().contains("another graph"));
    }
}
