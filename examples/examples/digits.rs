//! Bayesian classification of handwritten digits: DenseFlipout and Conv2DFlipout networks, each
//! against a deterministic network of the same shape.
//!
//! Data: the 1,797 8×8 digit images, pixels scaled to [0, 1], split 80/20 stratified by class
//! (seeded). The dense models are 64 → 128 (ReLU) → 10; the conv models are 8×8×1 → conv 3×3×16
//! (same, ReLU) → max-pool 2 → conv 3×3×32 (same, ReLU) → max-pool 2 → flatten → 10; all with a
//! Categorical likelihood. The Bayesian ones (`DenseFlipout`, `Conv2DFlipout`) are trained by
//! maximising the ELBO, the deterministic ones (`Dense`, `Conv`) by maximum likelihood.
//!
//! Reported for each model on the test set: accuracy, NLL and expected calibration error (15
//! bins, Guo et al. 2017) of the predictive distribution, which for the Bayesian model is the
//! Monte-Carlo predictive (`Model::predict_mc`, class probabilities averaged over passes) and
//! for the deterministic one its single output. Then the mean predictive entropy on two kinds of
//! out-of-distribution inputs: uniform noise images and inverted test images (`16 − x`), as a
//! ratio to the mean entropy on the test images; a model that knows what it has not seen has a
//! ratio well above 1. A reliability diagram per model goes to `target/digits_reliability.svg`.
//!
//! With TFP's defaults (a `N(0, 1)` prior on every weight, the full KL) the Flipout network
//! tends to be under-confident on test digits (reliability bars above the diagonal) while the
//! deterministic one is confident everywhere, off-distribution included.
//!
//! Ends with `RESULT accuracy=... nll=... ece=... ood_entropy_ratio=...` for the DenseFlipout model,
//! where the ratio is the mean entropy over both OOD sets (equal sizes) over the in-distribution
//! mean entropy.
//!
//! The models to compare are a list of [`Candidate`]s, each with its own input shape.
//!
//! Run: `cargo run --release -p examples --example digits` (`--quick` for a smoke test).

use std::time::Instant;

use autodiff::ops::Padding;
use autodiff::optim::Adam;
use autodiff::rng::CounterRng;
use examples::metrics::{accuracy, ece, mean_entropy, nll, reliability, ReliabilityBin};
use examples::{digits, result_line, Args};
use indicatif::{ProgressBar, ProgressStyle};
use layers::{
    Activation, Conv, Conv2DFlipout, Dataset, Dense, DenseFlipout, FitOptions, Flatten, Likelihood, Mode, Model,
    ModelError, Pool, Sequential,
};
use plotters::prelude::*;

const CLASSES: usize = 10;
const BINS: usize = 15;

/// A model to train and evaluate.
struct Candidate {
    name: &'static str,
    /// Per-example input shape; the flat pixel data are reshaped to it.
    input_dims: &'static [usize],
    /// Whether predictions are Monte-Carlo averages over stochastic passes.
    bayesian: bool,
    /// The network (its weights are initialised from the model's seed).
    build: fn() -> Sequential<f32>,
    /// Adam's step size.
    learning_rate: f64,
    epochs: usize,
    color: RGBColor,
}

fn candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            name: "DenseFlipout",
            input_dims: &[64],
            bayesian: true,
            build: || {
                Sequential::new()
                    .name("flipout")
                    .add(DenseFlipout::new(128).activation(Activation::Relu))
                    .add(DenseFlipout::new(CLASSES))
            },
            learning_rate: 0.003,
            epochs: 300,
            color: BLUE,
        },
        Candidate {
            name: "Dense",
            input_dims: &[64],
            bayesian: false,
            build: || {
                Sequential::new()
                    .name("dense")
                    .add(Dense::new(128).activation(Activation::Relu))
                    .add(Dense::new(CLASSES))
            },
            learning_rate: 0.003,
            epochs: 300,
            color: RED,
        },
        Candidate {
            name: "Conv2DFlipout",
            input_dims: &[8, 8, 1],
            bayesian: true,
            build: || {
                Sequential::new()
                    .name("conv_flipout")
                    .add(Conv2DFlipout::conv2d(16, [3, 3]).padding(Padding::Same).activation(Activation::Relu))
                    .add(Pool::max(&[2, 2]))
                    .add(Conv2DFlipout::conv2d(32, [3, 3]).padding(Padding::Same).activation(Activation::Relu))
                    .add(Pool::max(&[2, 2]))
                    .add(Flatten)
                    .add(DenseFlipout::new(CLASSES))
            },
            learning_rate: 0.003,
            epochs: 100,
            color: GREEN,
        },
        Candidate {
            name: "Conv",
            input_dims: &[8, 8, 1],
            bayesian: false,
            build: || {
                Sequential::new()
                    .name("conv")
                    .add(Conv::conv2d(16, [3, 3]).padding(Padding::Same).activation(Activation::Relu))
                    .add(Pool::max(&[2, 2]))
                    .add(Conv::conv2d(32, [3, 3]).padding(Padding::Same).activation(Activation::Relu))
                    .add(Pool::max(&[2, 2]))
                    .add(Flatten)
                    .add(Dense::new(CLASSES))
            },
            learning_rate: 0.003,
            epochs: 100,
            color: MAGENTA,
        },
    ]
}

/// What a model scored.
struct Evaluation {
    accuracy: f64,
    nll: f64,
    ece: f64,
    entropy_in: f64,
    entropy_noise: f64,
    entropy_inverted: f64,
    bins: Vec<ReliabilityBin>,
    seconds: f64,
}

impl Evaluation {
    /// Mean entropy over both OOD sets (of equal size) over the in-distribution mean entropy.
    fn ood_entropy_ratio(&self) -> f64 {
        0.5 * (self.entropy_noise + self.entropy_inverted) / self.entropy_in
    }
}

/// Images (flat, scaled to [0, 1]) and labels.
struct Split {
    x: Vec<f32>,
    labels: Vec<usize>,
}

impl Split {
    fn dataset(&self, dims: &[usize]) -> Dataset<f32> {
        let y = self.labels.iter().map(|&c| c as f32).collect();
        Dataset::new(self.x.clone(), dims, y, &[]).expect("consistent data")
    }
}

/// An 80/20 split stratified by class: a seeded 20% of every class goes to the test set.
fn stratified_split(seed: u64) -> (Split, Split) {
    let (xs, ys) = digits();
    let (mut train, mut test) = (Split { x: vec![], labels: vec![] }, Split { x: vec![], labels: vec![] });
    for c in 0..CLASSES {
        let mut idx: Vec<usize> = (0..ys.len()).filter(|&i| ys[i] as usize == c).collect();
        layers::data::shuffle(&mut idx, seed, c as u64);
        let n_test = (idx.len() as f64 * 0.2).round() as usize;
        for (k, &i) in idx.iter().enumerate() {
            let split = if k < n_test { &mut test } else { &mut train };
            split.x.extend(xs[i].iter().map(|&v| (v / 16.0) as f32));
            split.labels.push(c);
        }
    }
    (train, test)
}

/// Out-of-distribution images, as many as the test images: uniform noise (pixel counts 0..16,
/// like the data's) and the test images inverted, `16 − x`.
fn ood_sets(test: &Split, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = CounterRng::new(seed ^ 0x00d);
    let noise = (0..test.x.len()).map(|_| (rng.uniform() * 17.0).floor().min(16.0) as f32 / 16.0).collect();
    let inverted = test.x.iter().map(|&v| 1.0 - v).collect();
    (noise, inverted)
}

/// Class probabilities: the Monte-Carlo predictive for Bayesian models, else the one pass.
fn probabilities(
    model: &mut Model<f32>,
    bayesian: bool,
    x: &[f32],
    samples: usize,
    seed: u64,
) -> Result<Vec<f64>, ModelError> {
    if bayesian {
        Ok(model.predict_mc(x, samples, seed)?.mean)
    } else {
        Ok(model.predict(x, Mode::Mean, 0)?.0.into_iter().map(f64::from).collect())
    }
}

fn evaluate(c: &Candidate, train: &Split, test: &Split, args: &Args) -> Result<Evaluation, ModelError> {
    let t0 = Instant::now();
    let mut model = Model::new((c.build)(), c.input_dims, Likelihood::Categorical, args.seed)?;
    let epochs = if args.quick { 3 } else { c.epochs };
    let opts = FitOptions { epochs, batch_size: 32, shuffle: true, seed: args.seed, threads: Some(1) };
    let pb = ProgressBar::new(epochs as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg:14} [{bar:30}] {pos}/{len} epochs {wide_msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    pb.set_message(c.name);
    model.fit(&train.dataset(c.input_dims), &opts, &mut Adam::new(c.learning_rate), |s| {
        pb.inc(1);
        pb.set_message(format!("{}  -elbo/N {:.3}  nll {:.3}", c.name, s.loss, s.nll));
    })?;
    pb.finish();

    let samples = if args.quick { 10 } else { 100 };
    let (noise, inverted) = ood_sets(test, args.seed);
    let p_test = probabilities(&mut model, c.bayesian, &test.x, samples, args.seed ^ 0x7e57)?;
    let p_noise = probabilities(&mut model, c.bayesian, &noise, samples, args.seed ^ 0x7e57)?;
    let p_inverted = probabilities(&mut model, c.bayesian, &inverted, samples, args.seed ^ 0x7e57)?;
    Ok(Evaluation {
        accuracy: accuracy(&p_test, CLASSES, &test.labels),
        nll: nll(&p_test, CLASSES, &test.labels),
        ece: ece(&p_test, CLASSES, &test.labels, BINS),
        entropy_in: mean_entropy(&p_test, CLASSES),
        entropy_noise: mean_entropy(&p_noise, CLASSES),
        entropy_inverted: mean_entropy(&p_inverted, CLASSES),
        bins: reliability(&p_test, CLASSES, &test.labels, BINS),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse("digits");
    let (train, test) = stratified_split(args.seed);
    let candidates = candidates();
    let mut results = Vec::new();
    for c in &candidates {
        results.push(evaluate(c, &train, &test, &args)?);
    }

    println!();
    println!(
        "{} training and {} test images; entropies in nats (uniform over 10 classes: 2.303)",
        train.labels.len(),
        test.labels.len()
    );
    println!(
        "{:<14} {:>9} {:>9} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8}",
        "model", "accuracy", "test NLL", "ECE", "H test", "H noise", "H inverted", "OOD ratio", "seconds"
    );
    for (c, e) in candidates.iter().zip(&results) {
        println!(
            "{:<14} {:>9.4} {:>9.4} {:>8.4} {:>9.4} {:>9.4} {:>10.4} {:>10.2} {:>8.1}",
            c.name,
            e.accuracy,
            e.nll,
            e.ece,
            e.entropy_in,
            e.entropy_noise,
            e.entropy_inverted,
            e.ood_entropy_ratio(),
            e.seconds
        );
    }
    plot(&candidates, &results)?;
    println!("plot: target/digits_reliability.svg");
    let b = &results[0];
    println!(
        "{}",
        result_line(&[
            ("accuracy", b.accuracy),
            ("nll", b.nll),
            ("ece", b.ece),
            ("ood_entropy_ratio", b.ood_entropy_ratio())
        ])
    );
    Ok(())
}

/// One reliability diagram per model: each bin's accuracy against its confidence range, with
/// the diagonal of perfect calibration.
fn plot(candidates: &[Candidate], results: &[Evaluation]) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("target")?;
    let root =
        SVGBackend::new("target/digits_reliability.svg", (450 * candidates.len() as u32, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    for ((c, e), area) in candidates.iter().zip(results).zip(root.split_evenly((1, candidates.len()))) {
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("{}: ECE {:.3}", c.name, e.ece), ("sans-serif", 18))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(45)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart.configure_mesh().x_desc("confidence").y_desc("accuracy").draw()?;
        chart.draw_series(
            e.bins
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| Rectangle::new([(b.lower, 0.0), (b.upper, b.accuracy)], c.color.mix(0.6).filled())),
        )?;
        chart.draw_series(
            e.bins
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| Rectangle::new([(b.lower, 0.0), (b.upper, b.accuracy)], BLACK)),
        )?;
        chart.draw_series(std::iter::once(PathElement::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.5))))?;
    }
    root.present()?;
    Ok(())
}
