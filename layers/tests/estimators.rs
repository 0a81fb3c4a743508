//! Statistical and exact properties of the kernel estimators (reference §6.6–6.7).

use autodiff::prelude::*;
use layers::{
    build_layer, Dense, DenseFlipout, DenseLocalReparameterization, DenseReparameterization, Layer, LayerCx, Mode,
    TensorFn,
};

/// Sets a layer's kernel posterior to loc `mu` and scale `sigma` (ρ = softplus⁻¹(σ − eps)),
/// and its bias to `bias`.
fn set_posterior(store: &mut ParamStore<f64>, layer: &str, mu: &[f64], sigma: &[f64], bias: &[f64]) {
    let loc = store.id(&format!("{layer}/kernel_posterior_loc")).unwrap();
    store.data_mut(loc).copy_from_slice(mu);
    let rho = store.id(&format!("{layer}/kernel_posterior_untransformed_scale")).unwrap();
    for (r, s) in store.data_mut(rho).iter_mut().zip(sigma) {
        *r = (s - f64::EPSILON).exp_m1().ln();
    }
    let b = store.id(&format!("{layer}/bias_posterior_loc")).unwrap();
    store.data_mut(b).copy_from_slice(bias);
}

/// Outputs of `runs` stochastic passes of `layer` on `x` ([batch, in]).
fn passes(
    layer: &dyn Layer<f64>,
    x: &[f64],
    n_in: usize,
    mu: &[f64],
    sigma: &[f64],
    bias: &[f64],
    runs: u64,
) -> Vec<Vec<f64>> {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(1);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let xi = g.batched_input("x", &[n_in]);
    let y = build_layer(layer, xi, &mut cx);
    drop(cx);
    set_posterior(&mut store, layer.name(), mu, sigma, bias);
    let mut s =
        Session::with_options(g.compile(&[y]).unwrap(), 3, SessionOptions { threads: Some(1), check_finite: true });
    (0..runs).map(|k| s.run_at_step(k, &store, &[("x", x)]).unwrap()[0].to_vec()).collect()
}

fn mean_cov(samples: &[Vec<f64>], i: usize, j: usize) -> (f64, f64, f64) {
    let n = samples.len() as f64;
    let mi = samples.iter().map(|s| s[i]).sum::<f64>() / n;
    let mj = samples.iter().map(|s| s[j]).sum::<f64>() / n;
    let c = samples.iter().map(|s| (s[i] - mi) * (s[j] - mj)).sum::<f64>() / (n - 1.0);
    (mi, mj, c)
}

// Reference §6.7: x = [1, −2, 0.5] for two identical examples.
const X: [f64; 6] = [1.0, -2.0, 0.5, 1.0, -2.0, 0.5];
const MU: [f64; 6] = [0.3, -0.1, 0.2, 0.4, -0.5, 0.1];
const SIGMA: [f64; 6] = [0.1, 0.2, 0.3, 0.05, 0.2, 0.1];
const RUNS: u64 = 40_000;

/// Per-example mean `xμ` = [−0.35, −0.85] and variance `x²σ²` = [0.38, 0.0525]; the covariance of
/// the same unit across the two identical examples is 0 under Flipout and LRT but `Σ x² σ²`
/// (= 0.38 for unit 0) under reparameterization.
fn check_moments(layer: &dyn Layer<f64>, cross_cov_unit0: f64) {
    let s = passes(layer, &X, 3, &MU, &SIGMA, &[0.0, 0.0], RUNS);
    let n = RUNS as f64;
    for (unit, (mean, var)) in [(-0.35, 0.38), (-0.85, 0.0525)].into_iter().enumerate() {
        for ex in 0..2 {
            let k = ex * 2 + unit;
            let (m, _, v) = mean_cov(&s, k, k);
            // se(mean) = sqrt(var/n); se(var) ≈ var·sqrt(2/n) for a Gaussian
            assert!((m - mean).abs() < 4.0 * (var / n).sqrt(), "{}: mean of unit {unit}: {m} vs {mean}", layer.name());
            assert!(
                (v - var).abs() < 4.0 * var * (2.0 / n).sqrt(),
                "{}: var of unit {unit}: {v} vs {var}",
                layer.name()
            );
        }
    }
    let (_, _, c) = mean_cov(&s, 0, 2);
    // se of a sample covariance of two (possibly correlated) Gaussians with variance v: ≤ v·sqrt(2/n)
    let se = 0.38 * (2.0 / n).sqrt();
    assert!(
        (c - cross_cov_unit0).abs() < 4.0 * se,
        "{}: cross-example covariance {c} vs {cross_cov_unit0}",
        layer.name()
    );
}

#[test]
fn flipout_moments_and_zero_cross_covariance() {
    check_moments(&DenseFlipout::<f64>::new(2).name("f"), 0.0);
}

#[test]
fn reparameterization_moments_and_full_cross_covariance() {
    check_moments(&DenseReparameterization::<f64>::new(2).name("r"), 0.38);
}

#[test]
fn local_reparameterization_moments() {
    check_moments(&DenseLocalReparameterization::<f64>::new(2).name("l"), 0.0);
}

#[test]
fn local_reparameterization_reference_values() {
    // §6.6: x = [1, 2], μ = [[0.5], [−1]], σ = [[0.1], [0.2]]: mean −1.5, variance 0.17.
    let s = passes(
        &DenseLocalReparameterization::<f64>::new(1).name("l"),
        &[1.0, 2.0],
        2,
        &[0.5, -1.0],
        &[0.1, 0.2],
        &[0.0],
        RUNS,
    );
    let (m, _, v) = mean_cov(&s, 0, 0);
    let n = RUNS as f64;
    assert!((m + 1.5).abs() < 4.0 * (0.17 / n).sqrt(), "{m}");
    assert!((v - 0.17).abs() < 4.0 * 0.17 * (2.0 / n).sqrt(), "{v}");
}

#[test]
fn flipout_rows_are_sign_flipped_kernels() {
    // For fixed noise, row n equals x_n (μ + ΔW ∘ s_in[n] s_out[n]ᵀ): rebuild ΔW and the signs
    // from the same random leaves and compare with the layer's output.
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(5);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[3]);
    let layer = DenseFlipout::<f64>::new(2).name("f");
    let y = build_layer(&layer, x, &mut cx);
    drop(cx);
    let eps = g.find("f/flipout/eps").unwrap();
    let s_in = g.find("f/flipout/sign_input").unwrap();
    let s_out = g.find("f/flipout/sign_output").unwrap();
    let mut s = Session::new(g.compile(&[y, eps, s_in, s_out]).unwrap(), 11);
    let xs = [0.3, -1.0, 2.0, 1.5, 0.2, -0.7, -0.4, 0.9, 1.1];
    let o = s.run(&store, &[("x", &xs)]).unwrap();
    let mu = store.get("f/kernel_posterior_loc").unwrap();
    let rho = store.get("f/kernel_posterior_untransformed_scale").unwrap();
    let b = store.get("f/bias_posterior_loc").unwrap();
    for n in 0..3 {
        for j in 0..2 {
            let mut want = b[j];
            for i in 0..3 {
                let sigma = f64::EPSILON + rho[i * 2 + j].exp().ln_1p();
                let dw = sigma * o[1][i * 2 + j];
                want += xs[n * 3 + i] * (mu[i * 2 + j] + dw * o[2][n * 3 + i] * o[3][n * 2 + j]);
            }
            assert!((o[0][n * 2 + j] - want).abs() < 1e-12, "row {n} unit {j}");
        }
    }
}

#[test]
fn every_estimator_equals_the_dense_layer_as_sigma_vanishes() {
    let x = [0.3, -1.0, 2.0, 1.5, 0.2, -0.7];
    let mu = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6];
    let tiny = [1e-12; 6];
    let bias = [0.05, -0.05];
    // The deterministic answer x @ μ + b, by hand.
    let want: Vec<f64> = (0..2)
        .flat_map(|n| (0..2).map(move |j| bias[j] + (0..3).map(|i| x[n * 3 + i] * mu[i * 2 + j]).sum::<f64>()))
        .collect();
    let layers: Vec<Box<dyn Layer<f64>>> = vec![
        Box::new(DenseFlipout::<f64>::new(2).name("a")),
        Box::new(DenseReparameterization::<f64>::new(2).name("b")),
        Box::new(DenseLocalReparameterization::<f64>::new(2).name("c")),
    ];
    for l in &layers {
        let out = passes(l.as_ref(), &x, 3, &mu, &tiny, &bias, 3);
        for o in out {
            for (a, b) in o.iter().zip(&want) {
                assert!((a - b).abs() < 1e-9, "{}: {a} vs {b}", l.name());
            }
        }
    }
    // The deterministic layer with kernel μ and bias b gives the same answer.
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let xi = g.batched_input("x", &[3]);
    let y = build_layer(&Dense::<f64>::new(2).name("dense"), xi, &mut cx);
    drop(cx);
    store.data_mut(store.id("dense/kernel").unwrap()).copy_from_slice(&mu);
    store.data_mut(store.id("dense/bias").unwrap()).copy_from_slice(&bias);
    let dense = Session::new(g.compile(&[y]).unwrap(), 0).run(&store, &[("x", &x)]).unwrap()[0].to_vec();
    for (a, b) in dense.iter().zip(&want) {
        assert!((a - b).abs() < 1e-12, "Dense: {a} vs {b}");
    }
    // Mean mode, and a kernel tensor function of the mean, equal the deterministic layer
    // whatever sigma is, for every estimator.
    let mean_fn = || TensorFn::<f64>::Mean;
    let layers: Vec<(Box<dyn Layer<f64>>, Mode)> = vec![
        (Box::new(DenseFlipout::<f64>::new(2).name("a")), Mode::Mean),
        (Box::new(DenseReparameterization::<f64>::new(2).name("b")), Mode::Mean),
        (Box::new(DenseLocalReparameterization::<f64>::new(2).name("c")), Mode::Mean),
        (Box::new(DenseFlipout::<f64>::new(2).name("d").kernel_posterior_tensor_fn(mean_fn())), Mode::Sample),
        (
            Box::new(DenseReparameterization::<f64>::new(2).name("e").kernel_posterior_tensor_fn(mean_fn())),
            Mode::Sample,
        ),
    ];
    for (l, mode) in &layers {
        let g = Graph::<f64>::new();
        let mut store = ParamStore::new(0);
        let mut cx = LayerCx::new(&g, &mut store, *mode);
        let xi = g.batched_input("x", &[3]);
        let y = build_layer(l.as_ref(), xi, &mut cx);
        drop(cx);
        set_posterior(&mut store, l.name(), &mu, &[0.5; 6], &bias);
        let mut s = Session::new(g.compile(&[y]).unwrap(), 0);
        let o = s.run(&store, &[("x", &x)]).unwrap();
        for (a, b) in o[0].iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{} in {mode:?}: {a} vs {b}", l.name());
        }
    }
}
