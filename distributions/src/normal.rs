//! `Normal(loc, scale)`: a batch of univariate normals, `loc` and `scale` broadcast.
//!
//! - `log_prob(x) = −½((x−μ)/σ)² − log σ − ½ log 2π`
//! - `cdf(x) = ½(1 + erf((x−μ)/(σ√2)))` (absolute accuracy; far in the lower tail the relative
//!   accuracy is that of `1 + erf`, so use `log_prob` there)
//! - `entropy = ½ + ½ log 2π + log σ`
//! - `sample = μ + σ ε`, `ε ~ N(0, 1)`: reparameterized in both parameters.
//!
//! Everything is computed from `log σ` and `(x−μ)/σ`, never from `σ²` or `1/σ²`, so scales from
//! `1e-6` to `1e6` keep full relative accuracy.

use autodiff::ops::{erf, log, square};
use autodiff::random::StandardNormal;
use autodiff::{Graph, Scalar, Shape, Tensor};

use crate::util::{any_poisoned, bcast, check_value, fail, sample_shape, HALF_LN_2PI};
use crate::validate::{assert_valid, Constraint};
use crate::{Distribution, Family};

/// A batch of univariate normal distributions.
///
/// ```
/// use autodiff::prelude::*;
/// use distributions::{Distribution, Normal};
///
/// let g = Graph::<f64>::new();
/// let n = Normal::new(g.scalar(1.0), g.scalar(2.0));
/// let lp = n.log_prob(g.scalar(1.0));
/// let mut s = Session::new(g.compile(&[lp]).unwrap(), 0);
/// let out = s.run(&ParamStore::new(0), &[]).unwrap();
/// // At the mean: −log σ − ½ log 2π.
/// let want = -(2f64).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
/// assert!((out.scalar(0) - want).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct Normal<'g, F: Scalar> {
    loc: Tensor<'g, F>,
    scale: Tensor<'g, F>,
    batch: Shape,
}

impl<'g, F: Scalar> Normal<'g, F> {
    /// `N(loc, scale²)`; `scale` is the standard deviation. The shapes broadcast to the batch
    /// shape; shapes that do not broadcast are recorded as an error naming `Normal`.
    #[track_caller]
    pub fn new(loc: Tensor<'g, F>, scale: Tensor<'g, F>) -> Self {
        let g = loc.graph();
        if any_poisoned(&[loc, scale]) {
            return Normal { loc, scale, batch: Shape::scalar() };
        }
        match loc.shape().broadcast_with(&scale.shape()) {
            Ok(batch) => Normal { loc, scale, batch },
            Err(_) => {
                fail(
                    g,
                    "Normal",
                    format!("loc of shape {} and scale of shape {} do not broadcast", loc.shape(), scale.shape()),
                    &[loc, scale],
                );
                let p = g.poisoned();
                Normal { loc: p, scale: p, batch: Shape::scalar() }
            }
        }
    }

    /// The same distribution with a run-time check that `scale > 0`: a run where it fails
    /// stops with an error naming `Normal`, the scale's label, the value and its element.
    #[track_caller]
    pub fn validated(self) -> Self {
        let scale = assert_valid(self.scale, Constraint::Positive, "Normal", "scale");
        Normal { scale, ..self }
    }

    /// The mean parameter, as given.
    pub fn loc(&self) -> Tensor<'g, F> {
        self.loc
    }

    /// The standard deviation parameter, as given.
    pub fn scale(&self) -> Tensor<'g, F> {
        self.scale
    }

    fn standardize(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        (x - self.loc) / self.scale
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for Normal<'g, F> {
    fn name(&self) -> &'static str {
        "Normal"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        let eps = self.graph().random(StandardNormal, sample_shape(sample, &self.batch, &Shape::scalar()), salt);
        self.sample_with_noise(eps)
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        self.loc + self.scale * eps
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("Normal.log_prob", x, &self.batch, &Shape::scalar()) {
            return self.graph().poisoned();
        }
        let z = self.standardize(x);
        square(z) * F::of(-0.5) - log(self.scale) - F::of(HALF_LN_2PI)
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        if !check_value("Normal.cdf", x, &self.batch, &Shape::scalar()) {
            return Some(self.graph().poisoned());
        }
        let z = self.standardize(x) * F::of(std::f64::consts::FRAC_1_SQRT_2);
        Some((erf(z) + F::one()) * F::of(0.5))
    }
    fn entropy(&self) -> Tensor<'g, F> {
        bcast(log(self.scale) + F::of(0.5 + HALF_LN_2PI), &self.batch)
    }
    fn mean(&self) -> Tensor<'g, F> {
        bcast(self.loc, &self.batch)
    }
    fn mode(&self) -> Tensor<'g, F> {
        self.mean()
    }
    fn stddev(&self) -> Tensor<'g, F> {
        bcast(self.scale, &self.batch)
    }
    fn variance(&self) -> Tensor<'g, F> {
        bcast(square(self.scale), &self.batch)
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::Normal(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.loc.graph()
    }
}
