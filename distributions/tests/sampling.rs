//! Statistical checks of the samplers at fixed seeds: sample moments, frequencies and CDF
//! values within 4 standard errors (estimated from the draws), and each analytic KL against
//! its Monte-Carlo estimate `mean(log p(w) − log q(w))`, `w ~ p`, within 4 standard errors.

#[path = "../src/test_util.rs"]
mod test_util;

use std::f64::consts::PI;

use autodiff::Shape;
use distributions::*;
use test_util::*;

const N: usize = 20000;

/// Column `j` of a row-major `[N, cols]` buffer.
fn column(x: &[f64], cols: usize, j: usize) -> Vec<f64> {
    x.iter().skip(j).step_by(cols).copied().collect()
}

/// Checks the mean and variance of draws against `mu` and `var`.
#[track_caller]
fn check_moments(what: &str, xs: &[f64], mu: f64, var: f64) {
    let (m, se) = mean_se(xs);
    within_4se(&format!("{what} mean"), m, mu, se);
    let sq: Vec<f64> = xs.iter().map(|v| (v - mu) * (v - mu)).collect();
    let (v, se) = mean_se(&sq);
    within_4se(&format!("{what} variance"), v, var, se);
}

/// Checks the fraction of draws at or below `t` against `p`.
#[track_caller]
fn check_cdf(what: &str, xs: &[f64], t: f64, p: f64) {
    let ind: Vec<f64> = xs.iter().map(|&v| if v <= t { 1.0 } else { 0.0 }).collect();
    let (f, se) = mean_se(&ind);
    within_4se(&format!("{what} P(X <= {t})"), f, p, se.max(1e-3));
}

#[test]
fn sample_moments_of_the_continuous_univariate_families() {
    let out = eval_seeded(11, |g| {
        let n = Normal::new(g.constant_f64(&[1.0, -2.0], [2]), g.constant_f64(&[0.5, 3.0], [2]));
        let l = Laplace::new(g.scalar(1.0), g.scalar(2.0));
        let m = ScaleMixtureNormal::new(g, Shape::scalar(), 0.25, 2.0, 0.5);
        vec![n.sample(&[N], "normal"), l.sample(&[N], "laplace"), m.sample(&[N], "mixture")]
    });
    check_moments("Normal(1, 0.5)", &column(&out[0], 2, 0), 1.0, 0.25);
    check_moments("Normal(-2, 3)", &column(&out[0], 2, 1), -2.0, 9.0);
    // Laplace(1, 2): variance 2b² = 8; P(X ≤ 1 + 2) = 1 − ½e^{−1}.
    check_moments("Laplace", &out[1], 1.0, 8.0);
    check_cdf("Laplace", &out[1], 3.0, 1.0 - 0.5 / std::f64::consts::E);
    // ¼ N(0, 4) + ¾ N(0, ¼): variance 1.1875; P(X ≤ 0.3) = ¼Φ(0.3/2) + ¾Φ(0.3/½)
    // = ¼Φ(0.15) + ¾Φ(0.6) = 0.6842145847800054 (Φ(t) = ½(1 + erf(t/√2)), python's math.erf).
    // A sign-only noise (±σ) would keep the variance but give P(X ≤ 0.3) = ½.
    check_moments("ScaleMixtureNormal", &out[2], 0.0, 1.1875);
    check_cdf("ScaleMixtureNormal", &out[2], 0.3, 0.6842145847800054);
}

#[test]
fn student_t_samples_follow_the_t_distribution() {
    // df = [1, 2, 10], loc 1, scale 2; standardized draws t = (x − 1)/2.
    let out = eval_seeded(5, |g| {
        let d = StudentT::new(g.constant_f64(&[1.0, 2.0, 10.0], [3]), g.scalar(1.0), g.scalar(2.0));
        vec![d.sample(&[N], "t")]
    });
    let t = |j: usize| column(&out[0], 3, j).iter().map(|x| (x - 1.0) / 2.0).collect::<Vec<_>>();
    // ν = 1 (gamma shape ½, the boosted path): the Cauchy CDF ½ + atan(t)/π.
    let cauchy = t(0);
    for &x in &[-1.0, 0.5, 2.0] {
        check_cdf("t(1)", &cauchy, x, 0.5 + f64::atan(x) / PI);
    }
    // ν = 2 (shape 1): F(t) = ½ + t / (2√(2 + t²)).
    let t2 = t(1);
    for &x in &[-1.0, 0.5, 2.0] {
        check_cdf("t(2)", &t2, x, 0.5 + x / (2.0 * (2.0 + x * x).sqrt()));
    }
    // ν = 10: mean 0, variance ν/(ν − 2) = 1.25.
    check_moments("t(10)", &t(2), 0.0, 1.25);
}

#[test]
fn mvn_samples_have_the_right_mean_and_covariance() {
    let out = eval_seeded(23, |g| {
        let tril = MultivariateNormalTriL::new(
            g.constant_f64(&[1.0, 2.0], [2]),
            g.constant_f64(&[1.0, 0.0, 0.5, 2.0], [2, 2]),
        );
        let diag = MultivariateNormalDiag::new(g.constant_f64(&[-1.0, 0.0], [2]), g.constant_f64(&[0.1, 10.0], [2]));
        vec![tril.sample(&[N], "tril"), diag.sample(&[N], "diag")]
    });
    // Covariance L Lᵀ = [[1, ½], [½, 4.25]].
    let (x0, x1) = (column(&out[0], 2, 0), column(&out[0], 2, 1));
    check_moments("MVN TriL x0", &x0, 1.0, 1.0);
    check_moments("MVN TriL x1", &x1, 2.0, 4.25);
    let cross: Vec<f64> = x0.iter().zip(&x1).map(|(a, b)| (a - 1.0) * (b - 2.0)).collect();
    let (c, se) = mean_se(&cross);
    within_4se("MVN TriL covariance", c, 0.5, se);
    check_moments("MVN Diag x0", &column(&out[1], 2, 0), -1.0, 0.01);
    check_moments("MVN Diag x1", &column(&out[1], 2, 1), 0.0, 100.0);
}

#[test]
fn discrete_samples_have_the_right_frequencies() {
    let out = eval_seeded(29, |g| {
        let b = Bernoulli::from_logits(g.constant_f64(&[-1.0, 0.0, 2.0], [3]));
        let c = Categorical::from_logits(g.constant_f64(&[0.0, 2f64.ln(), 3f64.ln()], [3]));
        vec![b.sample(&[N], "b"), c.sample(&[N], "c")]
    });
    for (j, l) in [-1.0f64, 0.0, 2.0].iter().enumerate() {
        let col = column(&out[0], 3, j);
        assert!(col.iter().all(|&v| v == 0.0 || v == 1.0));
        let (m, se) = mean_se(&col);
        within_4se("Bernoulli frequency", m, 1.0 / (1.0 + (-l).exp()), se);
    }
    assert!(out[1].iter().all(|&k| k == 0.0 || k == 1.0 || k == 2.0));
    for (k, p) in [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0].iter().enumerate() {
        let ind: Vec<f64> = out[1].iter().map(|&v| if v == k as f64 { 1.0 } else { 0.0 }).collect();
        let (f, se) = mean_se(&ind);
        within_4se(&format!("Categorical frequency of {k}"), f, *p, se);
    }
}

#[test]
fn analytic_kl_agrees_with_its_monte_carlo_estimate() {
    let out = eval_seeded(31, |g| {
        let np = Normal::new(g.scalar(0.5), g.scalar(0.2));
        let nq = Normal::new(g.scalar(0.0), g.scalar(1.0));
        let ma = MultivariateNormalTriL::new(
            g.constant_f64(&[1.0, 2.0], [2]),
            g.constant_f64(&[1.0, 0.0, 0.5, 2.0], [2, 2]),
        );
        let mb = MultivariateNormalTriL::new(
            g.constant_f64(&[0.0, 0.0], [2]),
            g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]),
        );
        let la = Laplace::new(g.scalar(0.0), g.scalar(1.0));
        let lb = Laplace::new(g.scalar(1.0), g.scalar(2.0));
        let ia = Independent::new(
            Box::new(Normal::new(g.constant_f64(&[0.0, 1.0], [2]), g.constant_f64(&[1.0, 2.0], [2]))),
            1,
        );
        let ib = Independent::new(
            Box::new(Normal::new(g.constant_f64(&[1.0, 0.0], [2]), g.constant_f64(&[2.0, 1.0], [2]))),
            1,
        );
        vec![
            mc_kl(&np, &nq, np.sample(&[N], "n")),
            np.kl_divergence(&nq),
            mc_kl(&ma, &mb, ma.sample(&[N], "m")),
            ma.kl_divergence(&mb),
            mc_kl(&la, &lb, la.sample(&[N], "l")),
            la.kl_divergence(&lb),
            mc_kl(&ia, &ib, ia.sample(&[N], "i")),
            ia.kl_divergence(&ib),
        ]
    });
    for (k, name) in ["Normal", "MVN TriL", "Laplace", "Independent(Normal)"].iter().enumerate() {
        let terms = &out[2 * k];
        assert_eq!(terms.len(), N);
        let (m, se) = mean_se(terms);
        within_4se(&format!("KL({name}) by Monte Carlo"), m, out[2 * k + 1][0], se);
    }
}
