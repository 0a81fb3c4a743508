//! The masked autoregressive flow bijector (Papamakarios, Pavlakou & Murray 2017, "Masked
//! Autoregressive Flow for Density Estimation", §3.1), TFP's
//! `tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)` with a [`AutoregressiveNetwork`]
//! of `params = 2`.
//!
//! With `(shift, log_scale) = made(y)` (so `shift_e` and `log_scale_e` depend only on the `y`
//! of degree below `e`'s):
//!
//! * forward `y = x · exp(log_scale(y)) + shift(y)`: `y` appears on both sides, so it is
//!   solved by `D` passes from `y = 0`; pass `k` fixes the coordinate of degree `k` (TFP's
//!   `while_loop` with `maximum_iterations = event_size`, unrolled here since `D` is static);
//! * inverse `x = (y − shift(y)) · exp(−log_scale(y))`, one pass (eq. 5 of the paper);
//! * `log |det ∂x/∂y| = −Σ_e log_scale_e(y)`: the Jacobian is triangular in degree order.
//!
//! Densities need only the inverse, so training a MAF by maximum likelihood costs one MADE pass
//! per step; sampling costs `D`.

use autodiff::prelude::*;

use crate::autoregressive::AutoregressiveNetwork;
use crate::bijector::Bijector;
use crate::layer::{build_layer, LayerCx};

/// A masked autoregressive flow step: `y = x · exp(log_scale) + shift` with the shift and
/// log-scale predicted by a MADE of two params per input (`[..., D, 0]` is the shift,
/// `[..., D, 1]` the log-scale, as TFP's `unstack(made(y), axis=-1)`).
#[derive(Clone, Debug)]
pub struct MaskedAutoregressiveFlow<F: Scalar> {
    name: String,
    made: AutoregressiveNetwork<F>,
}

impl<F: Scalar> MaskedAutoregressiveFlow<F> {
    /// A flow step driven by `made`, named `masked_autoregressive_flow`. The MADE must have
    /// `params = 2` (checked when the graph is built, as TFP's `AutoregressiveTransform` does).
    pub fn new(made: AutoregressiveNetwork<F>) -> Self {
        MaskedAutoregressiveFlow { name: "masked_autoregressive_flow".into(), made }
    }
    /// Sets the name (the scope of the MADE's parameters).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// The MADE.
    pub fn made(&self) -> &AutoregressiveNetwork<F> {
        &self.made
    }

    /// `(shift, log_scale)` at `y`, each of `y`'s shape.
    #[track_caller]
    pub fn shift_and_log_scale<'g>(
        &self,
        y: Tensor<'g, F>,
        cx: &mut LayerCx<'g, '_, F>,
    ) -> (Tensor<'g, F>, Tensor<'g, F>) {
        let g = cx.graph();
        if self.made.params != 2 {
            let msg = format!(
                "MaskedAutoregressiveFlow ({}): the MADE must predict 2 params (shift, log_scale) per input, it has params = {}",
                self.name, self.made.params
            );
            g.record_shape_error("masked_autoregressive_flow", ShapeError::Custom(msg), &[y]);
            return (g.poisoned(), g.poisoned());
        }
        let out = build_layer(&self.made, y, cx);
        let parts = split(out, -1, &[1, 1]);
        (squeeze(parts[0], &[-1]), squeeze(parts[1], &[-1]))
    }
}

impl<F: Scalar> Bijector<F> for MaskedAutoregressiveFlow<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        let s = x.shape();
        let Some(d) = s.dims().last().and_then(|d| d.fixed()).filter(|_| !x.is_poisoned()) else {
            if !x.is_poisoned() {
                let msg = format!(
                    "MaskedAutoregressiveFlow ({}): the input must be [..., D] with a known D, got {s}",
                    self.name
                );
                g.record_shape_error("masked_autoregressive_flow", ShapeError::Custom(msg), &[x]);
            }
            return g.poisoned();
        };
        let mut y = zeros_like(x);
        for _ in 0..d {
            let (shift, log_scale) = self.shift_and_log_scale(y, cx);
            y = x * exp(log_scale) + shift;
        }
        y
    }

    fn inverse_and_ildj<'g>(&self, y: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> (Tensor<'g, F>, Tensor<'g, F>) {
        let (shift, log_scale) = self.shift_and_log_scale(y, cx);
        let x = (y - shift) * exp(-log_scale);
        (x, -reduce_sum(log_scale, &[-1], false))
    }
}
