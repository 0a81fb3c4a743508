//! Kullback–Leibler divergences `KL(p ‖ q) = E_p[log p − log q]`.
//!
//! Three ways in:
//!
//! - [`KlDivergence`]: static, one impl per analytic pair. A pair without an impl does not
//!   compile (this replaces TFP's run-time `RegisterKL` table).
//! - [`kl_divergence`]: dynamic, for `&dyn Distribution`s (posteriors and priors chosen at run
//!   time): dispatches on [`Distribution::family`]; a pair without an analytic form records an
//!   error naming both families and pointing to [`mc_kl`].
//! - [`mc_kl`]: the single-sample Monte-Carlo estimate `log p(w) − log q(w)` at a draw `w ~ p`,
//!   for any pair (unbiased; TFP's `DenseVariational` uses it).
//!
//! The analytic forms, all as implemented by TFP unless noted:
//!
//! | pair | `KL(a ‖ b)` |
//! |---|---|
//! | Normal–Normal | `½((μa−μb)/σb)² + ½ expm1(2δ) − δ`, `δ = log σa − log σb` |
//! | Independent–Independent | base KL summed over the reinterpreted dimensions; event shapes must match at both levels |
//! | MVN–MVN (TriL or Diag) | `log|det Lb| − log|det La| + ½(−k + ‖Lb⁻¹La‖²_F + ‖Lb⁻¹(μb−μa)‖²)` |
//! | Diag–Diag | the same with `Lb⁻¹La = σa/σb`, written per dimension as the Normal–Normal form |
//! | MVN–Independent(Normal, 1), both ways | the Independent as a diagonal MVN (not in TFP) |
//! | Laplace–Laplace | `expm1(δ − |μa−μb|/ba) − δ + |μa−μb|/bb`, `δ = log ba − log bb` |
//! | Bernoulli–Bernoulli | `σ(la)(sp(−lb) − sp(−la)) + σ(−la)(sp(lb) − sp(la))`, `sp = softplus`, a term of probability 0 counting 0 |
//! | Categorical–Categorical | `Σ softmax(la) (log_softmax(la) − log_softmax(lb))`, classes of probability 0 counting 0 |
//! | Deterministic–anything | `−q.log_prob(loc)` |
//!
//! `expm1` and `log σ` differences keep `KL(p ‖ p) = 0` exact with a finite (zero) gradient,
//! and keep full precision for scales from `1e-6` to `1e6`. Squared Frobenius norms are sums of
//! squares (not `norm`), so their gradient is defined at `a = b` too.

use autodiff::ops::{
    abs, expm1, log, log_det_tril, log_softmax, matrix_diag, reduce_sum, sigmoid, softmax, softplus, square,
    triangular_solve,
};
use autodiff::{Dim, Scalar, Shape, Tensor};

use crate::mvn_tril::solve_vec;
use crate::util::{bcast, concat, fail, mul_no_nan, over_batch, sum_last, unsqueeze_last};
use crate::{
    Bernoulli, Categorical, Deterministic, Distribution, Family, Independent, Laplace, MultivariateNormalDiag,
    MultivariateNormalTriL, Normal,
};

/// An analytic `KL(self ‖ q)`, of the broadcast batch shape of both.
///
/// ```
/// use autodiff::prelude::*;
/// use distributions::{KlDivergence, Normal};
///
/// let g = Graph::<f64>::new();
/// let p = Normal::new(g.scalar(0.0), g.scalar(1.0));
/// let q = Normal::new(g.scalar(1.0), g.scalar(2.0));
/// let kl = p.kl_divergence(&q);
/// let mut s = Session::new(g.compile(&[kl]).unwrap(), 0);
/// let v = s.run(&ParamStore::new(0), &[]).unwrap().scalar(0);
/// assert!((v - (2f64.ln() + 2.0 / 8.0 - 0.5)).abs() < 1e-15);
/// ```
pub trait KlDivergence<'g, F: Scalar, Q: ?Sized> {
    /// `KL(self ‖ q)`.
    #[track_caller]
    fn kl_divergence(&self, q: &Q) -> Tensor<'g, F>;
}

/// The per-element Normal–Normal KL from locations and scales (`abs_scale` takes `log|σ|`, for
/// the diagonal MVN whose scale may be negative).
fn normal_kl<'g, F: Scalar>(
    mu_a: Tensor<'g, F>,
    s_a: Tensor<'g, F>,
    mu_b: Tensor<'g, F>,
    s_b: Tensor<'g, F>,
    abs_scale: bool,
) -> Tensor<'g, F> {
    if !abs_scale {
        // One fused pass forward and one per input backward: this KL runs over every weight of
        // a Bayesian layer on every training step.
        return autodiff::ops::normal_kl(mu_a, s_a, mu_b, s_b);
    }
    let lg = |s: Tensor<'g, F>| log(abs(s));
    let d = lg(s_a) - lg(s_b);
    let z = (mu_a - mu_b) / s_b;
    (square(z) + expm1(d * F::of(2.0))) * F::of(0.5) - d
}

impl<'g, F: Scalar> KlDivergence<'g, F, Normal<'g, F>> for Normal<'g, F> {
    fn kl_divergence(&self, q: &Normal<'g, F>) -> Tensor<'g, F> {
        let kl = normal_kl(self.loc(), self.scale(), q.loc(), q.scale(), false);
        match self.batch_shape().broadcast_with(&q.batch_shape()) {
            Ok(batch) => over_batch(kl, &batch),
            Err(_) => kl,
        }
    }
}

impl<'g, F: Scalar> KlDivergence<'g, F, Laplace<'g, F>> for Laplace<'g, F> {
    fn kl_divergence(&self, q: &Laplace<'g, F>) -> Tensor<'g, F> {
        let dist = abs(self.loc() - q.loc());
        let d = log(self.scale()) - log(q.scale());
        expm1(d - dist / self.scale()) - d + dist / q.scale()
    }
}

impl<'g, F: Scalar> KlDivergence<'g, F, Bernoulli<'g, F>> for Bernoulli<'g, F> {
    fn kl_divergence(&self, q: &Bernoulli<'g, F>) -> Tensor<'g, F> {
        let (la, lb) = (self.logits(), q.logits());
        let d0 = softplus(-lb) - softplus(-la);
        let d1 = softplus(lb) - softplus(la);
        // A certain outcome (logit ±∞) has a difference of −∞ on the side it never takes.
        mul_no_nan(sigmoid(la), d0) + mul_no_nan(sigmoid(-la), d1)
    }
}

impl<'g, F: Scalar> KlDivergence<'g, F, Categorical<'g, F>> for Categorical<'g, F> {
    fn kl_divergence(&self, q: &Categorical<'g, F>) -> Tensor<'g, F> {
        if self.num_classes() != q.num_classes() {
            return kl_error(
                self,
                q,
                format!("the numbers of classes differ: {} vs {}", self.num_classes(), q.num_classes()),
            );
        }
        let (la, lb) = (self.logits(), q.logits());
        // Classes of probability 0 (logit −∞) contribute 0.
        reduce_sum(mul_no_nan(softmax(la, -1), log_softmax(la, -1) - log_softmax(lb, -1)), &[-1], false)
    }
}

impl<'g, F: Scalar, Q: Distribution<'g, F> + ?Sized> KlDivergence<'g, F, Q> for Deterministic<'g, F> {
    fn kl_divergence(&self, q: &Q) -> Tensor<'g, F> {
        -q.log_prob(self.loc())
    }
}

impl<'g, F: Scalar> KlDivergence<'g, F, Independent<'g, F>> for Independent<'g, F> {
    fn kl_divergence(&self, q: &Independent<'g, F>) -> Tensor<'g, F> {
        let (pe, qe) = (self.event_shape(), q.event_shape());
        let (pbe, qbe) = (self.base().event_shape(), q.base().event_shape());
        if pe != qe || pbe != qbe {
            return kl_error(
                self,
                q,
                format!(
                    "event shapes must match at both levels: {pe} vs {qe} (base event shapes {pbe} vs {qbe}); \
                     use a Monte-Carlo divergence (mc_kl; in a layer, Divergence::MonteCarlo)"
                ),
            );
        }
        sum_last(kl_divergence(self.base(), q.base()), self.reinterpreted_batch_ndims())
    }
}

/// A multivariate normal's scale, as the KL needs it.
#[derive(Clone, Copy)]
enum Scale<'g, F: Scalar> {
    /// Diagonal `[..., d]`.
    Diag(Tensor<'g, F>),
    /// Lower triangular `[..., d, d]`.
    Tril(Tensor<'g, F>),
}

/// `(loc [..., d], scale, batch shape, d)` of a multivariate normal.
struct Mvn<'g, F: Scalar> {
    loc: Tensor<'g, F>,
    scale: Scale<'g, F>,
    batch: Shape,
    d: usize,
}

trait AsMvn<'g, F: Scalar> {
    fn as_mvn(&self) -> Result<Mvn<'g, F>, String>;
}

impl<'g, F: Scalar> AsMvn<'g, F> for MultivariateNormalTriL<'g, F> {
    fn as_mvn(&self) -> Result<Mvn<'g, F>, String> {
        Ok(Mvn { loc: self.loc(), scale: Scale::Tril(self.scale_tril()), batch: self.batch_shape(), d: self.dim() })
    }
}

impl<'g, F: Scalar> AsMvn<'g, F> for MultivariateNormalDiag<'g, F> {
    fn as_mvn(&self) -> Result<Mvn<'g, F>, String> {
        Ok(Mvn { loc: self.loc(), scale: Scale::Diag(self.scale_diag()), batch: self.batch_shape(), d: self.dim() })
    }
}

/// An `Independent(Normal, 1)` is a diagonal multivariate normal.
impl<'g, F: Scalar> AsMvn<'g, F> for Independent<'g, F> {
    fn as_mvn(&self) -> Result<Mvn<'g, F>, String> {
        let not_diag = || {
            format!(
                "only an Independent of a Normal with reinterpreted_batch_ndims 1 is a diagonal multivariate normal, \
                 got Independent({}) with reinterpreted_batch_ndims {}",
                self.base().name(),
                self.reinterpreted_batch_ndims()
            )
        };
        match (self.base().family(), self.reinterpreted_batch_ndims()) {
            (Family::Normal(n), 1) => {
                let nb = n.batch_shape();
                match nb.dims().last() {
                    Some(&Dim::Fixed(d)) => Ok(Mvn {
                        loc: bcast(n.loc(), &nb),
                        scale: Scale::Diag(bcast(n.scale(), &nb)),
                        batch: self.batch_shape(),
                        d,
                    }),
                    _ => Err(not_diag()),
                }
            }
            _ => Err(not_diag()),
        }
    }
}

/// TFP's `_kl_brute_force` for two multivariate normals, with the diagonal shortcuts.
fn mvn_kl<'g, F: Scalar>(a: Mvn<'g, F>, b: Mvn<'g, F>) -> Tensor<'g, F> {
    let event = Shape::from([a.d]);
    let full_a = concat(&a.batch, &event);
    let full_b = concat(&b.batch, &event);
    if let (Scale::Diag(sa), Scale::Diag(sb)) = (a.scale, b.scale) {
        // Per dimension this is the Normal–Normal KL; the ratio σa/σb enters as expm1(2δ).
        let per_dim = normal_kl(a.loc, sa, b.loc, sb, true);
        let shape = per_dim.shape().broadcast_with(&full_a).and_then(|s| s.broadcast_with(&full_b));
        return sum_last(bcast(per_dim, &shape.unwrap_or(full_a)), 1);
    }
    let log_det = |m: &Mvn<'g, F>, full: &Shape| match m.scale {
        Scale::Diag(s) => sum_last(bcast(log(abs(s)), full), 1),
        Scale::Tril(l) => log_det_tril(l),
    };
    let dense = |m: &Mvn<'g, F>, full: &Shape| match m.scale {
        Scale::Diag(s) => matrix_diag(bcast(s, full)),
        Scale::Tril(l) => l,
    };
    let delta = b.loc - a.loc;
    let (b_inv_a, b_inv_delta) = match b.scale {
        // Lb⁻¹ scales rows by 1/σb.
        Scale::Diag(sb) => (dense(&a, &full_a) / unsqueeze_last(sb), delta / sb),
        Scale::Tril(lb) => (triangular_solve(lb, dense(&a, &full_a), true, false), solve_vec(lb, delta)),
    };
    let frob = reduce_sum(square(b_inv_a), &[-2, -1], false);
    let maha = sum_last(square(b_inv_delta), 1);
    log_det(&b, &full_b) - log_det(&a, &full_a) + (frob + maha - F::of(a.d as f64)) * F::of(0.5)
}

fn mvn_pair<'g, F: Scalar>(
    p: &dyn Distribution<'g, F>,
    a: Result<Mvn<'g, F>, String>,
    q: &dyn Distribution<'g, F>,
    b: Result<Mvn<'g, F>, String>,
) -> Tensor<'g, F> {
    match (a, b) {
        (Ok(a), Ok(b)) if a.d == b.d => mvn_kl(a, b),
        (Ok(a), Ok(b)) => kl_error(p, q, format!("event sizes differ: {} vs {}", a.d, b.d)),
        (Err(e), _) | (_, Err(e)) => {
            kl_error(p, q, format!("{e}; use a Monte-Carlo divergence (mc_kl; in a layer, Divergence::MonteCarlo)"))
        }
    }
}

macro_rules! mvn_kl_impl {
    ($a:ident, $b:ident) => {
        impl<'g, F: Scalar> KlDivergence<'g, F, $b<'g, F>> for $a<'g, F> {
            fn kl_divergence(&self, q: &$b<'g, F>) -> Tensor<'g, F> {
                mvn_pair(self, self.as_mvn(), q, q.as_mvn())
            }
        }
    };
}

mvn_kl_impl!(MultivariateNormalTriL, MultivariateNormalTriL);
mvn_kl_impl!(MultivariateNormalTriL, MultivariateNormalDiag);
mvn_kl_impl!(MultivariateNormalDiag, MultivariateNormalTriL);
mvn_kl_impl!(MultivariateNormalDiag, MultivariateNormalDiag);
mvn_kl_impl!(MultivariateNormalTriL, Independent);
mvn_kl_impl!(Independent, MultivariateNormalTriL);
mvn_kl_impl!(MultivariateNormalDiag, Independent);
mvn_kl_impl!(Independent, MultivariateNormalDiag);

/// `Independent(Normal)` shown with its base, for messages.
fn describe<'g, F: Scalar>(d: &dyn Distribution<'g, F>) -> String {
    match d.family() {
        Family::Independent(i) => format!("Independent({})", describe(i.base())),
        _ => d.name().to_string(),
    }
}

/// Records `KL(p || q): why` and returns a poisoned tensor.
#[track_caller]
fn kl_error<'g, F: Scalar>(p: &dyn Distribution<'g, F>, q: &dyn Distribution<'g, F>, why: String) -> Tensor<'g, F> {
    let g = p.graph();
    fail::<F>(g, "kl_divergence", format!("KL({} || {}): {why}", describe(p), describe(q)), &[]);
    g.poisoned()
}

/// `KL(p ‖ q)` for distributions known only as trait objects, dispatched on their families to
/// the analytic forms of [`KlDivergence`]. A pair without one records the error
/// `KL(StudentT || Normal) has no analytic form; use a Monte-Carlo divergence (mc_kl; in a layer, Divergence::MonteCarlo)` and
/// returns a poisoned tensor.
///
/// ```
/// use autodiff::prelude::*;
/// use distributions::{kl_divergence, Distribution, Independent, Normal};
///
/// let g = Graph::<f64>::new();
/// let loc = g.constant_f64(&[0.0, 1.0], [2]);
/// let scale = g.constant_f64(&[1.0, 2.0], [2]);
/// let q: Box<dyn Distribution<f64>> = Box::new(Independent::new(Box::new(Normal::new(loc, scale)), 1));
/// let p: Box<dyn Distribution<f64>> =
///     Box::new(Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0, 0.0], [2]), g.scalar(1.0))), 1));
/// let kl = kl_divergence(&*q, &*p); // sum over the event dimension: a scalar
/// assert_eq!(kl.shape(), Shape::scalar());
/// ```
#[track_caller]
pub fn kl_divergence<'g, F: Scalar>(p: &dyn Distribution<'g, F>, q: &dyn Distribution<'g, F>) -> Tensor<'g, F> {
    use Family as K;
    match (p.family(), q.family()) {
        (K::Deterministic(a), _) => a.kl_divergence(q),
        (K::Normal(a), K::Normal(b)) => a.kl_divergence(b),
        (K::Independent(a), K::Independent(b)) => a.kl_divergence(b),
        (K::MvnTriL(a), K::MvnTriL(b)) => a.kl_divergence(b),
        (K::MvnTriL(a), K::MvnDiag(b)) => a.kl_divergence(b),
        (K::MvnDiag(a), K::MvnTriL(b)) => a.kl_divergence(b),
        (K::MvnDiag(a), K::MvnDiag(b)) => a.kl_divergence(b),
        (K::MvnTriL(a), K::Independent(b)) if b.as_mvn().is_ok() => a.kl_divergence(b),
        (K::Independent(a), K::MvnTriL(b)) if a.as_mvn().is_ok() => a.kl_divergence(b),
        (K::MvnDiag(a), K::Independent(b)) if b.as_mvn().is_ok() => a.kl_divergence(b),
        (K::Independent(a), K::MvnDiag(b)) if a.as_mvn().is_ok() => a.kl_divergence(b),
        (K::Laplace(a), K::Laplace(b)) => a.kl_divergence(b),
        (K::Bernoulli(a), K::Bernoulli(b)) => a.kl_divergence(b),
        (K::Categorical(a), K::Categorical(b)) => a.kl_divergence(b),
        _ => {
            let g = p.graph();
            fail::<F>(
                g,
                "kl_divergence",
                format!(
                    "KL({} || {}) has no analytic form; use a Monte-Carlo divergence (mc_kl; in a layer, Divergence::MonteCarlo)",
                    describe(p),
                    describe(q)
                ),
                &[],
            );
            g.poisoned()
        }
    }
}

/// The single-sample Monte-Carlo divergence `log p(w) − log q(w)` at a draw `w` of `p` (pass
/// the draw the model used, so the estimate and the forward pass share their noise). Unbiased
/// for `KL(p ‖ q)`; works for every pair.
#[track_caller]
pub fn mc_kl<'g, F: Scalar>(
    p: &dyn Distribution<'g, F>,
    q: &dyn Distribution<'g, F>,
    sample: Tensor<'g, F>,
) -> Tensor<'g, F> {
    p.log_prob(sample) - q.log_prob(sample)
}
