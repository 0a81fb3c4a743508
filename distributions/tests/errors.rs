//! Errors across families: KL pairs without an analytic form, mismatched event shapes, and
//! multivariate pairs that cannot be matched. Each is recorded in the graph (nothing panics)
//! with a message naming the families and shapes.

#[path = "../src/test_util.rs"]
mod test_util;

use distributions::*;
use test_util::*;

#[test]
fn unsupported_dynamic_pair_names_both_families_and_suggests_mc_kl() {
    let e = build_error(|g| {
        let p = StudentT::new(g.scalar(3.0), g.scalar(0.0), g.scalar(1.0));
        let q = Normal::new(g.scalar(0.0), g.scalar(1.0));
        let kl = kl_divergence(&p, &q);
        assert!(kl.is_poisoned());
    });
    assert!(e.contains("KL(StudentT || Normal) has no analytic form; use a Monte-Carlo divergence (mc_kl; in a layer, Divergence::MonteCarlo)"), "{e}");
}

#[test]
fn unsupported_base_pair_inside_independent_names_the_bases() {
    let e = build_error(|g| {
        let q = Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0; 3], [3]), g.scalar(1.0))), 1);
        let p = Independent::new(Box::new(ScaleMixtureNormal::new(g, [3], 0.5, 1.0, 0.1)), 1);
        kl_divergence(&q, &p);
    });
    assert!(e.contains("KL(Normal || ScaleMixtureNormal) has no analytic form"), "{e}");
    // The Monte-Carlo divergence works for the same pair: at w = 0, each of the 3 dimensions
    // gives log N(0; 0, 1) − log(½N(0; 0, 1) + ½N(0; 0, 0.1²)) = −log(½ + ½·10) = −log 5.5,
    // so the sum is −3 log 5.5 = −5.114244276715276. A few roundings of values of order 1 in
    // f64: 1e-15 relative (close scales by |want|) is about 6 ulps of 5.1.
    let v = eval1(|g| {
        let q = Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0; 3], [3]), g.scalar(1.0))), 1);
        let p = Independent::new(Box::new(ScaleMixtureNormal::new(g, [3], 0.5, 1.0, 0.1)), 1);
        mc_kl(&q, &p, g.constant_f64(&[0.0; 3], [3]))
    });
    close(&v, &[-3.0 * 5.5f64.ln()], 1e-15);
}

#[test]
fn independent_pair_with_different_event_shapes() {
    let e = build_error(|g| {
        let a = Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0; 3], [3]), g.scalar(1.0))), 1);
        let b = Independent::new(Box::new(Normal::new(g.constant_f64(&[0.0; 4], [4]), g.scalar(1.0))), 1);
        a.kl_divergence(&b);
    });
    assert!(
        e.contains("KL(Independent(Normal) || Independent(Normal))")
            && e.contains("event shapes must match at both levels: [3] vs [4]"),
        "{e}"
    );
}

#[test]
fn mvn_against_an_independent_that_is_not_a_diagonal_normal() {
    let e = build_error(|g| {
        let m = MultivariateNormalDiag::new(g.constant_f64(&[0.0; 2], [2]), g.scalar(1.0));
        let lap = Independent::new(Box::new(Laplace::new(g.constant_f64(&[0.0; 2], [2]), g.scalar(1.0))), 1);
        m.kl_divergence(&lap);
    });
    assert!(
        e.contains("KL(MultivariateNormalDiag || Independent(Laplace))")
            && e.contains("only an Independent of a Normal with reinterpreted_batch_ndims 1"),
        "{e}"
    );
    // Dynamically the same pair is simply unsupported.
    let e = build_error(|g| {
        let m = MultivariateNormalDiag::new(g.constant_f64(&[0.0; 2], [2]), g.scalar(1.0));
        let lap = Independent::new(Box::new(Laplace::new(g.constant_f64(&[0.0; 2], [2]), g.scalar(1.0))), 1);
        kl_divergence(&m, &lap);
    });
    assert!(e.contains("KL(MultivariateNormalDiag || Independent(Laplace)) has no analytic form"), "{e}");
}

#[test]
fn multivariate_and_categorical_size_mismatches() {
    let e = build_error(|g| {
        let a = MultivariateNormalDiag::new(g.constant_f64(&[0.0; 2], [2]), g.scalar(1.0));
        let b = MultivariateNormalDiag::new(g.constant_f64(&[0.0; 3], [3]), g.scalar(1.0));
        a.kl_divergence(&b);
    });
    assert!(e.contains("KL(MultivariateNormalDiag || MultivariateNormalDiag): event sizes differ: 2 vs 3"), "{e}");
    let e = build_error(|g| {
        let a = Categorical::from_logits(g.constant_f64(&[0.0; 2], [2]));
        let b = Categorical::from_logits(g.constant_f64(&[0.0; 3], [3]));
        kl_divergence(&a, &b);
    });
    assert!(e.contains("KL(Categorical || Categorical): the numbers of classes differ: 2 vs 3"), "{e}");
}

#[test]
fn errors_point_at_the_callers_line() {
    let e = build_error(|g| {
        Normal::new(g.constant_f64(&[0.0; 3], [3]), g.constant_f64(&[1.0; 2], [2]));
    });
    assert!(e.contains("tests/errors.rs"), "{e}");
    let e = build_error(|g| {
        let p = StudentT::new(g.scalar(3.0), g.scalar(0.0), g.scalar(1.0));
        kl_divergence(&p, &Normal::new(g.scalar(0.0), g.scalar(1.0)));
    });
    assert!(e.contains("tests/errors.rs"), "{e}");
}
