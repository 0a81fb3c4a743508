//! `Deterministic(loc)`: a point mass at `loc` (TFP's `tfd.Deterministic` with `atol = rtol = 0`).
//! TFP's layers use it for the default bias posterior, a point estimate with no KL of its own.
//!
//! - `log_prob(x) = 0` where `x == loc`, `−∞` elsewhere (a `select`, so there is no `log 0` and no
//!   NaN at the atom); `prob` is the indicator itself.
//! - `cdf(x) = 1` where `x >= loc`, else `0`.
//! - `sample = loc` broadcast to `sample_shape ++ batch`: no noise, and gradients flow to `loc`
//!   through the broadcast. `is_reparameterized` is nevertheless `false`, as TFP declares it
//!   (`NOT_REPARAMETERIZED`). `sample_with_noise(eps)` is `loc` broadcast to `eps`'s shape (the
//!   noise values are ignored), so code written for `loc + scale · eps` works.
//! - `entropy = 0`, `stddev = variance = 0`, `mean = mode = loc`.
//! - `KL(Deterministic(a) ‖ q) = −q.log_prob(a)` for any `q` (see [`crate::KlDivergence`]).

use autodiff::ops::{equal, less, select};
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::util::{bcast, check_value, full, sample_shape};
use crate::{Distribution, Family};

/// A point mass at `loc`.
#[derive(Debug, Clone)]
pub struct Deterministic<'g, F: Scalar> {
    loc: Tensor<'g, F>,
}

impl<'g, F: Scalar> Deterministic<'g, F> {
    /// A point mass at each element of `loc` (batch shape `loc.shape`).
    #[track_caller]
    pub fn new(loc: Tensor<'g, F>) -> Self {
        Deterministic { loc }
    }

    /// The atom.
    pub fn loc(&self) -> Tensor<'g, F> {
        self.loc
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for Deterministic<'g, F> {
    fn name(&self) -> &'static str {
        "Deterministic"
    }
    fn batch_shape(&self) -> Shape {
        self.loc.shape()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], _salt: &str) -> Tensor<'g, F> {
        bcast(self.loc, &sample_shape(sample, &self.loc.shape(), &Shape::scalar()))
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        // The noise carries no information; only its shape is used.
        match eps.shape().broadcast_with(&self.loc.shape()) {
            Ok(s) => bcast(self.loc, &s),
            Err(_) => {
                check_value("Deterministic.sample_with_noise", eps, &self.loc.shape(), &Shape::scalar());
                self.graph().poisoned()
            }
        }
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("Deterministic.log_prob", x, &self.loc.shape(), &Shape::scalar()) {
            return self.graph().poisoned();
        }
        let g = self.graph();
        select(equal(x, self.loc), g.scalar(0.0), g.scalar(f64::NEG_INFINITY))
    }
    fn prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("Deterministic.prob", x, &self.loc.shape(), &Shape::scalar()) {
            return self.graph().poisoned();
        }
        let g = self.graph();
        select(equal(x, self.loc), g.scalar(1.0), g.scalar(0.0))
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        if !check_value("Deterministic.cdf", x, &self.loc.shape(), &Shape::scalar()) {
            return Some(self.graph().poisoned());
        }
        let g = self.graph();
        Some(select(less(x, self.loc), g.scalar(0.0), g.scalar(1.0)))
    }
    fn entropy(&self) -> Tensor<'g, F> {
        full(self.graph(), &self.loc.shape(), 0.0)
    }
    fn mean(&self) -> Tensor<'g, F> {
        self.loc
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.loc
    }
    fn stddev(&self) -> Tensor<'g, F> {
        full(self.graph(), &self.loc.shape(), 0.0)
    }
    fn variance(&self) -> Tensor<'g, F> {
        full(self.graph(), &self.loc.shape(), 0.0)
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::Deterministic(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.loc.graph()
    }
}

#[cfg(test)]
mod tests {
    use autodiff::testing::{check_grads, Spec};

    use super::*;
    use crate::test_util::*;

    #[test]
    fn deterministic_forward_point_mass() {
        let out = eval_many(|g| {
            let d = Deterministic::new(g.constant_f64(&[0.5, -1.0], [2]));
            let x = g.constant_f64(&[0.5, 0.0, -2.0, -1.0], [2, 2]);
            vec![d.log_prob(x), d.prob(x), d.cdf(x).unwrap(), d.sample(&[2], "unused"), d.entropy(), d.stddev()]
        });
        let ninf = f64::NEG_INFINITY;
        // Rows of x against the atoms [0.5, -1]: (0.5 hit, 0 miss), (−2 miss, −1 hit).
        close(&out[0], &[0.0, ninf, ninf, 0.0], 0.0);
        close(&out[1], &[1.0, 0.0, 0.0, 1.0], 0.0);
        // x >= loc: 0.5 >= 0.5, 0 >= −1, −2 < 0.5, −1 >= −1.
        close(&out[2], &[1.0, 1.0, 0.0, 1.0], 0.0);
        close(&out[3], &[0.5, -1.0, 0.5, -1.0], 0.0);
        close(&out[4], &[0.0, 0.0], 0.0);
        close(&out[5], &[0.0, 0.0], 0.0);
    }

    #[test]
    fn deterministic_is_declared_not_reparameterized_as_in_tfp() {
        let g = Graph::<f64>::new();
        assert!(!Deterministic::new(g.scalar(1.0)).is_reparameterized());
    }

    #[test]
    fn deterministic_grad_sample_is_the_identity() {
        check_grads(|_, x| Deterministic::new(x[0]).sample(&[2], "unused") * x[0], &[Spec::new([3])], 2);
    }
}
