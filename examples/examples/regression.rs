//! Bayesian regression with DenseFlipout: the main job.
//!
//! 1. The diabetes data (442 patients, 10 features): a Bayesian MLP trained by maximising the
//!    ELBO, evaluated on a held-out 20% in the target's original units: RMSE, the predictive
//!    log-likelihood, and the coverage of 90% predictive intervals. The trained parameters and
//!    the optimizer's state are saved to `target/regression_diabetes.safetensors` (a plain
//!    safetensors file) and the evaluation runs on a fresh model loaded from it.
//! 2. A 1-D heteroscedastic toy problem, with data on [−3, −1] and [1, 3] and noise growing
//!    with |x|. The plot (`target/regression_toy.svg`) shows the predictive mean, the total
//!    predictive band, and the model's own (epistemic) band: the spread of the Monte-Carlo
//!    means, which the data noise does not enter. The table compares that spread on the data,
//!    in the gap between the clusters and beyond them: it grows far beyond the data, but not in
//!    the gap, where the mean-field posterior is as sure as on the data (the known "in-between"
//!    failure of mean-field variational inference, Foong et al. 2019).
//!
//! Run: `cargo run --release -p examples --example regression` (`--quick` for a smoke test).

use std::f64::consts::PI;

use autodiff::optim::Adam;
use examples::{column_stats, diabetes, result_line, Args};
use indicatif::{ProgressBar, ProgressStyle};
use layers::{Activation, Dataset, DenseFlipout, FitOptions, Likelihood, Model, Sequential};
use plotters::prelude::*;

const Z90: f64 = 1.6448536269514722; // Φ⁻¹(0.95)

fn progress(epochs: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(epochs as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:30}] {pos}/{len} epochs {wide_msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn mlp(hidden: usize, outputs: usize) -> Sequential<f32> {
    Sequential::new()
        .name("bnn")
        .add(DenseFlipout::new(hidden).activation(Activation::Relu))
        .add(DenseFlipout::new(outputs))
}

struct Metrics {
    rmse: f64,
    nll: f64,
    coverage90: f64,
    mean_std: f64,
}

fn diabetes_experiment(args: &Args) -> Metrics {
    let (xs, ys) = diabetes();
    // Split first, then standardise with training statistics only.
    let n = xs.len();
    let mut idx: Vec<usize> = (0..n).collect();
    layers::data::shuffle(&mut idx, args.seed, 0);
    let n_test = n / 5;
    let (test_idx, train_idx) = idx.split_at(n_test);
    let train_x: Vec<Vec<f64>> = train_idx.iter().map(|&i| xs[i].clone()).collect();
    let (xm, xsd) = column_stats(&train_x);
    let ytr: Vec<f64> = train_idx.iter().map(|&i| ys[i]).collect();
    let ym = ytr.iter().sum::<f64>() / ytr.len() as f64;
    let ysd = (ytr.iter().map(|y| (y - ym).powi(2)).sum::<f64>() / ytr.len() as f64).sqrt();
    let feat = |i: usize| -> Vec<f32> { (0..10).map(|j| ((xs[i][j] - xm[j]) / xsd[j]) as f32).collect() };
    let to_set = |ids: &[usize]| {
        let x: Vec<f32> = ids.iter().flat_map(|&i| feat(i)).collect();
        let y: Vec<f32> = ids.iter().map(|&i| ((ys[i] - ym) / ysd) as f32).collect();
        Dataset::new(x, &[10], y, &[1]).expect("consistent data")
    };
    let (train, test) = (to_set(train_idx), to_set(test_idx));

    let head = Likelihood::NormalLearnedScale { init_scale: 1.0 };
    let mut model = Model::new(mlp(32, 1), &[10], head, args.seed).expect("model builds");
    let epochs = if args.quick { 20 } else { 600 };
    let opts = FitOptions { epochs, batch_size: 32, shuffle: true, seed: args.seed, threads: Some(1) };
    let mut adam = Adam::new(0.01);
    let pb = progress(epochs, "diabetes");
    model
        .fit(&train, &opts, &mut adam, |s| {
            pb.inc(1);
            pb.set_message(format!("diabetes  -elbo/N {:.3}  nll {:.3}  kl {:.0}", s.loss, s.nll, s.kl));
        })
        .expect("training runs");
    pb.finish();

    // Save the run, and evaluate a fresh model loaded from it (training could resume from it
    // too: the file holds Adam's moments and the epochs and steps trained).
    std::fs::create_dir_all("target").expect("target directory");
    let path = std::path::Path::new("target/regression_diabetes.safetensors");
    model.save_training(path, &adam, &[]).expect("checkpoint saves");
    let mut model = Model::new(mlp(32, 1), &[10], head, args.seed).expect("model builds");
    model.load_training(path, &mut Adam::new(0.01)).expect("checkpoint loads");
    println!("checkpoint: {}", path.display());

    let samples = if args.quick { 20 } else { 200 };
    let passes = model.mc_passes(&test.x, samples, args.seed ^ 0xdead).expect("prediction runs");
    let pred = layers::McPrediction::from_passes(model.likelihood(), &passes, vec![1]);
    let (mut se, mut nll, mut covered) = (0.0, 0.0, 0usize);
    for k in 0..test.len() {
        let y = test.y[k] as f64 * ysd + ym;
        let mu = pred.mean[k] * ysd + ym;
        let sd = pred.stddev[k] * ysd;
        se += (y - mu).powi(2);
        if (y - mu).abs() <= Z90 * sd {
            covered += 1;
        }
        // log p(y) = log mean_s N(y; μ_s, σ_s²), computed stably in original units
        let logs: Vec<f64> = passes
            .iter()
            .map(|p| {
                let scale = p.scale.as_ref().expect("Normal heads have a scale");
                let (m, s) = (p.mean[k] as f64 * ysd + ym, scale[k] as f64 * ysd);
                -0.5 * ((y - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * PI).ln()
            })
            .collect();
        let mx = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lme = mx + (logs.iter().map(|l| (l - mx).exp()).sum::<f64>() / logs.len() as f64).ln();
        nll -= lme;
    }
    let m = test.len() as f64;
    Metrics {
        rmse: (se / m).sqrt(),
        nll: nll / m,
        coverage90: covered as f64 / m,
        mean_std: pred.stddev.iter().sum::<f64>() / m * ysd,
    }
}

/// The epistemic predictive sd of the toy model at x = 2 (on the data), 0.5 (in the gap between
/// the clusters; at exactly 0 the first layer's weights see a zero input, so every pass agrees)
/// and 5.5 (beyond them).
struct Spread {
    data: f64,
    gap: f64,
    beyond: f64,
}

fn toy_experiment(args: &Args) -> Spread {
    // y = x sin(x) + noise whose scale grows with |x|, observed on [-3, -1] ∪ [1, 3].
    let mut rng = autodiff::rng::CounterRng::new(args.seed ^ 0x70);
    let n = 400;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for i in 0..n {
        let u = rng.uniform();
        let x = if i % 2 == 0 { -3.0 + 2.0 * u } else { 1.0 + 2.0 * u };
        let z = (-2.0 * rng.uniform_open0().ln()).sqrt() * (2.0 * PI * rng.uniform()).cos();
        let noise = 0.1 + 0.15 * x.abs();
        xs.push(x as f32);
        ys.push((x * x.sin() + noise * z) as f32);
    }
    let data = Dataset::new(xs.clone(), &[1], ys.clone(), &[1]).unwrap();
    let mut model = Model::new(mlp(50, 2), &[1], Likelihood::NormalHeteroscedastic, args.seed).expect("model builds");
    let epochs = if args.quick { 20 } else { 1500 };
    let opts = FitOptions { epochs, batch_size: 64, shuffle: true, seed: args.seed, threads: Some(1) };
    let mut adam = Adam::new(0.01);
    let pb = progress(epochs, "toy");
    model
        .fit(&data, &opts, &mut adam, |s| {
            pb.inc(1);
            pb.set_message(format!("toy  -elbo/N {:.3}", s.loss));
        })
        .expect("training runs");
    pb.finish();
    let grid: Vec<f32> = (0..241).map(|i| -6.0 + 0.05 * i as f32).collect();
    let pred = model.predict_mc(&grid, if args.quick { 20 } else { 200 }, args.seed).expect("prediction runs");
    let at = |x: f32| grid.iter().position(|g| (g - x).abs() < 1e-4).unwrap();
    let epistemic = pred.epistemic_stddev.clone().expect("a Normal head reports the spread of its means");
    let spread = Spread { data: epistemic[at(2.0)], gap: epistemic[at(0.5)], beyond: epistemic[at(5.5)] };
    plot(&xs, &ys, &grid, &pred.mean, &pred.stddev, &epistemic).expect("plot writes");
    spread
}

/// The data, the predictive mean, and ±2 sd bands: total (`sd`) and epistemic.
fn plot(
    xs: &[f32],
    ys: &[f32],
    grid: &[f32],
    mean: &[f64],
    sd: &[f64],
    epistemic: &[f64],
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("target")?;
    let root = SVGBackend::new("target/regression_toy.svg", (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("DenseFlipout regression: predictive mean, ±2 sd predictive and epistemic", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(-6f64..6f64, -8f64..8f64)?;
    chart.configure_mesh().x_desc("x").y_desc("y").draw()?;
    let band = |sd: &[f64]| -> Vec<(f64, f64)> {
        let upper = grid.iter().zip(mean.iter().zip(sd)).map(|(&x, (&m, &s))| (x as f64, m + 2.0 * s));
        let lower = grid.iter().zip(mean.iter().zip(sd)).rev().map(|(&x, (&m, &s))| (x as f64, m - 2.0 * s));
        upper.chain(lower).collect()
    };
    chart
        .draw_series(std::iter::once(Polygon::new(band(sd), BLUE.mix(0.15))))?
        .label("±2 sd, predictive")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLUE.mix(0.15).filled()));
    chart
        .draw_series(std::iter::once(Polygon::new(band(epistemic), RED.mix(0.3))))?
        .label("±2 sd, epistemic (spread of the means)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], RED.mix(0.3).filled()));
    chart
        .draw_series(LineSeries::new(grid.iter().zip(mean).map(|(&x, &m)| (x as f64, m)), BLUE.stroke_width(2)))?
        .label("predictive mean")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLUE));
    chart
        .draw_series(xs.iter().zip(ys).map(|(&x, &y)| Circle::new((x as f64, y as f64), 2, BLACK.mix(0.5).filled())))?;
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    let args = Args::parse("regression");
    let m = diabetes_experiment(&args);
    let toy = toy_experiment(&args);
    println!();
    println!("{:<40} {:>12}", "diabetes (test set, original units)", "value");
    println!("{:<40} {:>12.2}", "RMSE", m.rmse);
    println!("{:<40} {:>12.3}", "predictive NLL per patient (nats)", m.nll);
    println!("{:<40} {:>12.3}", "90% interval coverage", m.coverage90);
    println!("{:<40} {:>12.2}", "mean predictive sd", m.mean_std);
    println!("{:<40} {:>12.3}", "toy: epistemic sd at x = 2 (data)", toy.data);
    println!("{:<40} {:>12.3}", "toy: epistemic sd at x = 0.5 (gap)", toy.gap);
    println!("{:<40} {:>12.3}", "toy: epistemic sd at x = 5.5 (beyond)", toy.beyond);
    println!("plot: target/regression_toy.svg");
    println!(
        "{}",
        result_line(&[
            ("test_rmse", m.rmse),
            ("test_nll", m.nll),
            ("coverage90", m.coverage90),
            ("toy_sd_data", toy.data),
            ("toy_sd_gap", toy.gap),
            ("toy_sd_beyond", toy.beyond)
        ])
    );
}
