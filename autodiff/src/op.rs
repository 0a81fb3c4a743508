//! The `Op` trait: one shape rule, one forward kernel and one vector-Jacobian product per op.
//!
//! The VJP builds ordinary graph nodes, so gradients can be differentiated again and are planned
//! like any other part of the graph. A VJP may return a gradient of the output's (broadcast)
//! shape; the gradient driver sums it back to the input's shape in one place.

use std::fmt::Debug;

use smallvec::SmallVec;

use crate::error::{OpFailure, ShapeError};
use crate::graph::{Graph, Tensor};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// One gradient per input; `None` means no gradient flows to that input.
pub type Grads<'g, F> = SmallVec<[Option<Tensor<'g, F>>; 3]>;

/// A pure function of its inputs, with its shape rule and its gradient.
pub trait Op<F: Scalar>: Debug + Send + Sync + 'static {
    /// Stable snake_case name; equals the op's file and constructor name.
    fn name(&self) -> &'static str;

    /// The output shape from the input shapes. Called once, when the node is created.
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError>;

    /// Fills `cx.out()` (every element) from the inputs. Shapes are already validated; only
    /// value-dependent failures (e.g. a Cholesky of a non-positive-definite matrix) return `Err`.
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure>;

    /// The vector-Jacobian product, as graph nodes: one entry per input.
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F>;

    /// An input whose buffer the output may take over when that input dies at this node and has
    /// the output's shape. The forward kernel then finds that input in `cx.out()` (see
    /// [`ForwardCx::aliased`]).
    fn in_place(&self) -> Option<usize> {
        None
    }

    /// This op with one more input, a tensor of the output's shape added to the result
    /// (`op(inputs) + addend`) in the same pass: a GEMM with β = 1, a fused kernel that adds as
    /// it stores. The gradient driver sums a node's cotangents into the op that produces one of
    /// them this way, instead of in a separate pass over memory. `None` (the default) where the
    /// op has no such form.
    fn with_addend(&self) -> Option<std::sync::Arc<dyn Op<F>>> {
        None
    }

    /// Whether the forward kernel broadcasts its inputs itself (NumPy rules). Compiling then lets
    /// the op read a `broadcast_to`'s input directly wherever that leaves the op's output shape
    /// unchanged, so the broadcast (the usual gradient of a sum) is never materialised.
    fn broadcasts_inputs(&self) -> bool {
        false
    }

    /// Floating-point operations of one evaluation with these run-time dims, for ops whose
    /// cost matters in benchmarks (matrix products, convolutions). Others report 0.
    fn flops(&self, _inputs: &[&[usize]], _out: &[usize]) -> u64 {
        0
    }
}

/// What a forward kernel sees: input slices with their run-time dimensions, and the output.
pub struct ForwardCx<'a, F> {
    pub(crate) inputs: SmallVec<[Option<&'a [F]>; 8]>,
    pub(crate) in_dims: SmallVec<[&'a [usize]; 8]>,
    pub(crate) out: &'a mut [F],
    pub(crate) out_dims: &'a [usize],
}

impl<'a, F> ForwardCx<'a, F> {
    /// Builds a context (used by the session and by tests of kernels).
    pub fn new(
        inputs: SmallVec<[Option<&'a [F]>; 8]>,
        in_dims: SmallVec<[&'a [usize]; 8]>,
        out: &'a mut [F],
        out_dims: &'a [usize],
    ) -> Self {
        ForwardCx { inputs, in_dims, out, out_dims }
    }
    /// Number of inputs.
    pub fn num_inputs(&self) -> usize {
        self.in_dims.len()
    }
    /// Input `i`'s values. Panics if input `i` was aliased into the output (see [`Self::aliased`]).
    pub fn input(&self, i: usize) -> &'a [F] {
        self.inputs[i].expect("invariant: aliased input read through input(); use aliased()")
    }
    /// Input `i`'s values, or `None` if they live in the output buffer.
    pub fn input_opt(&self, i: usize) -> Option<&'a [F]> {
        self.inputs[i]
    }
    /// Input `i`'s run-time dimensions.
    pub fn input_dims(&self, i: usize) -> &'a [usize] {
        self.in_dims[i]
    }
    /// The output buffer (exactly the output's number of elements).
    pub fn out(&mut self) -> &mut [F] {
        self.out
    }
    /// The output's run-time dimensions.
    pub fn out_dims(&self) -> &'a [usize] {
        self.out_dims
    }
    /// Which input, if any, is stored in the output buffer (in-place execution).
    pub fn aliased(&self) -> Option<usize> {
        self.inputs.iter().position(|x| x.is_none())
    }
    /// The inputs and the output at once.
    pub fn split(&mut self) -> (&[Option<&'a [F]>], &mut [F]) {
        (&self.inputs, self.out)
    }
}

/// What a VJP sees: the primal inputs and output and the output's cotangent, as graph tensors.
pub struct VjpCx<'g, F: Scalar> {
    pub(crate) inputs: SmallVec<[Tensor<'g, F>; 3]>,
    pub(crate) output: Tensor<'g, F>,
    pub(crate) gy: Tensor<'g, F>,
}

impl<'g, F: Scalar> VjpCx<'g, F> {
    /// Primal input `i`.
    pub fn input(&self, i: usize) -> Tensor<'g, F> {
        self.inputs[i]
    }
    /// The primal output `y` (reuse it instead of recomputing, e.g. `exp`).
    pub fn output(&self) -> Tensor<'g, F> {
        self.output
    }
    /// The cotangent of `y`.
    pub fn grad_output(&self) -> Tensor<'g, F> {
        self.gy
    }
    /// The graph.
    pub fn graph(&self) -> &'g Graph<F> {
        self.output.g
    }
}

/// A `Grads` holding the given entries.
pub fn grads<'g, F: Scalar>(g: impl IntoIterator<Item = Option<Tensor<'g, F>>>) -> Grads<'g, F> {
    g.into_iter().collect()
}
