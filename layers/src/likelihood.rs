//! Likelihood heads: how a network's output scores the labels.

use autodiff::prelude::*;
use distributions::{Bernoulli, Categorical, Distribution, Normal};

use crate::builders::scale_from_untransformed;
use crate::layer::LayerCx;

/// The distribution of a label given the network's output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Likelihood {
    /// `y ~ N(out, scale²)` with a fixed scale; labels have the output's shape.
    Normal {
        /// The fixed standard deviation.
        scale: f64,
    },
    /// `y ~ N(out, σ²)` with one learned σ per output (homoscedastic noise), stored as
    /// `likelihood/untransformed_scale` with σ = eps + softplus(ρ), initialised to `init_scale`.
    NormalLearnedScale {
        /// The initial σ.
        init_scale: f64,
    },
    /// Heteroscedastic: the network outputs `2d` values per example, the first `d` the mean and
    /// the last `d` the untransformed scale (σ = eps + softplus); labels have `d` values.
    NormalHeteroscedastic,
    /// `y ~ Categorical(logits = out)`; the label is the class index (one value per example).
    Categorical,
    /// `y ~ Bernoulli(logits = out)`; labels are 0 or 1, with the output's shape.
    Bernoulli,
}

/// The predictive distribution of one forward pass, as tensors.
pub struct Predictive<'g, F: Scalar> {
    /// For Normal heads, the mean; for Categorical and Bernoulli, the probabilities.
    pub mean: Tensor<'g, F>,
    /// For Normal heads, the standard deviation; otherwise `None`.
    pub scale: Option<Tensor<'g, F>>,
}

impl Likelihood {
    /// Whether the head is a classifier (Categorical or Bernoulli).
    pub fn is_classification(&self) -> bool {
        matches!(self, Likelihood::Categorical | Likelihood::Bernoulli)
    }

    /// Per-example label dimensions for network outputs with per-example dims `out`.
    pub fn label_dims(&self, out: &[usize]) -> Vec<usize> {
        match self {
            Likelihood::Categorical => out[..out.len().saturating_sub(1)].to_vec(),
            Likelihood::NormalHeteroscedastic => {
                let mut d = out.to_vec();
                if let Some(l) = d.last_mut() {
                    *l /= 2;
                }
                d
            }
            _ => out.to_vec(),
        }
    }

    /// Whether the head can read a network output of shape `out` (`[batch, ...]`), and its
    /// constants are usable.
    pub fn check(&self, out: &Shape) -> Result<(), String> {
        let last = out.dims().last().and_then(|d| d.fixed());
        match *self {
            Likelihood::Normal { scale } if !(scale.is_finite() && scale > 0.0) => {
                Err(format!("the Normal head's scale must be positive and finite, got {scale}"))
            }
            Likelihood::NormalLearnedScale { init_scale } if !(init_scale.is_finite() && init_scale > 0.0) => {
                Err(format!("the NormalLearnedScale head's init_scale must be positive and finite, got {init_scale}"))
            }
            Likelihood::NormalHeteroscedastic if out.rank() < 2 || !last.is_some_and(|d| d >= 2 && d % 2 == 0) => {
                Err(format!(
                    "the NormalHeteroscedastic head reads means and scales from the two halves of the last \
                     axis, which needs an even length; the network's output is {out}"
                ))
            }
            Likelihood::Categorical if out.rank() < 2 || last.is_some_and(|c| c < 2) => Err(format!(
                "the Categorical head reads class logits from the last axis, which needs at least 2 classes; \
                 the network's output is {out}"
            )),
            _ => Ok(()),
        }
    }

    fn normal<'g, F: Scalar>(&self, out: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Normal<'g, F> {
        let g = cx.graph();
        match *self {
            Likelihood::Normal { scale } => Normal::new(out, g.scalar(scale)),
            Likelihood::NormalLearnedScale { init_scale } => {
                let d = out.shape().dims().last().and_then(|d| d.fixed()).unwrap_or(1);
                let rho0 = init_scale.exp_m1().ln();
                let rho = g.scope("likelihood", || cx.param("untransformed_scale", &[d], Init::Constant(rho0), true));
                Normal::new(out, scale_from_untransformed(rho))
            }
            Likelihood::NormalHeteroscedastic => {
                let s = out.shape();
                let last = s.dims().last().and_then(|d| d.fixed()).unwrap_or(0);
                let axis = s.rank() as isize - 1;
                let loc = slice(out, axis, 0, last / 2);
                let rho = slice(out, axis, last / 2, last);
                Normal::new(loc, scale_from_untransformed(rho))
            }
            _ => unreachable!("normal() is only called for Normal heads"),
        }
    }

    /// Per-example negative log-likelihood `[B]` of labels `y` given outputs `out` `[B, ...]`,
    /// summed over each example's label dims.
    #[track_caller]
    pub fn nll<'g, F: Scalar>(
        &self,
        out: Tensor<'g, F>,
        y: Tensor<'g, F>,
        cx: &mut LayerCx<'g, '_, F>,
    ) -> Tensor<'g, F> {
        let lp = match self {
            Likelihood::Categorical => Categorical::from_logits(out).log_prob(y),
            Likelihood::Bernoulli => Bernoulli::from_logits(out).log_prob(y),
            _ => self.normal(out, cx).log_prob(y),
        };
        let r = lp.rank();
        let per_example = if r > 1 { lp.sum(&(1..r as isize).collect::<Vec<_>>(), false) } else { lp };
        -per_example
    }

    /// The predictive distribution of one pass.
    #[track_caller]
    pub fn predictive<'g, F: Scalar>(&self, out: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Predictive<'g, F> {
        match self {
            Likelihood::Categorical => Predictive { mean: softmax(out, -1), scale: None },
            Likelihood::Bernoulli => Predictive { mean: sigmoid(out), scale: None },
            _ => {
                let n = self.normal(out, cx);
                Predictive { mean: n.loc(), scale: Some(broadcast_to(n.scale(), n.loc().shape())) }
            }
        }
    }
}
