//! The KL terms layers register, against closed forms (reference §6.3–6.5), and the ELBO's
//! scaling by the number of training examples.

use autodiff::prelude::*;
use layers::{
    build_layer, elbo_loss, Dense, DenseFlipout, DenseReparameterization, Divergence, Layer, LayerCx, Mode,
    NormalPrior, PointEstimate, TrainableNormalPrior,
};
use std::sync::Arc;

/// Builds `layer` on a `[B, n_in]` input, returns the store and the total divergence value.
fn total_kl<F: Scalar>(layer: &dyn Layer<F>, n_in: usize, edit: impl FnOnce(&mut ParamStore<F>)) -> (f64, usize) {
    let g = Graph::<F>::new();
    let mut store = ParamStore::new(42);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[n_in]);
    let _ = build_layer(layer, x, &mut cx);
    let kl = cx.total_divergence().expect("a divergence is registered");
    let count = cx.losses().len();
    drop(cx);
    edit(&mut store);
    let mut s = Session::new(g.compile(&[kl]).unwrap(), 0);
    let v = s.run(&store, &[]).unwrap().scalar(0).to_f64_lossless();
    (v, count)
}

#[test]
fn initial_kernel_kl_of_dense_flipout_784_to_10() {
    // §6.3: at μ = 0 and ρ = −3 every weight contributes −log σ + σ²/2 − ½ with
    // σ = eps32 + softplus(−3) = 0.04858746752142906, i.e. 2.5255699552893733; 7840 weights give
    // 19800.47. Summed in f32, so allow for rounding (7840 terms, relative 1e-6).
    let layer = DenseFlipout::<f32>::new(10).name("d");
    let (kl, n) = total_kl(&layer, 784, |s| {
        let loc = s.id("d/kernel_posterior_loc").unwrap();
        s.data_mut(loc).iter_mut().for_each(|v| *v = 0.0);
        let rho = s.id("d/kernel_posterior_untransformed_scale").unwrap();
        s.data_mut(rho).iter_mut().for_each(|v| *v = -3.0);
    });
    assert_eq!(n, 1, "kernel KL only: the default bias has no prior");
    assert!((kl - 7840.0 * 2.5255699552893733).abs() < 0.05, "{kl}");
    assert!((kl - 19800.47).abs() < 0.06, "{kl}");
}

/// Mean and standard deviation.
fn moments(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    (mean, (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

#[test]
fn initial_kernel_kl_at_random_init_is_within_its_spread() {
    // With loc ~ N(0, 0.1²) the expectation gains E[μ²]/2 = 0.005 per weight: 19839.67. The
    // spread is dominated by ρ ~ N(−3, 0.1²): Var(−log σ) ≈ 0.01·(σ'(ρ)/σ)² ≈ 0.0095 per weight,
    // so the sum's sd is sqrt(7840 · 0.0096) ≈ 8.7. (The second-order shift from ρ's spread is
    // 0.9 in total.) The spread says little about the loc init, so the initial values are checked
    // too: over 7840 draws, a mean's standard error is 0.1/√7840 = 0.0011 and a standard
    // deviation's 0.1/√(2·7840) = 0.0008; 4 SE each.
    let layer = DenseFlipout::<f32>::new(10).name("d");
    let mut closed_form = 0.0;
    let (kl, _) = total_kl(&layer, 784, |s| {
        let loc = s.get("d/kernel_posterior_loc").unwrap();
        let rho = s.get("d/kernel_posterior_untransformed_scale").unwrap();
        let ((m_mean, m_sd), (r_mean, r_sd)) = (moments(loc), moments(rho));
        assert!(m_mean.abs() < 0.0045 && (m_sd - 0.1).abs() < 0.0032, "loc mean {m_mean} sd {m_sd}");
        assert!((r_mean + 3.0).abs() < 0.0045 && (r_sd - 0.1).abs() < 0.0032, "rho mean {r_mean} sd {r_sd}");
        // KL(N(μ, σ²) ‖ N(0, 1)) = −log σ + (σ² + μ²)/2 − ½ per weight, σ = eps32 + softplus(ρ).
        closed_form = loc
            .iter()
            .zip(rho)
            .map(|(&m, &r)| {
                let sigma = f32::EPSILON as f64 + (r as f64).exp().ln_1p();
                -sigma.ln() + (sigma * sigma + (m as f64).powi(2)) / 2.0 - 0.5
            })
            .sum();
    });
    assert!((kl - 19839.67).abs() < 4.0 * 8.7, "{kl}");
    // Summed in f32 over 7840 terms.
    assert!((kl - closed_form).abs() < 1e-5 * closed_form, "{kl} vs {closed_form}");
}

#[test]
fn deterministic_bias_with_a_prior_is_a_map_penalty() {
    // §6.4: KL(Deterministic(b) ‖ N(0,1)) = −log N(b; 0, 1) = 0.9189385332046727 at b = 0 and
    // 0.9639385332046727 at b = 0.3; no kernel prior here, so only the bias term counts.
    let layer = DenseFlipout::<f64>::new(2)
        .name("d")
        .kernel_prior_fn(None)
        .bias_posterior_fn(Some(Arc::new(PointEstimate::default())))
        .bias_prior_fn(Some(Arc::new(NormalPrior::standard())));
    let (kl, n) = total_kl(&layer, 3, |s| {
        let b = s.id("d/bias_posterior_loc").unwrap();
        s.data_mut(b).copy_from_slice(&[0.0, 0.3]);
    });
    assert_eq!(n, 1);
    assert!((kl - (0.9189385332046727 + 0.9639385332046727)).abs() < 1e-12, "{kl}");
}

#[test]
fn kl_weight_scales_and_none_removes() {
    let base = DenseReparameterization::<f64>::new(3).name("d");
    let (k1, _) = total_kl(&base, 4, |_| {});
    let (k2, _) = total_kl(&base.clone().kl_weight(0.25), 4, |_| {});
    assert!((k2 - 0.25 * k1).abs() < 1e-12 * k1.abs());
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(42);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[4]);
    build_layer(&base.clone().kernel_divergence_fn(Divergence::None), x, &mut cx);
    assert!(cx.total_divergence().is_none());
    let y = build_layer(&Dense::<f64>::new(2).name("plain"), x, &mut cx);
    assert!(cx.total_divergence().is_none(), "deterministic layers register nothing");
    let _ = y;
}

#[test]
fn monte_carlo_divergence_is_taken_at_the_flipout_forward_draw() {
    // With μ = 0, row e_i of the input gives y[i, j] = b_j ± ΔW[i, j] (Flipout's signs only flip
    // it) and the zero row gives b, so |ΔW| can be read from the outputs. With μ = 0 the estimate
    // log q(w) − log p(w) = Σ log N(ΔW; 0, σ²) − log N(ΔW; 0, 1) depends on |ΔW| alone, so it
    // can be checked against the forward pass's own draw; another draw would not match.
    let (n_in, units) = (3, 2);
    let layer = DenseFlipout::<f64>::new(units).name("d").kernel_divergence_fn(Divergence::MonteCarlo);
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(42);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[n_in]);
    let y = build_layer(&layer, x, &mut cx);
    let kl = cx.total_divergence().unwrap();
    drop(cx);
    let loc = store.id("d/kernel_posterior_loc").unwrap();
    store.data_mut(loc).iter_mut().for_each(|v| *v = 0.0);
    let sigma: Vec<f64> = store
        .get("d/kernel_posterior_untransformed_scale")
        .unwrap()
        .iter()
        .map(|r| f64::EPSILON + r.exp().ln_1p())
        .collect();
    let mut rows = vec![0.0; (n_in + 1) * n_in];
    for i in 0..n_in {
        rows[i * n_in + i] = 1.0;
    }
    let log_normal = |v: f64, s: f64| -0.5 * (v / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    let mut s = Session::new(g.compile(&[y, kl]).unwrap(), 5);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let out = s.run(&store, &[("x", &rows)]).unwrap();
        let (y, kl) = (out.get(0), out.scalar(1));
        let bias = &y[n_in * units..];
        let want: f64 = (0..n_in * units)
            .map(|e| {
                let dw = y[e] - bias[e % units];
                log_normal(dw, sigma[e]) - log_normal(dw, 1.0)
            })
            .sum();
        assert!((kl - want).abs() < 1e-9 * want.abs(), "{kl} vs {want}");
        seen.push(kl);
    }
    assert!(seen[0] != seen[1] && seen[1] != seen[2], "each run draws afresh: {seen:?}");
}

#[test]
fn monte_carlo_divergence_averages_to_the_kl() {
    // The single-sample estimate log q(w) − log p(w) at the layer's own draw is unbiased: its
    // mean over runs approaches the analytic KL.
    let analytic = DenseFlipout::<f64>::new(3).name("d");
    let mc = analytic.clone().kernel_divergence_fn(Divergence::MonteCarlo);
    let (exact, _) = total_kl(&analytic, 5, |_| {});
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(42);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[5]);
    build_layer(&mc, x, &mut cx);
    let kl = cx.total_divergence().unwrap();
    drop(cx);
    let mut s = Session::new(g.compile(&[kl]).unwrap(), 3);
    let runs = 4000;
    let vals: Vec<f64> = (0..runs).map(|_| s.run(&store, &[]).unwrap().scalar(0)).collect();
    let mean = vals.iter().sum::<f64>() / runs as f64;
    let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (runs as f64 - 1.0)).sqrt();
    assert!((mean - exact).abs() < 4.0 * sd / (runs as f64).sqrt(), "mc {mean} vs exact {exact} (sd {sd})");
}

#[test]
fn elbo_divides_the_kl_by_the_number_of_examples_once() {
    let g = Graph::<f64>::new();
    let nll = g.constant_f64(&[1.0, 2.0, 3.0, 6.0], [4]);
    let kl = g.scalar(500.0);
    let loss = elbo_loss(nll, Some(kl), 1000);
    let mut s = Session::new(g.compile(&[loss]).unwrap(), 0);
    // mean nll 3 + 500 / 1000
    assert_eq!(s.run(&ParamStore::new(0), &[]).unwrap().scalar(0), 3.5);
}

#[test]
fn a_loc_only_trainable_prior_learns_its_loc_under_a_fixed_scale() {
    // μ_q = 0.3, ρ = −1, prior loc m = −0.2 and scale 2 for each of 2·3 weights:
    // KL = ln(2/σ) + (σ² + (0.3 + 0.2)²)/8 − ½ with σ = eps + softplus(−1).
    let layer =
        DenseFlipout::<f64>::new(3).name("d").kernel_prior_fn(Some(Arc::new(TrainableNormalPrior::loc_only(2.0))));
    let (kl, _) = total_kl(&layer, 2, |s| {
        assert!(s.get("d/kernel_prior_untransformed_scale").is_none(), "the scale is not a parameter");
        for (path, v) in [
            ("d/kernel_posterior_loc", 0.3),
            ("d/kernel_posterior_untransformed_scale", -1.0),
            ("d/kernel_prior_loc", -0.2),
        ] {
            let id = s.id(path).unwrap_or_else(|| panic!("{path}"));
            s.data_mut(id).iter_mut().for_each(|x| *x = v);
        }
    });
    let sigma = f64::EPSILON + (-1f64).exp().ln_1p();
    let want = 6.0 * ((2.0 / sigma).ln() + (sigma * sigma + 0.25) / 8.0 - 0.5);
    assert!((kl - want).abs() < 1e-12, "{kl} vs {want}");
}
