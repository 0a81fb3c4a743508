//! Parameters that carry the symbolic batch dimension `B` (e.g. a network's outputs used as a
//! predictive distribution): one compiled plan serves every batch size, noise included.

use autodiff::prelude::*;
use distributions::*;

#[test]
fn one_plan_serves_every_batch_size() {
    let g = Graph::<f64>::new();
    let loc = g.batched_input("loc", &[2]); // [B, 2]
    let scale = g.batched_input("scale", &[2]);
    let n = Normal::new(loc, scale);
    assert_eq!(n.batch_shape(), Shape::batched(&[2]));
    let w = n.sample(&[], "eps"); // [B, 2]
    let lp = n.log_prob(loc); // [B, 2]
    let q = Independent::new(Box::new(Normal::new(loc, scale)), 1);
    let p = Independent::new(Box::new(Normal::new(g.scalar(0.0), g.scalar(1.0))), 0);
    let prior = Independent::new(Box::new(Normal::new(zeros_like(loc), g.scalar(1.0))), 1);
    assert_eq!(q.batch_shape(), Shape::batched(&[]));
    let kl = kl_divergence(&q, &prior); // [B]
    let l = g.constant_f64(&[1.0, 0.0, 0.5, 2.0], [2, 2]);
    let mvn = MultivariateNormalTriL::new(loc, l);
    let m = mvn.sample(&[3], "mvn"); // [3, B, 2]
    let mlp = mvn.log_prob(loc); // [B]
    assert!(p.log_prob(g.scalar(0.0)).shape().is_scalar());
    let plan = g.compile(&[w, lp, kl, m, mlp]).unwrap();
    let mut s = Session::new(plan, 0);
    let params = ParamStore::new(0);
    for batch in [1usize, 3] {
        let locs: Vec<f64> = (0..2 * batch).map(|k| k as f64).collect();
        let scales = vec![2.0; 2 * batch];
        let out = s.run(&params, &[("loc", &locs), ("scale", &scales)]).unwrap();
        assert_eq!(out.dims(0), &[batch, 2]);
        assert_eq!(out.dims(2), &[batch]);
        assert_eq!(out.dims(3), &[3, batch, 2]);
        assert_eq!(out.dims(4), &[batch]);
        let at_mean = -(2f64).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!(out[1].iter().all(|v| (v - at_mean).abs() < 1e-15));
        // KL(N(μ, 2²) ‖ N(0, 1)) per component: −log 2 + (4 + μ²)/2 − ½, summed over the pair.
        for (b, kl) in out[2].iter().enumerate() {
            let want: f64 = locs[2 * b..2 * b + 2].iter().map(|m| -(2f64).ln() + (4.0 + m * m) / 2.0 - 0.5).sum();
            assert!((kl - want).abs() < 1e-13, "{kl} vs {want}");
        }
        // MVN log density at its mean: −log det L − log 2π.
        assert!(out[4].iter().all(|v| (v - (-(2f64).ln() - (2.0 * std::f64::consts::PI).ln())).abs() < 1e-14));
    }
}
