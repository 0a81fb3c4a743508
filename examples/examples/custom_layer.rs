//! Extending the library with your own variational layer, end to end.
//!
//! The layer is [`NoisyGate`] (`examples/src/noisy_gate.rs`): a per-feature multiplicative gate
//! with a mean-field Normal posterior, a zero-mean Normal prior and its KL registered as a
//! divergence, written against the public `Layer` / `LayerCx` API only. It lives in the
//! examples' library rather than in this file so that `examples/tests/custom_layer.rs` can test
//! it too; read it first, it is short.
//!
//! This program then does what you would do with a layer of your own:
//!
//! 1. **Gradient check** with `layers::testing::check_layer_grads` (needs the `testing` feature
//!    of `layers`): the output and the registered KL, differentiated with respect to the input
//!    and every parameter, to second order, against central differences in `f64` with the noise
//!    frozen. Once at the default initialisation, once at random parameter values with a
//!    non-default prior and KL weight.
//! 2. **Training** in a `Model`, mixed with the library's layers:
//!    `NoisyGate → DenseFlipout(16, tanh) → DenseFlipout(1)`, on a toy regression where only 3
//!    of 8 input features matter, `y = sin(2x₀) + 0.8x₁ − 0.5x₂² + 0.2ε` (2,048 training and 512
//!    test examples). The ELBO comes for free: `Model::fit` collects the gate's KL with the
//!    Flipout layers'.
//! 3. **Reading the posterior**: each gate's signal-to-noise ratio `|μ|/σ`. The gates of the
//!    five irrelevant features are switched off (`μ` within a few `σ` of zero), those of the
//!    three relevant ones are far from zero: automatic relevance determination. (The irrelevant
//!    gates do not widen back to the prior: their `σ` stays small because gate noise would pass
//!    through the next layer's weights, whose own prior keeps them from vanishing.) A bar chart of
//!    the ratios (log scale) goes to `target/custom_layer_gates.svg`.
//!
//! Ends with `RESULT gradcheck=pass train_nll=... test_rmse=... snr_relevant_min=...
//! snr_irrelevant_max=...`; a failed gradient check exits with status 1.
//!
//! Run: `cargo run --release -p examples --example custom_layer` (`--quick` for a smoke test).

use std::f64::consts::PI;

use autodiff::optim::Adam;
use autodiff::rng::CounterRng;
use autodiff::Init;
use examples::noisy_gate::NoisyGate;
use examples::{result_line, Args};
use indicatif::{ProgressBar, ProgressStyle};
use layers::testing::check_layer_grads;
use layers::{Activation, Dataset, DenseFlipout, FitOptions, Likelihood, Model, Sequential};
use plotters::prelude::*;

const FEATURES: usize = 8;
const RELEVANT: usize = 3;

fn gradient_checks(seed: u64) -> Result<(), String> {
    // Default initialisation: μ = 1, ρ = −3 for every gate.
    check_layer_grads(&NoisyGate::new().name("gate"), &[5], 4, seed, 2)?;
    // Random, distinct parameter values and the non-default prior and KL weight paths.
    let varied = NoisyGate::new()
        .name("gate_varied")
        .loc_init(Init::Normal { mean: 0.5, std: 0.5 })
        .untransformed_scale_init(Init::Normal { mean: -1.0, std: 0.5 })
        .prior_scale(0.5)
        .kl_weight(0.3);
    check_layer_grads(&varied, &[3], 5, seed + 1, 2)
}

/// `n` examples of the toy problem, drawn from `rng`.
fn toy_data(n: usize, rng: &mut CounterRng) -> Dataset<f32> {
    let mut normal = || (-2.0 * rng.uniform_open0().ln()).sqrt() * (2.0 * PI * rng.uniform()).cos();
    let (mut x, mut y) = (Vec::with_capacity(n * FEATURES), Vec::with_capacity(n));
    for _ in 0..n {
        let row: Vec<f64> = (0..FEATURES).map(|_| normal()).collect();
        let target = (2.0 * row[0]).sin() + 0.8 * row[1] - 0.5 * row[2] * row[2] + 0.2 * normal();
        x.extend(row.iter().map(|&v| v as f32));
        y.push(target as f32);
    }
    Dataset::new(x, &[FEATURES], y, &[1]).expect("consistent data")
}

struct Gate {
    loc: f64,
    scale: f64,
}

impl Gate {
    fn snr(&self) -> f64 {
        self.loc.abs() / self.scale
    }
}

fn main() {
    let args = Args::parse("custom_layer");

    let gradcheck = gradient_checks(args.seed);
    match &gradcheck {
        Ok(()) => println!("gradient check (output and KL, w.r.t. input and parameters, 2nd order): pass"),
        Err(e) => println!("gradient check: FAIL: {e}"),
    }

    let mut rng = CounterRng::new(args.seed ^ 0x6a7e);
    let (train, test) = (toy_data(2048, &mut rng), toy_data(512, &mut rng));
    let net = Sequential::new()
        .name("model")
        .add(NoisyGate::new().name("gate"))
        .add(DenseFlipout::new(16).activation(Activation::Tanh))
        .add(DenseFlipout::new(1));
    let mut model = Model::new(net, &[FEATURES], Likelihood::NormalLearnedScale { init_scale: 1.0 }, args.seed)
        .expect("model builds");
    let epochs = if args.quick { 10 } else { 300 };
    let opts = FitOptions { epochs, batch_size: 64, shuffle: true, seed: args.seed, threads: Some(1) };
    let pb = ProgressBar::new(epochs as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:30}] {pos}/{len} epochs {wide_msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    let history = model
        .fit(&train, &opts, &mut Adam::new(0.01), |s| {
            pb.inc(1);
            pb.set_message(format!("-elbo/N {:.3}  nll {:.3}  kl {:.1}", s.loss, s.nll, s.kl));
        })
        .expect("training runs");
    pb.finish();
    let last = history.last().expect("at least one epoch");

    let samples = if args.quick { 20 } else { 200 };
    let pred = model.predict_mc(&test.x, samples, args.seed ^ 0xdead).expect("prediction runs");
    let test_rmse =
        (pred.mean.iter().zip(&test.y).map(|(m, &y)| (m - y as f64).powi(2)).sum::<f64>() / test.len() as f64).sqrt();

    let store = model.store();
    let loc = store.get("model/gate/gate_loc").expect("the gate has means");
    let rho = store.get("model/gate/gate_untransformed_scale").expect("the gate has scales");
    // σ = eps + softplus(ρ), as the layer computes it.
    let gates: Vec<Gate> = loc
        .iter()
        .zip(rho)
        .map(|(&m, &r)| Gate { loc: m as f64, scale: f64::from(f32::EPSILON) + (r as f64).exp().ln_1p() })
        .collect();

    println!();
    println!("{:<10} {:>9} {:>10} {:>10} {:>9}", "feature", "relevant", "gate μ", "gate σ", "|μ|/σ");
    for (i, g) in gates.iter().enumerate() {
        let relevant = if i < RELEVANT { "yes" } else { "no" };
        println!("{:<10} {relevant:>9} {:>10.3} {:>10.3} {:>9.2}", format!("x{i}"), g.loc, g.scale, g.snr());
    }
    let snr_relevant_min = gates[..RELEVANT].iter().map(Gate::snr).fold(f64::INFINITY, f64::min);
    let snr_irrelevant_max = gates[RELEVANT..].iter().map(Gate::snr).fold(0.0, f64::max);
    println!();
    println!("{:<44} {:>10.3}", "train NLL per example, last epoch (nats)", last.nll);
    println!("{:<44} {:>10.3}", "KL of all layers at the last step (nats)", last.kl);
    println!("{:<44} {:>10.3}", "test RMSE of the MC predictive mean", test_rmse);
    println!("{:<44} {:>10.3}", "test RMSE of the best possible predictor", 0.2);
    println!("{:<44} {:>10.2}", "smallest |μ|/σ of a relevant gate", snr_relevant_min);
    println!("{:<44} {:>10.2}", "largest |μ|/σ of an irrelevant gate", snr_irrelevant_max);
    plot(&gates).expect("plot writes");
    println!("plot: target/custom_layer_gates.svg");

    let figures = result_line(&[
        ("train_nll", last.nll),
        ("test_rmse", test_rmse),
        ("snr_relevant_min", snr_relevant_min),
        ("snr_irrelevant_max", snr_irrelevant_max),
    ]);
    let status = if gradcheck.is_ok() { "pass" } else { "fail" };
    println!("RESULT gradcheck={status}{}", figures.trim_start_matches("RESULT"));
    if gradcheck.is_err() {
        std::process::exit(1);
    }
}

fn plot(gates: &[Gate]) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("target")?;
    let root = SVGBackend::new("target/custom_layer_gates.svg", (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let snr: Vec<f64> = gates.iter().map(Gate::snr).collect();
    let lo = snr.iter().copied().fold(1.0, f64::min) / 2.0;
    let hi = snr.iter().copied().fold(10.0, f64::max) * 2.0;
    let n = gates.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("NoisyGate after training: signal-to-noise ratio |μ|/σ of each gate", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5f64..(n - 0.5), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(gates.len())
        .x_label_formatter(&|v| format!("x{}", v.round() as i64))
        .x_desc("input feature")
        .y_desc("|μ| / σ")
        .draw()?;
    for (i, &r) in snr.iter().enumerate() {
        let (color, label) = if i < RELEVANT { (BLUE, "relevant") } else { (RED, "irrelevant") };
        let x = i as f64;
        let bar = chart
            .draw_series(std::iter::once(Rectangle::new([(x - 0.3, lo), (x + 0.3, r)], color.mix(0.7).filled())))?;
        // One legend entry per kind.
        if i == 0 || i == RELEVANT {
            bar.label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.mix(0.7).filled()));
        }
    }
    // Below about 2, a gate's mean is within two posterior standard deviations of zero.
    chart
        .draw_series(std::iter::once(PathElement::new([(-0.5, 2.0), (n - 0.5, 2.0)], BLACK.mix(0.5))))?
        .label("|μ| = 2σ")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLACK.mix(0.5)));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
