//! Gradient checks through every layer, with the noise frozen, w.r.t. inputs and parameters.

use std::sync::Arc;

use autodiff::ops::stop_gradient;
use autodiff::prelude::{Init, Tensor};
use layers::testing::check_layer_grads;
use layers::{
    Activation, Dense, DenseFlipout, DenseLocalReparameterization, DenseReparameterization, DenseVariational,
    Divergence, Layer, LayerCx, MeanFieldNormal, MvnTriLPosterior, NormalPrior, Sequential, TrainableNormalPrior,
};

#[test]
fn dense_flipout_grads() {
    check_layer_grads(&DenseFlipout::<f64>::new(3).name("f").activation(Activation::Tanh), &[4], 3, 1, 2).unwrap();
}

#[test]
fn dense_reparameterization_grads() {
    check_layer_grads(&DenseReparameterization::<f64>::new(3).name("r"), &[4], 3, 2, 2).unwrap();
}

#[test]
fn dense_local_reparameterization_grads() {
    check_layer_grads(&DenseLocalReparameterization::<f64>::new(2).name("l"), &[3], 3, 3, 1).unwrap();
}

#[test]
fn monte_carlo_and_trainable_prior_grads() {
    let layer = DenseFlipout::<f64>::new(2)
        .name("m")
        .kernel_prior_fn(Some(Arc::new(TrainableNormalPrior::default())))
        .kernel_divergence_fn(Divergence::MonteCarlo);
    check_layer_grads(&layer, &[3], 2, 4, 1).unwrap();
}

#[test]
fn dense_variational_grads_mean_field_and_full_covariance() {
    let mf = DenseVariational::<f64>::new(2, MeanFieldNormal::default(), NormalPrior::standard()).name("v");
    check_layer_grads(&mf, &[2], 3, 5, 1).unwrap();
    let full = DenseVariational::<f64>::new(1, MvnTriLPosterior::default(), NormalPrior::standard())
        .name("w")
        .kl_use_exact(true);
    check_layer_grads(&full, &[2], 3, 6, 1).unwrap();
}

#[test]
fn mixed_sequential_grads() {
    let net = Sequential::<f64>::new()
        .add(Dense::new(3).activation(Activation::Relu))
        .add(DenseFlipout::new(2).activation(Activation::Softplus));
    check_layer_grads(&net, &[2], 4, 7, 1).unwrap();
}

#[test]
fn local_reparameterization_has_exact_gradients_at_zero_inputs() {
    use autodiff::prelude::*;
    use layers::{build_layer, LayerCx, Mode};
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[3]);
    let y = build_layer(&DenseLocalReparameterization::<f64>::new(2).name("l"), x, &mut cx);
    let params: Vec<_> = cx.params().iter().map(|p| p.1).collect();
    drop(cx);
    let mut xs = params.clone();
    xs.push(x);
    let gs = grad(y.sum_all(), &xs);
    let mut s = Session::new(g.compile(&gs).unwrap(), 0);
    // An all-zero row (as after a ReLU) next to a regular one.
    let out = s.run(&store, &[("x", &[0.0, 0.0, 0.0, 1.0, -2.0, 0.5])]).unwrap();
    for i in 0..out.len() {
        assert!(out[i].iter().all(|v| v.is_finite()), "gradient {i} is not finite: {:?}", &out[i]);
    }
    // The noise term's standard deviation sqrt(x²σ² + eps²) is smooth at x = 0 with derivative 0
    // there (TFP's sqrt(x²σ²) has none: NaN), so the zero row's input gradient is that of x·μ
    // alone: Σ_j μ[i, j].
    let mu = store.get("l/kernel_posterior_loc").unwrap();
    let gx = out.get(out.len() - 1);
    for i in 0..3 {
        let want = mu[i * 2] + mu[i * 2 + 1];
        assert!((gx[i] - want).abs() < 1e-12, "input {i}: {} vs {want}", gx[i]);
    }
}

/// A layer whose author cut its weight's gradient by mistake.
struct CutGradient;

impl Layer<f64> for CutGradient {
    fn name(&self) -> &str {
        "cut"
    }
    fn forward<'g>(&self, x: Tensor<'g, f64>, cx: &mut LayerCx<'g, '_, f64>) -> Tensor<'g, f64> {
        let w = cx.param("w", &[3], Init::Normal { mean: 1.0, std: 0.5 }, true);
        x * stop_gradient(w)
    }
}

#[test]
fn a_layer_with_a_wrong_gradient_fails_its_check_naming_the_parameter() {
    let e = check_layer_grads(&CutGradient, &[3], 2, 1, 1).unwrap_err();
    assert!(e.contains("cut output: d/dx1[") && e.contains("x1 = cut/w"), "{e}");
}
