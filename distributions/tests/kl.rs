//! Analytic KL divergences against the reference numbers of TFP (reference §6), the sum
//! identities between families, `KL(p ‖ p) = 0` with a defined gradient, stability at extreme
//! scales, and gradient checks of every analytic pair.

#[path = "../src/test_util.rs"]
mod test_util;

use std::f64::consts::{E, LN_2};

use autodiff::ops::{matrix_set_diag, tril};
use autodiff::prelude::*;
use autodiff::testing::{check_grads, Domain, Spec};
use distributions::*;
// Explicit, so it wins over the prelude's Bernoulli noise sampler.
use distributions::Bernoulli;
use test_util::*;

fn normals<'g>(g: &'g Graph<f64>, loc: &[f64], scale: &[f64]) -> Normal<'g, f64> {
    Normal::new(g.constant_f64(loc, [loc.len()]), g.constant_f64(scale, [scale.len()]))
}

#[test]
fn kl_normal_normal_reference_table() {
    // Reference §6.1, one row per batch element: KL(N(μa, σa) ‖ N(μb, σb)).
    let rows = [
        (0.0, 1.0, 1.0, 2.0, 0.4431471805599453), // ln 2 + 2/8 − ½
        (0.0, 1.0, 1.0, std::f64::consts::SQRT_2, 0.34657359027997264),
        (1.0, 2.0, 0.0, 1.0, 1.3068528194400546),
        (1.0, 1.0, 0.0, 1.0, 0.5),
        (0.0, 2.0, 0.0, 1.0, 0.8068528194400547),
        (0.0, 1.0, 0.0, 2.0, 0.3181471805599453),
        (0.5, 0.3, -0.2, 1.7, 1.3349470761493523),
    ];
    let col = |k: usize| rows.iter().map(|r| [r.0, r.1, r.2, r.3][k]).collect::<Vec<_>>();
    let want: Vec<f64> = rows.iter().map(|r| r.4).collect();
    let out = eval_many(|g| {
        let p = normals(g, &col(0), &col(1));
        let q = normals(g, &col(2), &col(3));
        vec![p.kl_divergence(&q), kl_divergence(&p, &q)]
    });
    close(&out[0], &want, 1e-15);
    close(&out[1], &want, 1e-15);
}

#[test]
fn kl_normal_is_stable_at_extreme_and_nearly_equal_scales() {
    let out = eval_many(|g| {
        // The first row of §6.1 rescaled by 1e-6 and 1e6 (KL is invariant under rescaling).
        let tiny = normals(g, &[0.0], &[1e-6]).kl_divergence(&normals(g, &[1e-6], &[2e-6]));
        let huge = normals(g, &[0.0], &[1e6]).kl_divergence(&normals(g, &[1e6], &[2e6]));
        // σb = σa(1 + ε), ε = 1e-8: KL = ½((1+ε)^{−2} − 1) + log(1 + ε) = ε² − (5/3)ε³ + …; a
        // log-ratio-plus-variance-ratio formula would return rounding noise of order 1e-16.
        let near = normals(g, &[0.0], &[1.0]).kl_divergence(&normals(g, &[0.0], &[1.0 + 1e-8]));
        vec![tiny, huge, near]
    });
    close(&out[0], &[0.4431471805599453], 1e-15);
    close(&out[1], &[0.4431471805599453], 1e-15);
    let eps = (1.0 + 1e-8) - 1.0;
    let want = eps * eps * (1.0 - 5.0 / 3.0 * eps);
    // δ = −log(1 + ε) is exact to 1e-24, so ½ expm1(2δ) − δ keeps about 8 digits of ε².
    assert!(((out[2][0] - want) / want).abs() < 1e-6, "{} vs {want}", out[2][0]);
}

#[test]
fn kl_of_a_distribution_with_itself_is_zero_with_a_zero_gradient() {
    let out = eval_many(|g| {
        let loc = g.constant_f64(&[0.3, -1.0], [2]);
        let scale = g.constant_f64(&[0.7, 2.0], [2]);
        let l = g.constant_f64(&[1.0, 0.0, 0.5, 2.0], [2, 2]);
        let n = Normal::new(loc, scale).kl_divergence(&Normal::new(loc, scale)).sum_all();
        let m = MultivariateNormalTriL::new(loc, l);
        let mk = m.kl_divergence(&MultivariateNormalTriL::new(loc, l));
        let lp = Laplace::new(loc, scale).kl_divergence(&Laplace::new(loc, scale)).sum_all();
        let gn = grad(n, &[loc, scale]);
        let gm = grad(mk, &[loc, l]);
        let gl = grad(lp, &[loc, scale]);
        vec![n, mk, lp, gn[0], gn[1], gm[0], gm[1], gl[0], gl[1]]
    });
    close(&out[0], &[0.0], 0.0);
    close(&out[1], &[0.0], 1e-15);
    close(&out[2], &[0.0], 0.0);
    for (k, gk) in out[3..].iter().enumerate() {
        assert!(gk.iter().all(|v| v.is_finite() && v.abs() < 1e-15), "gradient {k}: {gk:?}");
    }
    // No finite-difference check here: KL(N(x0, x1) ‖ N(x0, x1)) is identically zero, so a check
    // along this diagonal only sees sums of partial derivatives (each pair cancelling). The
    // gradients, to second order, are checked with q ≠ p in
    // `kl_grad_normal_laplace_bernoulli_categorical`.
}

#[test]
fn kl_mvn_tril_reference_values() {
    // Reference §6.2: a = N([1, 2], La La ᵀ), b = N([0, 0], Lb Lbᵀ); both determinants are 4.
    let out = eval_many(|g| {
        let a = MultivariateNormalTriL::new(
            g.constant_f64(&[1.0, 2.0], [2]),
            g.constant_f64(&[1.0, 0.0, 0.5, 2.0], [2, 2]),
        );
        let b = MultivariateNormalTriL::new(
            g.constant_f64(&[0.0, 0.0], [2]),
            g.constant_f64(&[2.0, 0.0, 1.0, 1.0], [2, 2]),
        );
        vec![a.kl_divergence(&b), b.kl_divergence(&a), kl_divergence(&a, &b)]
    });
    // ½(tr(Cb⁻¹Ca) + Δμᵀ Cb⁻¹ Δμ − 2) + 0 = ½(4.25 + 2.5 − 2).
    close(&out[0], &[2.375], 1e-15);
    close(&out[1], &[1.90625], 1e-15);
    close(&out[2], &[2.375], 1e-15);
}

#[test]
fn kl_diagonal_families_all_give_the_sum_of_univariate_kls() {
    // Reference §6.1: loc [0, 1], scale [1, 2] against loc [1, 0], scale [2, 1] gives
    // 0.4431471805599453 + 1.3068528194400546 = 1.75 in every diagonal representation.
    let out = eval_many(|g| {
        let (la, sa) = (g.constant_f64(&[0.0, 1.0], [2]), g.constant_f64(&[1.0, 2.0], [2]));
        let (lb, sb) = (g.constant_f64(&[1.0, 0.0], [2]), g.constant_f64(&[2.0, 1.0], [2]));
        let ind_a = Independent::new(Box::new(Normal::new(la, sa)), 1);
        let ind_b = Independent::new(Box::new(Normal::new(lb, sb)), 1);
        let diag_a = MultivariateNormalDiag::new(la, sa);
        let diag_b = MultivariateNormalDiag::new(lb, sb);
        let tril_a = MultivariateNormalTriL::new(la, diag_a.scale_tril());
        let tril_b = MultivariateNormalTriL::new(lb, diag_b.scale_tril());
        vec![
            ind_a.kl_divergence(&ind_b),
            kl_divergence(&ind_a, &ind_b),
            diag_a.kl_divergence(&diag_b),
            tril_a.kl_divergence(&tril_b),
            tril_a.kl_divergence(&diag_b),
            diag_a.kl_divergence(&tril_b),
            diag_a.kl_divergence(&ind_b),
            ind_a.kl_divergence(&tril_b),
            kl_divergence(&tril_a, &ind_b),
            kl_divergence(&ind_a, &diag_b),
        ]
    });
    for (k, v) in out.iter().enumerate() {
        assert_eq!(v.len(), 1, "pair {k} is not a scalar: {v:?}");
        close(v, &[1.75], 1e-15);
    }
}

#[test]
fn kl_independent_sums_over_reinterpreted_dims_only() {
    // A [2, 2] batch with one reinterpreted dimension: one KL per row.
    let out = eval1(|g| {
        let a =
            Normal::new(g.constant_f64(&[0.0, 1.0, 0.0, 0.0], [2, 2]), g.constant_f64(&[1.0, 2.0, 1.0, 1.0], [2, 2]));
        let b = Normal::new(g.constant_f64(&[1.0, 0.0], [2]), g.constant_f64(&[2.0, 1.0], [2]));
        Independent::new(Box::new(a), 1).kl_divergence(&Independent::new(Box::new(b), 1))
    });
    // Row 1 is N(0, 1) against [N(1, 2), N(0, 1)]: 0.4431471805599453 + 0.
    close(&out, &[1.75, 0.4431471805599453], 1e-15);
}

#[test]
fn kl_deterministic_is_the_negative_log_density_of_its_atom() {
    // Reference §6.4: −log N(b; 0, 1) = ½ log 2π + ½ b².
    let out = eval_many(|g| {
        let atoms = g.constant_f64(&[0.0, 0.3], [2]);
        let prior = Normal::new(g.scalar(0.0), g.scalar(1.0));
        let d = Deterministic::new(atoms);
        let ind_d = Independent::new(Box::new(Deterministic::new(atoms)), 1);
        let ind_p = Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0, 0.0], [2]), g.scalar(1.0))), 1);
        vec![d.kl_divergence(&prior), kl_divergence(&d, &prior), kl_divergence(&ind_d, &ind_p)]
    });
    close(&out[0], &[0.9189385332046727, 0.9639385332046727], 1e-15);
    close(&out[1], &[0.9189385332046727, 0.9639385332046727], 1e-15);
    close(&out[2], &[0.9189385332046727 + 0.9639385332046727], 1e-15);
}

#[test]
fn mc_kl_reference_value() {
    // Reference §6.5: q = N(0.5, 0.2), p = N(0, 1), w = 0.7.
    let out = eval_many(|g| {
        let q = Normal::new(g.scalar(0.5), g.scalar(0.2));
        let p = Normal::new(g.scalar(0.0), g.scalar(1.0));
        vec![mc_kl(&q, &p, g.scalar(0.7)), q.kl_divergence(&p)]
    });
    close(&out[0], &[1.3544379124341004], 1e-15);
    close(&out[1], &[1.2544379124341003], 1e-15);
}

#[test]
fn kl_laplace_bernoulli_categorical_values() {
    let out = eval_many(|g| {
        let la = Laplace::new(g.scalar(0.0), g.scalar(1.0));
        let lb = Laplace::new(g.scalar(1.0), g.scalar(2.0));
        let ba = Bernoulli::from_logits(g.scalar(0.0));
        let bb = Bernoulli::from_logits(g.scalar(2.0));
        let ca = Categorical::from_logits(g.constant_f64(&[0.0, 2f64.ln(), 3f64.ln()], [3]));
        let cb = Categorical::from_logits(g.constant_f64(&[0.0, 0.0, 0.0], [3]));
        vec![la.kl_divergence(&lb), kl_divergence(&ba, &bb), kl_divergence(&ca, &cb)]
    });
    // Laplace: −log(ba/bb) − 1 + |Δμ|/bb + (ba/bb) e^{−|Δμ|/ba} = log 2 − 1 + ½ + ½e^{−1}.
    close(&out[0], &[LN_2 - 0.5 + 0.5 / E], 1e-15);
    // Bernoulli: ½ log(½/σ(2)) + ½ log(½/σ(−2)).
    let s = |l: f64| 1.0 / (1.0 + (-l).exp());
    close(&out[1], &[0.5 * (0.5 / s(2.0)).ln() + 0.5 * (0.5 / s(-2.0)).ln()], 1e-15);
    // Categorical against uniform: Σ p log(3p), p = [1/6, 1/3, 1/2].
    let p: [f64; 3] = [1.0 / 6.0, 1.0 / 3.0, 0.5];
    close(&out[2], &[p.iter().map(|q| q * (3.0 * q).ln()).sum()], 1e-15);
}

#[test]
fn kl_and_entropy_of_certain_outcomes_are_finite() {
    // Probabilities 0 and 1 (logits ∓∞) and a class of logit −∞: 0 log 0 = 0.
    let out = eval_many(|g| {
        let q = Bernoulli::from_probs(g.scalar(0.3));
        let one = Bernoulli::from_probs(g.scalar(1.0));
        let zero = Bernoulli::from_probs(g.scalar(0.0));
        let masked = Categorical::from_logits(g.constant_f64(&[0.0, f64::NEG_INFINITY, 0.0], [3]));
        let uniform = Categorical::from_logits(g.constant_f64(&[0.0, 0.0, 0.0], [3]));
        vec![
            kl_divergence(&one, &q),
            kl_divergence(&zero, &q),
            kl_divergence(&one, &one),
            kl_divergence(&masked, &uniform),
            masked.entropy(),
        ]
    });
    close(&out[0], &[-(0.3f64.ln())], 1e-15);
    close(&out[1], &[-(0.7f64.ln())], 1e-15);
    close(&out[2], &[0.0], 0.0);
    // ½ log(½ / ⅓) twice, and the entropy of a fair coin.
    close(&out[3], &[1.5f64.ln()], 1e-15);
    close(&out[4], &[LN_2], 1e-15);
}

/// A lower-triangular factor with a positive diagonal from unconstrained inputs.
fn factor<'g>(x: Tensor<'g, f64>, d: Tensor<'g, f64>) -> Tensor<'g, f64> {
    matrix_set_diag(tril(x), d)
}

#[test]
fn kl_grad_normal_laplace_bernoulli_categorical() {
    let pos = || Spec::new([3]).domain(Domain::Positive);
    check_grads(
        |_, x| Normal::new(x[0], x[1]).kl_divergence(&Normal::new(x[2], x[3])),
        &[Spec::new([3]), pos(), Spec::new([3]), pos()],
        2,
    );
    // |μa − μb| has a kink at 0: keep the locations apart.
    check_grads(
        |_, x| Laplace::new(x[0], x[1]).kl_divergence(&Laplace::new(x[2], x[3])),
        &[Spec::new([3]).values(vec![0.0, 1.0, -1.0]), pos(), Spec::new([3]).values(vec![0.5, -0.5, 1.0]), pos()],
        2,
    );
    check_grads(
        |_, x| Bernoulli::from_logits(x[0]).kl_divergence(&Bernoulli::from_logits(x[1])),
        &[Spec::new([3]), Spec::new([3])],
        2,
    );
    check_grads(
        |_, x| Categorical::from_logits(x[0]).kl_divergence(&Categorical::from_logits(x[1])),
        &[Spec::new([2, 3]), Spec::new([3])],
        2,
    );
    check_grads(
        |_, x| Deterministic::new(x[0]).kl_divergence(&Normal::new(x[1], x[2])),
        &[Spec::new([3]), Spec::new([3]), pos()],
        2,
    );
}

#[test]
fn kl_grad_multivariate_pairs() {
    let specs = [
        Spec::new([3]),
        Spec::new([3, 3]),
        Spec::new([3]).domain(Domain::Positive),
        Spec::new([3]),
        Spec::new([3, 3]),
        Spec::new([3]).domain(Domain::Positive),
    ];
    check_grads(
        |_, x| {
            let a = MultivariateNormalTriL::new(x[0], factor(x[1], x[2]));
            a.kl_divergence(&MultivariateNormalTriL::new(x[3], factor(x[4], x[5])))
        },
        &specs,
        2,
    );
    // TriL against Diag and Diag against TriL: the shortcuts for a diagonal b or a.
    check_grads(
        |_, x| {
            let a = MultivariateNormalTriL::new(x[0], factor(x[1], x[2]));
            a.kl_divergence(&MultivariateNormalDiag::new(x[3], x[5]))
        },
        &specs,
        2,
    );
    check_grads(
        |_, x| {
            let a = MultivariateNormalDiag::new(x[0], x[2]);
            a.kl_divergence(&MultivariateNormalTriL::new(x[3], factor(x[4], x[5])))
        },
        &specs,
        2,
    );
    check_grads(
        |_, x| {
            let a = Independent::new(Box::new(Normal::new(x[0], x[2])), 1);
            kl_divergence(&a, &Independent::new(Box::new(Normal::new(x[3], x[5])), 1))
        },
        &specs,
        2,
    );
    // The cross-family pair (an Independent Normal as a diagonal MVN), through the dynamic path.
    check_grads(
        |_, x| {
            let a = Independent::new(Box::new(Normal::new(x[0], x[2])), 1);
            kl_divergence(&a, &MultivariateNormalTriL::new(x[3], factor(x[4], x[5])))
        },
        &specs,
        2,
    );
}
