//! The central claim of Flipout (Wen et al. 2018, "Flipout: Efficient Pseudo-Independent Weight
//! Perturbations on Mini-Batches", §3.2 and Fig. 1), measured: with Flipout the variance of the
//! stochastic gradient due to the weight noise falls like `1/N` in the mini-batch size `N`,
//! whereas with one weight draw shared by the whole batch it levels off, because the examples'
//! gradient noise is correlated through that one draw.
//!
//! Setup: the digits data (pixels scaled to [0, 1]) and a 64 → 100 (ReLU) → 10 MLP with a
//! Categorical likelihood, built three times with the same parameters and the same estimator in
//! both layers: `DenseFlipout`, `DenseReparameterization` (the shared perturbation) and
//! `DenseLocalReparameterization` (independent pre-activation noise per example, Kingma et al.
//! 2015). The parameters are fixed at a point reached by a short Flipout training run; the three
//! networks name their layers alike, so they read the same parameter paths.
//!
//! Measured: the gradient of the data term, the mean negative log-likelihood over a mini-batch,
//! with respect to the first layer's kernel loc. A batch is held fixed, so the only randomness is
//! the weight noise: runs of one session at steps `0..draws` (`run_at_step`) give independent
//! noise draws, and the per-weight variance across them, averaged over the 6,400 weights, is the
//! variance due to the weight noise alone. (Resampling the batch as well would add the
//! mini-batch sampling variance, which falls like `1/N` for every estimator and would hide the
//! difference.) Examples differ a lot in how large their gradients are, so a single batch per
//! size would compare different examples at different sizes; instead one pool of 128 examples
//! (a seeded draw from the data, the same for every estimator) is cut into `128 / N` disjoint
//! batches of size `N`, for `N` in 1, 2, 4, ..., 128, and the variances of those batches are
//! averaged. Every size thus sees the same 128 examples. A least-squares fit of `ln variance`
//! on `ln N` over the whole range gives each estimator's slope: near −1 for Flipout and local
//! reparameterization, much shallower for the shared perturbation, whose variance levels off at
//! the covariance between examples (the table also gives the slopes over `N ≥ 16`, where the
//! floor shows).
//!
//! Output: a table, a log-log plot (`target/flipout_variance.svg`) and
//! `RESULT slope_flipout=... slope_shared=... slope_local=...`.
//!
//! Run: `cargo run --release -p examples --example flipout_variance` (`--quick` for a smoke
//! test).

use autodiff::optim::Adam;
use autodiff::prelude::*;
use examples::metrics::loglog_slope;
use examples::{digits, result_line, Args};
use indicatif::{ProgressBar, ProgressStyle};
use layers::{
    build_layer, Activation, Dataset, DenseMap, FitOptions, Flipout, KernelEstimator, Layer, LayerCx, Likelihood,
    LocalReparameterization, Mode, Model, ModelError, Reparameterization, Sequential, Variational,
};
use plotters::prelude::*;

/// Examples shared by all batch sizes: cut into `POOL / N` batches of size `N`.
const POOL: usize = 128;

/// The parameter whose gradient is measured.
const KERNEL_LOC: &str = "mlp/hidden/kernel_posterior_loc";

/// The network with estimator `E` in both layers. Layer names do not depend on `E`, so every
/// estimator's network reads the same parameters.
fn mlp<E: KernelEstimator + Default>() -> Sequential<f32> {
    Sequential::new()
        .name("mlp")
        .add(Variational::<f32, E, DenseMap>::new(100).name("hidden").activation(Activation::Relu))
        .add(Variational::<f32, E, DenseMap>::new(10).name("logits"))
}

/// A plan fetching the gradient of the mean NLL over the fed batch with respect to the first
/// layer's kernel loc: `Model::training_plan` without the KL (whose noise is not the data
/// term's) and with one gradient.
fn kernel_loc_gradient_plan(net: &dyn Layer<f32>, store: &mut ParamStore<f32>) -> Result<Plan<f32>, ModelError> {
    let likelihood = Likelihood::Categorical;
    let g = Graph::<f32>::new();
    let mut cx = LayerCx::new(&g, store, Mode::Sample);
    let x = g.batched_input("x", &[64]);
    let y = g.batched_input("y", &[]);
    let logits = build_layer(net, x, &mut cx);
    let data_term = reduce_mean(likelihood.nll(logits, y, &mut cx), &[0], false);
    let kernel_loc = cx.params().iter().find(|(id, _)| cx.store().param(*id).path() == KERNEL_LOC).map(|p| p.1);
    drop(cx);
    let Some(kernel_loc) = kernel_loc else {
        return Err(ModelError::Data(format!("the network has no parameter {KERNEL_LOC}")));
    };
    let gradient = grad(data_term, &[kernel_loc])[0];
    Ok(g.compile(&[gradient])?)
}

/// Mean over weights of the variance, across `draws` noise draws, of the gradient on the batch
/// `(x, y)`. Welford's update in `f64` per weight.
fn noise_variance(
    session: &mut Session<f32>,
    store: &ParamStore<f32>,
    x: &[f32],
    y: &[f32],
    draws: u64,
    pb: &ProgressBar,
) -> Result<f64, ModelError> {
    let (mut mean, mut m2) = (Vec::new(), Vec::new());
    for k in 0..draws {
        let out = session.run_at_step(k, store, &[("x", x), ("y", y)])?;
        let gk = out.get(0);
        if k == 0 {
            mean = vec![0.0f64; gk.len()];
            m2 = vec![0.0f64; gk.len()];
        }
        let n = (k + 1) as f64;
        for ((m, s), &v) in mean.iter_mut().zip(&mut m2).zip(gk) {
            let v = v as f64;
            let d = v - *m;
            *m += d / n;
            *s += d * (v - *m);
        }
        pb.inc(1);
    }
    Ok(m2.iter().sum::<f64>() / ((draws - 1) as f64 * m2.len() as f64))
}

struct Curve {
    name: &'static str,
    variance: Vec<f64>,
    /// Over all sizes.
    slope: f64,
    /// Over `N ≥ TAIL`, where the shared perturbation's floor shows.
    tail_slope: f64,
    color: RGBColor,
}

/// The smallest batch size of the tail fit.
const TAIL: usize = 16;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse("flipout_variance");
    let (xs, ys) = digits();
    let data = Dataset::new(
        xs.iter().flatten().map(|&v| (v / 16.0) as f32).collect(),
        &[64],
        ys.iter().map(|&v| v as f32).collect(),
        &[],
    )?;

    // The fixed point: a short Flipout training run from the seed's initialisation.
    let mut model = Model::new(mlp::<Flipout>(), &[64], Likelihood::Categorical, args.seed)?;
    let epochs = 2;
    let opts = FitOptions { epochs, batch_size: 32, shuffle: true, seed: args.seed, threads: Some(1) };
    let pb = ProgressBar::new(epochs as u64);
    pb.set_style(ProgressStyle::with_template("{msg:12} [{bar:30}] {pos}/{len} epochs").unwrap().progress_chars("=> "));
    pb.set_message("training");
    let history = model.fit(&data, &opts, &mut Adam::new(0.01), |_| pb.inc(1))?;
    pb.finish();
    let train_nll = history.last().map_or(f64::NAN, |s| s.nll);
    let mut store = model.store().clone();

    // The pool: 128 examples of one seeded permutation, the same for every estimator and size.
    let mut order: Vec<usize> = (0..data.len()).collect();
    layers::data::shuffle(&mut order, args.seed, 1);
    let pool = &order[..POOL];
    let sizes: Vec<usize> = (0..8).map(|i| 1 << i).collect();
    let draws: u64 = if args.quick { 8 } else { 300 };
    let batches_per_estimator: u64 = sizes.iter().map(|&n| (POOL / n) as u64).sum();

    let nets: [(&'static str, Sequential<f32>, RGBColor); 3] = [
        ("Flipout", mlp::<Flipout>(), BLUE),
        ("shared (Reparameterization)", mlp::<Reparameterization>(), RED),
        ("LocalReparameterization", mlp::<LocalReparameterization>(), RGBColor(0, 150, 0)),
    ];
    let pb = ProgressBar::new(nets.len() as u64 * batches_per_estimator * draws);
    pb.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:30}] {pos}/{len} gradients {per_sec}")
            .unwrap()
            .progress_chars("=> "),
    );
    pb.set_message("variance");
    let mut curves = Vec::new();
    let (mut xb, mut yb) = (Vec::new(), Vec::new());
    for (name, net, color) in &nets {
        let plan = kernel_loc_gradient_plan(net, &mut store)?;
        let mut session =
            Session::with_options(plan, args.seed, SessionOptions { threads: Some(1), check_finite: false });
        let mut variance = Vec::with_capacity(sizes.len());
        for &n in &sizes {
            let mut sum = 0.0;
            for batch in pool.chunks(n) {
                data.gather_into(batch, &mut xb, &mut yb);
                sum += noise_variance(&mut session, &store, &xb, &yb, draws, &pb)?;
            }
            variance.push(sum / (POOL / n) as f64);
        }
        let ns: Vec<f64> = sizes.iter().map(|&n| n as f64).collect();
        let slope = loglog_slope(&ns, &variance);
        let tail = sizes.iter().position(|&n| n >= TAIL).unwrap_or(0);
        let tail_slope = loglog_slope(&ns[tail..], &variance[tail..]);
        curves.push(Curve { name, variance, slope, tail_slope, color: *color });
    }
    pb.finish();

    println!();
    println!("fixed point: {epochs} epochs of Flipout training, last-epoch train NLL {train_nll:.3} nats");
    println!("mean per-weight variance of d(mean NLL)/d(hidden kernel loc) over {draws} noise draws per fixed batch,");
    println!("averaged over the {POOL}/N batches of N examples that partition one pool of {POOL}");
    println!("{:>5} {:>14} {:>14} {:>14} {:>16}", "N", "Flipout", "shared", "local", "shared / Flipout");
    for (i, n) in sizes.iter().enumerate() {
        let (f, s, l) = (curves[0].variance[i], curves[1].variance[i], curves[2].variance[i]);
        println!("{n:>5} {f:>14.4e} {s:>14.4e} {l:>14.4e} {:>16.2}", s / f);
    }
    println!("log-log slope of variance against N (least squares)");
    println!("{:>9} {:>10.3} {:>14.3} {:>14.3}", "all N", curves[0].slope, curves[1].slope, curves[2].slope);
    let tail = format!("N >= {TAIL}");
    println!("{tail:>9} {:>10.3} {:>14.3} {:>14.3}", curves[0].tail_slope, curves[1].tail_slope, curves[2].tail_slope);
    plot(&sizes, &curves)?;
    println!("plot: target/flipout_variance.svg");
    println!(
        "{}",
        result_line(&[
            ("slope_flipout", curves[0].slope),
            ("slope_shared", curves[1].slope),
            ("slope_local", curves[2].slope)
        ])
    );
    Ok(())
}

fn plot(sizes: &[usize], curves: &[Curve]) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("target")?;
    let root = SVGBackend::new("target/flipout_variance.svg", (800, 550)).into_drawing_area();
    root.fill(&WHITE)?;
    let all = curves.iter().flat_map(|c| c.variance.iter().copied());
    let (lo, hi) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let n_max = *sizes.last().unwrap_or(&1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Gradient variance due to weight noise vs batch size", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0.8f64..n_max * 1.25).log_scale(), (lo / 2.0..hi * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("mini-batch size N")
        .y_desc("mean per-weight variance")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    // The 1/N reference through Flipout's N = 1 point.
    let v1 = curves[0].variance[0];
    chart
        .draw_series(LineSeries::new(sizes.iter().map(|&n| (n as f64, v1 / n as f64)), BLACK.mix(0.4)))?
        .label("∝ 1/N")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLACK.mix(0.4)));
    for c in curves {
        let pts: Vec<(f64, f64)> = sizes.iter().zip(&c.variance).map(|(&n, &v)| (n as f64, v)).collect();
        let color = c.color;
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(format!("{} (slope {:.2})", c.name, c.slope))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
