//! The custom-layer example's `NoisyGate`, tested as you would test a layer of your own:
//! gradients, closed forms, and the statistics of its noise.

use autodiff::prelude::*;
use examples::noisy_gate::NoisyGate;
use layers::testing::check_layer_grads;
use layers::{build_layer, LayerCx, Mode};

#[test]
fn gradients_of_output_and_kl_match_finite_differences() {
    check_layer_grads(&NoisyGate::new().name("gate"), &[5], 4, 1, 2).unwrap();
    let varied = NoisyGate::new()
        .name("gate_varied")
        .loc_init(Init::Normal { mean: 0.5, std: 0.5 })
        .untransformed_scale_init(Init::Normal { mean: -1.0, std: 0.5 })
        .prior_scale(0.5)
        .kl_weight(0.3);
    check_layer_grads(&varied, &[3], 5, 2, 2).unwrap();
}

/// Builds `layer` on `[B, 3]` inputs and compiles `[output, total divergence]`.
fn plan(layer: &NoisyGate, mode: Mode) -> (Plan<f64>, ParamStore<f64>) {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, mode);
    let x = g.batched_input("x", &[3]);
    let y = build_layer(layer, x, &mut cx);
    let kl = cx.total_divergence().expect("the gate registers its KL");
    drop(cx);
    (g.compile(&[y, kl]).unwrap(), store)
}

#[test]
fn mean_network_and_kl_match_closed_forms() {
    let layer = NoisyGate::new().name("gate").loc_init(Init::Constant(0.5)).prior_scale(2.0).kl_weight(1.5);
    let (plan, store) = plan(&layer, Mode::Mean);
    let mut s = Session::new(plan, 0);
    let out = s.run(&store, &[("x", &[1.0, -2.0, 4.0])]).unwrap();
    assert_eq!(out[0], [0.5, -1.0, 2.0], "the mean network multiplies by μ = 0.5");
    // σ = softplus(−3) = ln(1 + e⁻³) = 0.04858735157374206, μ = 0.5, s = 2; per gate
    // KL = ln(s/σ) + (σ² + μ²)/(2s²) − ½ = 3.717539218192342 + 0.031545091353618 − 0.5
    //    = 3.2490843095339605; three gates, times kl_weight 1.5: 14.620879392902822.
    let kl = out.scalar(1);
    assert!((kl - 14.620879392902822).abs() < 1e-12, "KL {kl}");
}

#[test]
fn every_example_draws_its_own_gates() {
    // σ = softplus(0) = ln 2, μ = 0.5: y[n, i] = x_i (μ + σ ε[n, i]).
    let layer = NoisyGate::new().name("gate").loc_init(Init::Constant(0.5)).untransformed_scale_init(Init::Zeros);
    let (plan, store) = plan(&layer, Mode::Sample);
    let mut s = Session::new(plan, 7);
    let b = 4000;
    let x_row = [1.0, -2.0, 0.5];
    let x: Vec<f64> = x_row.iter().copied().cycle().take(3 * b).collect();
    let y = s.run_at_step(0, &store, &[("x", &x)]).unwrap()[0].to_vec();
    let sigma = std::f64::consts::LN_2;
    let n = b as f64;
    for (i, &xi) in x_row.iter().enumerate() {
        let col: Vec<f64> = y.iter().skip(i).step_by(3).copied().collect();
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let want_var = (xi * sigma).powi(2);
        // 4 standard errors: of the mean, |x|σ/√n; of the sample variance, x²σ²·√(2/(n−1)).
        assert!((mean - 0.5 * xi).abs() < 4.0 * xi.abs() * sigma / n.sqrt(), "feature {i}: mean {mean}");
        assert!((var - want_var).abs() < 4.0 * want_var * (2.0 / (n - 1.0)).sqrt(), "feature {i}: variance {var}");
    }
    // Noise is replayed by step and fresh across steps.
    assert_eq!(s.run_at_step(0, &store, &[("x", &x)]).unwrap()[0], y[..]);
    assert_ne!(s.run_at_step(1, &store, &[("x", &x)]).unwrap()[0], y[..]);
}

#[test]
fn wrong_input_rank_is_a_graph_error_naming_the_layer() {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.input("x", [2, 3, 4]);
    build_layer(&NoisyGate::new().name("gate"), x, &mut cx);
    drop(cx);
    let err = g.check().unwrap_err().to_string();
    assert!(err.contains("NoisyGate (gate)") && err.contains("[batch, features]"), "{err}");
}
