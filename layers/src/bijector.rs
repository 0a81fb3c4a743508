//! Bijectors: invertible, differentiable maps of a vector event `[..., D]`, the steps of a
//! normalizing flow ([`crate::Flow`]). TFP's `tfb.Bijector`, restricted to what flows need: the
//! forward map (for sampling) and the inverse with its log-Jacobian (for densities).

use autodiff::prelude::*;

use crate::layer::LayerCx;

/// An invertible map `y = f(x)` on the last axis, built into a graph like a layer (its
/// parameters come from the context, in the bijector's name scope).
pub trait Bijector<F: Scalar>: Send + Sync {
    /// The name, used as the name scope of the bijector's parameters.
    fn name(&self) -> &str;

    /// `y = f(x)`.
    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F>;

    /// `x = f⁻¹(y)` and `log |det ∂f⁻¹/∂y|`, the inverse log-determinant of the Jacobian (TFP's
    /// ILDJ) summed over the event, of shape `y.shape[..-1]` (or a scalar that broadcasts to it).
    fn inverse_and_ildj<'g>(&self, y: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> (Tensor<'g, F>, Tensor<'g, F>);
}

/// A permutation of the last axis (TFP's `tfb.Permute`): `y[..., i] = x[..., permutation[i]]`.
/// Volume-preserving (ILDJ 0). Between the steps of a masked autoregressive flow it changes
/// which coordinates each step conditions on.
#[derive(Clone, Debug)]
pub struct Permute {
    name: String,
    /// The permutation of `0..D`.
    pub permutation: Vec<usize>,
}

impl Permute {
    /// The permutation `y[..., i] = x[..., permutation[i]]`, named `permute`. A vector that is not
    /// a permutation of `0..D` (with `D` the event size) is an error when the graph is built.
    pub fn new(permutation: Vec<usize>) -> Self {
        Permute { name: "permute".into(), permutation }
    }
    /// Reverses the order of `d` coordinates.
    pub fn reverse(d: usize) -> Self {
        Self::new((0..d).rev().collect())
    }
    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Whether the permutation fits `x`'s last axis; records the error if not.
    #[track_caller]
    fn fits<F: Scalar>(&self, x: Tensor<'_, F>) -> bool {
        if x.is_poisoned() {
            return false;
        }
        let s = x.shape();
        let d = s.dims().last().and_then(|d| d.fixed());
        let mut sorted = self.permutation.clone();
        sorted.sort_unstable();
        if d == Some(sorted.len()) && sorted.iter().enumerate().all(|(i, &p)| i == p) {
            return true;
        }
        let msg = format!(
            "Permute ({}): {:?} is not a permutation of the last axis of {s} (0-based indices)",
            self.name, self.permutation
        );
        x.graph().record_shape_error("permute", ShapeError::Custom(msg), &[x]);
        false
    }
}

fn gather_last<'g, F: Scalar>(x: Tensor<'g, F>, perm: impl Iterator<Item = usize>) -> Tensor<'g, F> {
    let idx: Vec<f64> = perm.map(|p| p as f64).collect();
    let n = idx.len();
    gather(x, x.graph().constant_f64(&idx, [n]), -1)
}

impl<F: Scalar> Bijector<F> for Permute {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        if !self.fits(x) {
            return cx.graph().poisoned();
        }
        gather_last(x, self.permutation.iter().copied())
    }

    fn inverse_and_ildj<'g>(&self, y: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> (Tensor<'g, F>, Tensor<'g, F>) {
        let g = cx.graph();
        if !self.fits(y) {
            return (g.poisoned(), g.poisoned());
        }
        let mut inv = vec![0; self.permutation.len()];
        for (i, &p) in self.permutation.iter().enumerate() {
            inv[p] = i;
        }
        (gather_last(y, inv.into_iter()), g.scalar(0.0))
    }
}
