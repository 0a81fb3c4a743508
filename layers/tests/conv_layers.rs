//! Convolutional variational layers: the per-example Flipout identity, the σ → 0 limit, the
//! initial KL, output shapes and gradient checks.

use autodiff::prelude::*;
use layers::testing::check_layer_grads;
use layers::{
    build_layer, Conv, Conv1DFlipout, Conv2DFlipout, Conv2DReparameterization, Conv3DFlipout, Layer, LayerCx, Mode,
};

fn build(layer: &dyn Layer<f64>, in_dims: &[usize], seed: u64) -> (Graph<f64>, ParamStore<f64>) {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(seed);
    {
        let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
        let x = g.batched_input("x", in_dims);
        let y = build_layer(layer, x, &mut cx);
        let _ = y.named("y");
    }
    (g, store)
}

fn input(n: usize) -> Vec<f64> {
    (0..n).map(|i| ((i * 37 % 23) as f64) / 11.0 - 1.0).collect()
}

#[test]
fn conv2d_flipout_rows_are_convolutions_with_sign_flipped_kernels() {
    // y_b = conv(x_b, μ + ΔW ∘ (s_in[b] ⊗ s_out[b])) + bias, signs constant over space.
    let layer = Conv2DFlipout::<f64>::conv2d(3, [2, 2]).name("c");
    let (g, store) = build(&layer, &[4, 4, 2], 3);
    let y = g.find("y").unwrap();
    let eps = g.find("c/flipout/eps").unwrap();
    let s_in = g.find("c/flipout/sign_input").unwrap();
    let s_out = g.find("c/flipout/sign_output").unwrap();
    assert_eq!(s_in.shape(), Shape::new([Dim::Batch, 1.into(), 1.into(), 2.into()]));
    assert_eq!(s_out.shape(), Shape::new([Dim::Batch, 1.into(), 1.into(), 3.into()]));
    let mut s = Session::new(g.compile(&[y, eps, s_in, s_out]).unwrap(), 5);
    let xs = input(2 * 16 * 2);
    let o = s.run(&store, &[("x", &xs)]).unwrap();
    let mu = store.get("c/kernel_posterior_loc").unwrap();
    let rho = store.get("c/kernel_posterior_untransformed_scale").unwrap();
    let bias = store.get("c/bias_posterior_loc").unwrap();
    // kernel index [kh, kw, ci, co] = ((kh*2 + kw)*2 + ci)*3 + co; output 3×3 (valid)
    for b in 0..2 {
        for oh in 0..3 {
            for ow in 0..3 {
                for co in 0..3 {
                    let mut want = bias[co];
                    for kh in 0..2 {
                        for kw in 0..2 {
                            for ci in 0..2 {
                                let k = ((kh * 2 + kw) * 2 + ci) * 3 + co;
                                let sigma = f64::EPSILON + rho[k].exp().ln_1p();
                                let w = mu[k] + sigma * o[1][k] * o[2][b * 2 + ci] * o[3][b * 3 + co];
                                want += xs[((b * 4 + oh + kh) * 4 + ow + kw) * 2 + ci] * w;
                            }
                        }
                    }
                    let got = o[0][((b * 3 + oh) * 3 + ow) * 3 + co];
                    assert!((got - want).abs() < 1e-12, "b {b} ({oh},{ow}) co {co}: {got} vs {want}");
                }
            }
        }
    }
}

#[test]
fn conv_layers_equal_the_deterministic_conv_as_sigma_vanishes() {
    for (layer, name) in [
        (
            Box::new(Conv2DFlipout::<f64>::conv2d(2, [3, 3]).name("v").padding(Padding::Same)) as Box<dyn Layer<f64>>,
            "v",
        ),
        (Box::new(Conv2DReparameterization::<f64>::conv2d(2, [3, 3]).name("v").padding(Padding::Same)), "v"),
    ] {
        let (g, mut store) = build(layer.as_ref(), &[5, 5, 1], 8);
        let rho = store.id(&format!("{name}/kernel_posterior_untransformed_scale")).unwrap();
        store.data_mut(rho).iter_mut().for_each(|r| *r = -60.0); // σ = eps + e^-60
        let mu: Vec<f64> = store.get(&format!("{name}/kernel_posterior_loc")).unwrap().to_vec();
        let b: Vec<f64> = store.get(&format!("{name}/bias_posterior_loc")).unwrap().to_vec();
        let y = g.find("y").unwrap();
        let mut s = Session::new(g.compile(&[y]).unwrap(), 1);
        let xs = input(2 * 25);
        let got = s.run(&store, &[("x", &xs)]).unwrap()[0].to_vec();
        // The deterministic conv with kernel μ and the same bias.
        let g2 = Graph::<f64>::new();
        let x = g2.batched_input("x", &[5, 5, 1]);
        let k = g2.constant(mu.clone(), [3, 3, 1, 2]);
        let want_t =
            conv2d(x, k, &[1, 1], Padding::Same, &[1, 1], DataFormat::ChannelsLast) + g2.constant(b.clone(), [2]);
        let mut s2 = Session::new(g2.compile(&[want_t]).unwrap(), 0);
        let want = s2.run(&ParamStore::new(0), &[("x", &xs)]).unwrap()[0].to_vec();
        for (a, w) in got.iter().zip(&want) {
            assert!((a - w).abs() < 1e-9, "{a} vs {w}");
        }
    }
}

#[test]
fn initial_conv_kl_matches_the_closed_form() {
    // KL(N(μ, σ) ‖ N(0, 1)) summed over the [5, 5, 1, 32] kernel at the initial values:
    // Σ −log σ + (σ² + μ²)/2 − ½, computed here by hand from the stored parameters.
    let layer = Conv2DFlipout::<f64>::conv2d(32, [5, 5]).name("k");
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(4);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[28, 28, 1]);
    build_layer(&layer, x, &mut cx);
    let kl = cx.total_divergence().unwrap();
    drop(cx);
    let mut s = Session::new(g.compile(&[kl]).unwrap(), 0);
    let got = s.run(&store, &[]).unwrap().scalar(0);
    let mu = store.get("k/kernel_posterior_loc").unwrap();
    let rho = store.get("k/kernel_posterior_untransformed_scale").unwrap();
    let want: f64 = mu
        .iter()
        .zip(rho)
        .map(|(m, r)| {
            let s = f64::EPSILON + r.exp().ln_1p();
            -s.ln() + (s * s + m * m) / 2.0 - 0.5
        })
        .sum();
    assert_eq!(mu.len(), 800);
    assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
    // In expectation over the init (ρ ~ N(−3, 0.1²), μ ~ N(0, 0.1²)) a weight contributes
    // 2.52557 at ρ = −3, + E[μ²]/2 = 0.005, + 0.0001 from ρ's spread: 2.5307, with sd 0.098 per
    // weight, so the mean over 800 weights has standard error 0.0035; 4 SE.
    assert!((want / 800.0 - 2.5307).abs() < 0.014, "per weight {} at init", want / 800.0);
}

/// Per-example input dims, the layer, and the expected output shape.
type ShapeCase = (Vec<usize>, Box<dyn Layer<f64>>, Shape);

#[test]
fn output_shapes_follow_tf() {
    // (input, layer) → output per TF: valid 28-5+1 = 24; same stride 2 → ceil(28/2) = 14;
    // dilation 2: k_eff = 5 → 28-5+1 = 24; 1-D valid 10-3+1 = 8; 3-D same 4×4×4.
    let cases: Vec<ShapeCase> = vec![
        (
            vec![28, 28, 1],
            Box::new(Conv2DFlipout::conv2d(4, [5, 5])),
            Shape::new([Dim::Batch, 24.into(), 24.into(), 4.into()]),
        ),
        (
            vec![28, 28, 1],
            Box::new(Conv2DFlipout::conv2d(4, [5, 5]).padding(Padding::Same).strides(&[2, 2])),
            Shape::new([Dim::Batch, 14.into(), 14.into(), 4.into()]),
        ),
        (
            vec![28, 28, 1],
            Box::new(Conv2DFlipout::conv2d(4, [3, 3]).dilation_rate(&[2, 2])),
            Shape::new([Dim::Batch, 24.into(), 24.into(), 4.into()]),
        ),
        (vec![10, 3], Box::new(Conv1DFlipout::conv1d(6, 3)), Shape::new([Dim::Batch, 8.into(), 6.into()])),
        (
            vec![4, 4, 4, 2],
            Box::new(Conv3DFlipout::conv3d(3, [3, 3, 3]).padding(Padding::Same)),
            Shape::new([Dim::Batch, 4.into(), 4.into(), 4.into(), 3.into()]),
        ),
        (
            vec![3, 8, 8],
            Box::new(Conv2DFlipout::conv2d(5, [3, 3]).data_format(DataFormat::ChannelsFirst)),
            Shape::new([Dim::Batch, 5.into(), 6.into(), 6.into()]),
        ),
    ];
    for (dims, layer, want) in cases {
        let (g, _) = build(layer.as_ref(), &dims, 0);
        g.check().unwrap();
        assert_eq!(g.find("y").unwrap().shape(), want);
    }
}

#[test]
fn conv_layer_errors_name_the_layer_and_shapes() {
    let (g, _) = build(&Conv2DFlipout::<f64>::conv2d(4, [3, 3]).name("bad"), &[28, 28], 0);
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("Conv2DFlipout (bad)") && e.contains("rank 4") && e.contains("[B, 28, 28]"), "{e}");
    // A kernel larger than the input, or strides of the wrong length: an error, not a panic,
    // for every estimator.
    let big = Conv2DFlipout::<f64>::conv2d(8, [5, 5]).name("big");
    let strides = Conv2DFlipout::<f64>::conv2d(8, [2, 2]).strides(&[2]).name("strides");
    let reparameterized = Conv2DReparameterization::<f64>::conv2d(8, [5, 5]).name("big");
    for layer in [&big as &dyn Layer<f64>, &strides, &reparameterized] {
        let (g, _) = build(layer, &[3, 3, 1], 0);
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("[B, 3, 3, 1]"), "{e}");
    }
}

#[test]
fn conv_layer_gradients() {
    check_layer_grads(&Conv1DFlipout::<f64>::conv1d(2, 3).name("c1"), &[6, 2], 2, 1, 1).unwrap();
    check_layer_grads(&Conv2DFlipout::<f64>::conv2d(2, [2, 2]).name("c2").padding(Padding::Same), &[3, 3, 1], 2, 2, 1)
        .unwrap();
    check_layer_grads(&Conv2DReparameterization::<f64>::conv2d(2, [2, 2]).name("r2"), &[3, 3, 2], 2, 3, 1).unwrap();
    check_layer_grads(
        &Conv2DFlipout::<f64>::conv2d(2, [2, 2]).name("cf").data_format(DataFormat::ChannelsFirst),
        &[2, 3, 3],
        2,
        4,
        1,
    )
    .unwrap();
    check_layer_grads(&Conv::<f64>::conv2d(2, [2, 2]).name("det"), &[3, 3, 1], 2, 5, 1).unwrap();
}
