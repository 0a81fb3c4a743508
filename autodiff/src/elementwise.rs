//! Adapters that turn a scalar function and its derivative into an [`Op`]: shape passthrough
//! (or broadcasting), in-place execution when the input dies, and the parallel kernels.
//!
//! An elementwise op file then only states `f` and its VJP, e.g. for `exp`:
//! `fn f(&self, x: F) -> F { x.exp_v() }` and `gy * y`.

use std::fmt::Debug;

use crate::error::{OpFailure, ShapeError};
use crate::graph::Tensor;
use crate::kernels::elementwise::{binary, unary, Operand};
use crate::op::{grads, ForwardCx, Grads, Op, VjpCx};
use crate::scalar::Scalar;
use crate::shape::Shape;

/// A scalar function applied elementwise. Implementors are small `Copy` values (a unit struct,
/// or the function's parameters): each kernel loop works on its own copy, so parameters stay in
/// registers instead of being reloaded through a pointer on every element, which keeps the loop
/// from vectorizing.
pub trait UnaryElementwise<F: Scalar>: Debug + Copy + Send + Sync + 'static {
    /// The op's name.
    const NAME: &'static str;
    /// The function.
    fn f(&self, x: F) -> F;
    /// `gx` from the input `x`, the output `y = f(x)` and the cotangent `gy`, as graph nodes.
    /// `None` if the op has no gradient.
    fn vjp<'g>(&self, x: Tensor<'g, F>, y: Tensor<'g, F>, gy: Tensor<'g, F>) -> Option<Tensor<'g, F>>;
}

/// The [`Op`] of a [`UnaryElementwise`] function.
#[derive(Debug, Clone, Copy)]
pub struct Unary<U>(pub U);

impl<F: Scalar, U: UnaryElementwise<F>> Op<F> for Unary<U> {
    fn name(&self) -> &'static str {
        U::NAME
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0].clone())
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let x = cx.input_opt(0);
        // A copy, so the op's parameters are values in the kernel's loop rather than loads
        // through a pointer the compiler cannot prove unaliased by the output.
        let u = self.0;
        unary(x, cx.out(), move |v| u.f(v));
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        grads([self.0.vjp(cx.input(0), cx.output(), cx.grad_output())])
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}

/// A scalar function of two arguments, applied elementwise with NumPy broadcasting. `Copy` for
/// the reason given at [`UnaryElementwise`].
pub trait BinaryElementwise<F: Scalar>: Debug + Copy + Send + Sync + 'static {
    /// The op's name.
    const NAME: &'static str;
    /// The function.
    fn f(&self, a: F, b: F) -> F;
    /// `(ga, gb)` as graph nodes, of the output's (broadcast) shape or the inputs' shapes; the
    /// gradient driver sums broadcast gradients back. `None` where no gradient flows.
    fn vjp<'g>(
        &self,
        a: Tensor<'g, F>,
        b: Tensor<'g, F>,
        y: Tensor<'g, F>,
        gy: Tensor<'g, F>,
    ) -> (Option<Tensor<'g, F>>, Option<Tensor<'g, F>>);
}

/// The [`Op`] of a [`BinaryElementwise`] function.
#[derive(Debug, Clone, Copy)]
pub struct Binary<U>(pub U);

impl<F: Scalar, U: BinaryElementwise<F>> Op<F> for Binary<U> {
    fn name(&self) -> &'static str {
        U::NAME
    }
    fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
        inputs[0].broadcast_with(inputs[1])
    }
    fn forward(&self, cx: &mut ForwardCx<'_, F>) -> Result<(), OpFailure> {
        let a = match cx.input_opt(0) {
            Some(s) => Operand::Slice(s, cx.input_dims(0)),
            None => Operand::Out,
        };
        let b = match cx.input_opt(1) {
            Some(s) => Operand::Slice(s, cx.input_dims(1)),
            None => Operand::Out,
        };
        let dims = cx.out_dims();
        // A copy, as in `Unary`.
        let u = self.0;
        binary(a, b, cx.out(), dims, move |x, y| u.f(x, y));
        Ok(())
    }
    fn vjp<'g>(&self, cx: &VjpCx<'g, F>) -> Grads<'g, F> {
        let (ga, gb) = self.0.vjp(cx.input(0), cx.input(1), cx.output(), cx.grad_output());
        grads([ga, gb])
    }
    fn broadcasts_inputs(&self) -> bool {
        true
    }
    fn in_place(&self) -> Option<usize> {
        Some(0)
    }
}
