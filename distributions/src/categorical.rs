//! `Categorical(logits [..., C])`: a class in `{0, …, C−1}` with probabilities `softmax(logits)`.
//! Labels are class indices stored as floats, of shape `[sample..., batch...]`.
//!
//! - `log_prob(k) = −sparse_softmax_cross_entropy(logits, k) = logits_k − logsumexp(logits)`,
//!   stable for any finite logits.
//! - `entropy = −Σ softmax · log_softmax`, with `0 · log 0 = 0` for classes of logit −∞.
//! - `mean = Σ k p_k`, `variance = Σ p_k (k − mean)²` (of the class index; the centred form,
//!   which `Σ k² p_k − mean²` is not when one class dominates); `mode` is the first
//!   index of the largest logit (TFP's argmax).
//! - `cdf(x) = Σ_{k ≤ x} p_k`.
//! - `sample`: inverse CDF, `min(Σ_j [u ≥ cdf_j], C−1)` with `u` a uniform leaf and `cdf` the
//!   cumulative sums of the probabilities (discrete, not reparameterized).

use autodiff::ops::{
    argmax, cumsum, greater, less, log_softmax, minimum, reduce_sum, select, softmax, sparse_softmax_cross_entropy,
    square,
};
use autodiff::random::Uniform;
use autodiff::{Dim, Graph, Scalar, Shape, Tensor};

use crate::util::{
    any_poisoned, bcast, check_value, concat, drop_last, fail, full, mul_no_nan, sample_shape, unsqueeze_last,
};
use crate::{Distribution, Family};

/// A batch of categorical distributions over `C` classes.
#[derive(Debug, Clone)]
pub struct Categorical<'g, F: Scalar> {
    logits: Tensor<'g, F>,
    batch: Shape,
    classes: usize,
}

impl<'g, F: Scalar> Categorical<'g, F> {
    /// Class probabilities `softmax(logits)` over the last axis. `logits` must have rank >= 1
    /// and a fixed, non-zero number of classes (else an error naming `Categorical`).
    #[track_caller]
    pub fn from_logits(logits: Tensor<'g, F>) -> Self {
        let g = logits.graph();
        if any_poisoned(&[logits]) {
            return Categorical { logits, batch: Shape::scalar(), classes: 1 };
        }
        let s = logits.shape();
        match s.dims().last() {
            Some(&Dim::Fixed(c)) if c > 0 => Categorical { logits, batch: drop_last(&s, 1), classes: c },
            _ => {
                fail(
                    g,
                    "Categorical",
                    format!("logits must have shape [..., C] with C >= 1 fixed, got {s}"),
                    &[logits],
                );
                Categorical { logits: g.poisoned(), batch: Shape::scalar(), classes: 1 }
            }
        }
    }

    /// The logits, as given.
    pub fn logits(&self) -> Tensor<'g, F> {
        self.logits
    }

    /// `softmax(logits)`.
    #[track_caller]
    pub fn probs(&self) -> Tensor<'g, F> {
        softmax(self.logits, -1)
    }

    /// The number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.classes
    }

    /// The constant `[0, 1, …, C−1]`.
    fn range(&self) -> Tensor<'g, F> {
        let r: Vec<f64> = (0..self.classes).map(|k| k as f64).collect();
        self.graph().constant_f64(&r, [self.classes])
    }
}

impl<'g, F: Scalar> Distribution<'g, F> for Categorical<'g, F> {
    fn name(&self) -> &'static str {
        "Categorical"
    }
    fn batch_shape(&self) -> Shape {
        self.batch.clone()
    }
    fn event_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn sample(&self, sample: &[usize], salt: &str) -> Tensor<'g, F> {
        let g = self.graph();
        let s = sample_shape(sample, &self.batch, &Shape::scalar());
        let c = self.classes;
        if c == 1 {
            return full(g, &s, 0.0);
        }
        let u = g.random(Uniform::default(), s, salt);
        // The class is the number of cumulative sums at or below u; rounding may leave the last
        // sum a hair below 1, so the count is capped at C − 1.
        let cdf = cumsum(self.probs(), -1, false, false);
        let passed = select(less(unsqueeze_last(u), cdf), g.scalar(0.0), g.scalar(1.0));
        minimum(reduce_sum(passed, &[-1], false), g.scalar((c - 1) as f64))
    }
    fn sample_with_noise(&self, eps: Tensor<'g, F>) -> Tensor<'g, F> {
        fail(
            self.graph(),
            "Categorical.sample_with_noise",
            "a categorical draw is discrete, not a transform of standard noise; use sample".into(),
            &[eps],
        );
        self.graph().poisoned()
    }
    fn log_prob(&self, x: Tensor<'g, F>) -> Tensor<'g, F> {
        if !check_value("Categorical.log_prob", x, &self.batch, &Shape::scalar()) {
            return self.graph().poisoned();
        }
        let full_batch = x.shape().broadcast_with(&self.batch).unwrap_or_else(|_| self.batch.clone());
        let logits = bcast(self.logits, &concat(&full_batch, &Shape::from([self.classes])));
        -sparse_softmax_cross_entropy(logits, bcast(x, &full_batch))
    }
    fn cdf(&self, x: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        if !check_value("Categorical.cdf", x, &self.batch, &Shape::scalar()) {
            return Some(self.graph().poisoned());
        }
        let g = self.graph();
        // [k ≤ x] = 1 − [k > x], per class, against x[..., None].
        let above = greater(self.range(), unsqueeze_last(x));
        let at_or_below = select(above, g.scalar(0.0), g.scalar(1.0));
        Some(reduce_sum(self.probs() * at_or_below, &[-1], false))
    }
    fn entropy(&self) -> Tensor<'g, F> {
        // Classes of probability 0 (logit −∞) contribute 0, not 0 · (−∞).
        -reduce_sum(mul_no_nan(self.probs(), log_softmax(self.logits, -1)), &[-1], false)
    }
    fn mean(&self) -> Tensor<'g, F> {
        reduce_sum(self.probs() * self.range(), &[-1], false)
    }
    fn mode(&self) -> Tensor<'g, F> {
        argmax(self.logits, -1)
    }
    fn stddev(&self) -> Tensor<'g, F> {
        autodiff::ops::sqrt(self.variance())
    }
    fn variance(&self) -> Tensor<'g, F> {
        let p = self.probs();
        let r = self.range();
        let m = reduce_sum(p * r, &[-1], true);
        // The centred form: Σ k²p − (Σ kp)² cancels to below zero when one class dominates.
        reduce_sum(p * square(r - m), &[-1], false)
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn family(&self) -> Family<'_, 'g, F> {
        Family::Categorical(self)
    }
    fn graph(&self) -> &'g Graph<F> {
        self.logits.graph()
    }
}

#[cfg(test)]
mod tests {
    use autodiff::testing::{check_grads, Spec};

    use super::*;
    use crate::test_util::*;

    // logits [0, ln 2, ln 3]: probabilities [1/6, 2/6, 3/6].
    fn logits(g: &Graph<f64>) -> Tensor<'_, f64> {
        g.constant_f64(&[0.0, 2f64.ln(), 3f64.ln()], [3])
    }

    #[test]
    fn categorical_forward_log_prob_entropy_moments() {
        let out = eval_many(|g| {
            let d = Categorical::from_logits(logits(g));
            let k = g.constant_f64(&[0.0, 1.0, 2.0], [3]);
            let x = g.constant_f64(&[-1.0, 0.0, 1.5, 2.0], [4]);
            vec![d.log_prob(k), d.entropy(), d.mean(), d.variance(), d.mode(), d.cdf(x).unwrap()]
        });
        let p: [f64; 3] = [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0];
        close(&out[0], &[p[0].ln(), p[1].ln(), p[2].ln()], 1e-15);
        close(&out[1], &[-p.iter().map(|q| q * q.ln()).sum::<f64>()], 1e-15);
        // E k = 1/3 + 1 = 4/3; E k² = 1/3 + 2 = 7/3; Var = 7/3 − 16/9 = 5/9.
        close(&out[2], &[4.0 / 3.0], 1e-15);
        close(&out[3], &[5.0 / 9.0], 1e-14);
        close(&out[4], &[2.0], 0.0);
        // P(K ≤ x) at x = −1, 0, 1.5, 2.
        close(&out[5], &[0.0, 1.0 / 6.0, 0.5, 1.0], 1e-15);
    }

    #[test]
    fn categorical_variance_of_a_dominant_class_is_positive_and_exact() {
        // Logits [0, 0, 0, 37]: q = 1/(3 + e³⁷) each for classes 0–2, mean 0 + q + 2q +
        // 3(1 − 3q) = 3 − 6q, and Var = q·((3 − 6q)² + (2 − 6q)² + (1 − 6q)²) + (1 − 3q)·(6q)²
        // ≈ 14q = 1.19e-15. The
        // uncentred form Σ k²p − (Σ kp)² cancels to −1.8e-15 here, and its square root to NaN.
        let out = eval_many(|g| {
            let d = Categorical::from_logits(g.constant_f64(&[0.0, 0.0, 0.0, 37.0], [4]));
            vec![d.variance(), d.stddev()]
        });
        let q = 1.0 / (3.0 + 37f64.exp());
        let m = 6.0 * q;
        let var = q * ((3.0 - m).powi(2) + (2.0 - m).powi(2) + (1.0 - m).powi(2)) + (1.0 - 3.0 * q) * m * m;
        assert!((out[0][0] / var - 1.0).abs() < 1e-12, "{} vs {var}", out[0][0]);
        assert!((out[1][0] / var.sqrt() - 1.0).abs() < 1e-12, "{} vs {}", out[1][0], var.sqrt());
    }

    #[test]
    fn categorical_forward_batches_and_ties() {
        // A [2, 3] batch: the mode is the first maximal logit; log_prob broadcasts a [2, 2]
        // label tensor (two draws per batch member) against the batch.
        let out = eval_many(|g| {
            let d = Categorical::from_logits(g.constant_f64(&[1.0, 1.0, 0.0, -5.0, 0.0, 0.0], [2, 3]));
            assert_eq!(d.batch_shape(), Shape::from([2]));
            assert_eq!(d.sample(&[7], "k").shape(), Shape::from([7, 2]));
            let k = g.constant_f64(&[0.0, 1.0, 2.0, 2.0], [2, 2]);
            vec![d.mode(), d.log_prob(k)]
        });
        close(&out[0], &[0.0, 1.0], 0.0);
        let z0 = (2.0 * 1f64.exp() + 1.0).ln();
        let z1 = ((-5f64).exp() + 2.0).ln();
        close(&out[1], &[1.0 - z0, 0.0 - z1, 0.0 - z0, 0.0 - z1], 1e-15);
    }

    #[test]
    fn categorical_grad_log_prob_entropy_mean() {
        // Labels are class indices (no gradient): a constant.
        check_grads(
            |g, x| Categorical::from_logits(x[0]).log_prob(g.constant_f64(&[2.0, 0.0], [2])),
            &[Spec::new([2, 3])],
            2,
        );
        check_grads(|_, x| Categorical::from_logits(x[0]).entropy(), &[Spec::new([2, 3])], 2);
        check_grads(|_, x| Categorical::from_logits(x[0]).mean(), &[Spec::new([2, 3])], 2);
    }

    #[test]
    fn categorical_errors() {
        let e = build_error(|g| {
            Categorical::from_logits(g.scalar(0.0));
        });
        assert!(
            e.contains("Categorical") && e.contains("logits must have shape [..., C]") && e.contains("got []"),
            "{e}"
        );
    }
}
