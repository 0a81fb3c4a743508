//! `Independent(base, n)`: reinterprets the last `n` batch dimensions of `base` as event
//! dimensions, as TFP's `tfd.Independent` does. The components stay independent; what changes
//! is that `log_prob`, `entropy` and the KL sum over those dimensions, so a mean-field posterior
//! over a `[in, out]` kernel is one distribution with event shape `[in, out]`.
//!
//! - `log_prob(x) = Σ_{last n axes} base.log_prob(x)`
//! - `entropy = Σ_{last n axes} base.entropy()`
//! - `cdf(x) = Π base.cdf(x)` over the same axes (the joint CDF of independent components),
//!   computed as `exp(Σ log cdf)`.
//! - `sample`, `mean`, `mode`, `stddev`, `variance`: the base's.

use std::fmt;

use autodiff::ops::{exp, log};
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::util::{concat, drop_last, fail, last, sum_last};
use crate::{Distribution, Family};

/// A batch of a distribution's components reinterpreted as one multivariate event.
///
/// ```
/// use autodiff::prelude::*;
/// use distributions::{Distribution, Independent, Normal};
///
/// let g = Graph::<f64>::new();
/// let loc = g.constant_f64(&[0.0; 6], [2, 3]);
/// let q = Independent::new(Box::new(Normal::new(loc, g.scalar(1.0))), 2);
/// assert_eq!(q.batch_shape(), Shape::scalar());
/// assert_eq!(q.event_shape(), Shape::from([2, 3]));
/// assert_eq!(q.log_prob(loc).shape(), Shape::scalar());
/// ```
pub struct Independent<'g, F: Scalar> {
    base: Box<dyn Distribution<'g, F> + 'g>,
    ndims: usize,
    batch: Shape,
    event: Shape,
    poisoned: bool,
}

impl<F: Scalar> fmt::Debug for Independent<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Independent({}, reinterpreted_batch_ndims {}, batch {}, event {})",
            self.base.name(),
            self.ndims,
            self.batch,
            self.event
        )
    }
}

impl<'g, F: Scalar> Independent<'g, F> {
    /// Reinterprets the last `reinterpreted_batch_ndims` batch dimensions of `base` as event
    /// dimensions. More dimensions than the base's batch rank is recorded as an error naming
    /// `Independent`.
    #[track_caller]
    pub fn new(base: Box<dyn Distribution<'g, F> + 'g>, reinterpreted_batch_ndims: usize) -> Self {
        let bb = base.batch_shape();
        let be = base.event_shape();
        let n = reinterpreted_batch_ndims;
        if n > bb.rank() {
            fail::<F>(
                base.graph(),
                "Independent",
                format!(
                    "reinterpreted_batch_ndims {n} exceeds the batch rank {} of the base {} (batch shape {bb})",
                    bb.rank(),
                    base.name()
                ),
                &[],
            );
            return Independent { base, ndims: n, batch: Shape::scalar(), event: be, poisoned: true };
        }
        let batch = drop_last(&bb, n);
        let event = concat(&last(&bb, n), &be);
        Independent { base, ndims: n, batch, event, poisoned: false }
    }

    /// The wrapped distribution.
    pub fn base(&self) -> &(dyn Distribution<'g, F> + 'g) {
        &*self.base
    }

    /// How many of the base's batch dimensions are event dimensions here.
    pub fn reinterpreted_batch_ndims(&self) -> usize {
        self.ndims
    }

    fn reduce(&self, t: Tensor<'g, F>) -> Tensor<'g, F> {
        if self.poisoned {
            return self.graph().poisoned();
        }
        sum_last(t, self.ndims)
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for Independent<'g, F> {
    fn name(&self) -> &'static str {
        "Independent"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        self.event.clone()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        self.base.sample(sample, salt)
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        self.base.sample_with_noise(eps)
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        self.reduce(self.base.log_prob(x))
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        let c = self.base.cdf(x)?;
        Some(if self.ndims == 0 { c } else { exp(self.reduce(log(c))) })
    }
    fn entropy(&self) -> Tensor<'g, F> {
        self.reduce(self.base.entropy())
    }
    fn mean(&self) -> Tensor<'g, F> {
        self.base.mean()
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.base.mode()
    }
    fn stddev(&self) -> Tensor<'g, F> {
        self.base.stddev()
    }
    fn variance(&self) -> Tensor<'g, F> {
        self.base.variance()
    }
    fn is_reparameterized(&self) -> bool {
        self.base.is_reparameterized()
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::Independent(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.base.graph()
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use autodiff::testing::{check_grads, Domain, Spec};

    use super::*;
    use crate::test_util::*;
    use crate::Normal;

    #[test]
    fn independent_forward_sums_over_reinterpreted_dims() {
        // Normal(0, 1) over a [2, 3] batch, the last axis reinterpreted: log_prob of row r is
        // Σ_j (−½ x_rj² − ½ log 2π).
        let out = eval_many(|g| {
            let base = Normal::new(g.constant_f64(&[0.0; 6], [2, 3]), g.scalar(1.0));
            let d = Independent::new(Box::new(base), 1);
            assert_eq!((d.batch_shape(), d.event_shape()), (Shape::from([2]), Shape::from([3])));
            let x = g.constant_f64(&[0.0, 1.0, 2.0, 0.0, 0.0, 0.0], [2, 3]);
            vec![d.log_prob(x), d.entropy(), d.cdf(g.scalar(0.0)).unwrap(), d.mean(), d.stddev()]
        });
        let h = 0.5 * (2.0 * PI).ln();
        close(&out[0], &[-3.0 * h - 2.5, -3.0 * h], 1e-15);
        close(&out[1], &[3.0 * (0.5 + h), 3.0 * (0.5 + h)], 1e-15);
        // The joint CDF of three independent components at their medians: (½)³.
        close(&out[2], &[0.125, 0.125], 1e-15);
        close(&out[3], &[0.0; 6], 0.0);
        close(&out[4], &[1.0; 6], 0.0);
    }

    #[test]
    fn independent_forward_all_dims_gives_a_scalar() {
        let v = eval1(|g| {
            let base = Normal::new(g.constant_f64(&[0.0; 6], [2, 3]), g.scalar(1.0));
            let d = Independent::new(Box::new(base), 2);
            assert_eq!(d.sample(&[4], "eps").shape(), Shape::from([4, 2, 3]));
            d.log_prob(g.constant_f64(&[0.0; 6], [2, 3]))
        });
        close(&v, &[-6.0 * 0.5 * (2.0 * PI).ln()], 1e-15);
    }

    #[test]
    fn independent_grad_log_prob_and_entropy() {
        let specs = [Spec::new([2, 3]), Spec::new([3]).domain(Domain::Positive), Spec::new([2, 3])];
        check_grads(|_, x| Independent::new(Box::new(Normal::new(x[0], x[1])), 2).log_prob(x[2]), &specs, 2);
        check_grads(|_, x| Independent::new(Box::new(Normal::new(x[0], x[1])), 1).entropy(), &specs[..2], 2);
    }

    #[test]
    fn independent_rejects_too_many_reinterpreted_dims() {
        let e = build_error(|g| {
            let d = Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0; 3], [3]), g.scalar(1.0))), 2);
            d.log_prob(g.constant_f64(&[0.0; 3], [3]));
        });
        assert!(e.contains("Independent") && e.contains("reinterpreted_batch_ndims 2 exceeds the batch rank 1"), "{e}");
        assert!(e.contains("Normal (batch shape [3])"), "{e}");
    }
}
