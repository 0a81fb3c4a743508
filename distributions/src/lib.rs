//! # distributions
//!
//! Probability distributions whose parameters are [`autodiff`] graph tensors. Densities,
//! samples, moments and KL divergences are graph nodes, so they differentiate (to any order)
//! and run in a planned, allocation-free session like the rest of a model.
//!
//! ## Families
//!
//! | family | parameters | event | sample |
//! |---|---|---|---|
//! | [`Normal`] | `loc`, `scale` | `[]` | `loc + scale ε`, reparameterized |
//! | [`Independent`] | a base, `n` | base batch dims → event | the base's |
//! | [`Deterministic`] | `loc` | `[]` | `loc` |
//! | [`MultivariateNormalTriL`] | `loc [d]`, `scale_tril [d, d]` | `[d]` | `loc + L ε`, reparameterized |
//! | [`MultivariateNormalDiag`] | `loc [d]`, `scale_diag [d]` | `[d]` | `loc + σ ⊙ ε`, reparameterized |
//! | [`Laplace`] | `loc`, `scale` | `[]` | `loc + scale ε`, reparameterized |
//! | [`StudentT`] | `df`, `loc`, `scale` | `[]` | `loc + scale t`, not in `df` |
//! | [`ScaleMixtureNormal`] | `π`, `σ₁`, `σ₂` (numbers) | `[]` | component pick, not reparameterized |
//! | [`Bernoulli`] | logits or probs | `[]` | discrete |
//! | [`Categorical`] | logits `[C]` | `[]` | discrete |
//!
//! Shapes follow TensorFlow Probability: `batch_shape` independent distributions over values of
//! `event_shape`; `sample(&[n], salt)` has shape `[n] ++ batch ++ event`; `log_prob` reduces the
//! event dimensions. Parameters broadcast, and may carry the symbolic batch dimension.
//!
//! ## Divergences
//!
//! [`KlDivergence`] gives the analytic `KL(p ‖ q)` per pair of concrete types (a pair without
//! one does not compile); [`kl_divergence`] dispatches at run time for trait objects and records
//! an error for a pair without an analytic form; [`mc_kl`] is the Monte-Carlo estimate for any
//! pair.
//!
//! ## Errors
//!
//! Nothing panics. Shape problems (parameters that do not broadcast, a non-square `scale_tril`,
//! a value of the wrong shape) are recorded in the graph with the distribution's name and the
//! shapes, and reported by `Graph::check` or `Graph::compile`. Value constraints (`scale > 0`)
//! are opt-in run-time checks: `.validated()` inserts an [`assert_valid`] op, and a run with a
//! bad value fails with an error naming the distribution, its label, the value and its element.
//!
//! ## Example: a mean-field posterior, its KL to a prior, and a reparameterized draw
//!
//! ```
//! use autodiff::prelude::*;
//! use distributions::{kl_divergence, Distribution, Independent, Normal};
//!
//! let g = Graph::<f64>::new();
//! let mut params = ParamStore::new(7);
//! let loc_id = params.create("w/loc", &[3, 2], Init::Constant(0.1)).unwrap();
//! let rho_id = params.create("w/rho", &[3, 2], Init::Constant(-3.0)).unwrap();
//! let (loc, rho) = (g.param(&params, loc_id), g.param(&params, rho_id));
//!
//! // q(w) = Π N(w | loc, softplus(ρ)), one distribution with event shape [3, 2].
//! let q = Independent::new(Box::new(Normal::new(loc, softplus(rho)).validated()), 2);
//! let p = Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0; 6], [3, 2]), g.scalar(1.0))), 2);
//!
//! let w = q.sample(&[], "w_noise");            // [3, 2], differentiable in loc and ρ
//! let kl = kl_divergence(&q, &p);               // a scalar
//! let loss = kl + (w * w).sum_all();
//! let grads = grad(loss, &[loc, rho]);
//!
//! let mut s = Session::new(g.compile(&[kl, grads[0], grads[1]]).unwrap(), 0);
//! let out = s.run(&params, &[]).unwrap();
//! // Six copies of KL(N(0.1, softplus(-3)) ‖ N(0, 1)).
//! let sigma = (1.0f64 + (-3.0f64).exp()).ln();
//! let per = -sigma.ln() + (sigma * sigma + 0.01) / 2.0 - 0.5;
//! assert!((out.scalar(0) - 6.0 * per).abs() < 1e-12);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bernoulli;
mod categorical;
mod deterministic;
mod distribution;
mod independent;
mod kl;
mod laplace;
mod mvn_diag;
mod mvn_tril;
mod normal;
mod scale_mixture;
mod student_t;
#[cfg(test)]
mod test_util;
mod util;
mod validate;

pub use bernoulli::Bernoulli;
pub use categorical::Categorical;
pub use deterministic::Deterministic;
pub use distribution::{Distribution, Family};
pub use independent::Independent;
pub use kl::{kl_divergence, mc_kl, KlDivergence};
pub use laplace::{Laplace, StandardLaplace};
pub use mvn_diag::MultivariateNormalDiag;
pub use mvn_tril::MultivariateNormalTriL;
pub use normal::Normal;
pub use scale_mixture::ScaleMixtureNormal;
pub use student_t::{student_t_noise, StudentT, StudentTNoise, GAMMA_CANDIDATES};
pub use validate::{assert_valid, AssertValid, Constraint};
