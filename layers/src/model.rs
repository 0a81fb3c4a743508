//! A model: a network, its likelihood head and its parameters, with training (ELBO), evaluation
//! and prediction (single stochastic passes, the posterior mean, and Monte-Carlo predictive
//! mean, spread and entropy, run in parallel on one compiled plan).

use std::fmt;
use std::path::Path;
use std::time::Instant;

use autodiff::optim::{OptimError, Optimizer};
use autodiff::prelude::*;
use rayon::prelude::*;
use smallvec::SmallVec;

use crate::checkpoint::{self, CheckpointError};
use crate::data::{shuffle, Dataset};
use crate::elbo::elbo_loss;
use crate::layer::{build_layer, Layer, LayerCx, Mode};
use crate::likelihood::Likelihood;

/// Why training or prediction failed.
#[derive(Debug)]
pub enum ModelError {
    /// Building or compiling a graph failed (a shape mistake in the model).
    Graph(GraphError),
    /// Running a plan failed.
    Run(RunError),
    /// The optimizer refused a step.
    Optim(OptimError),
    /// The data do not fit the model.
    Data(String),
    /// The model's configuration is unusable (e.g. a likelihood head that does not match the
    /// network's output).
    Config(String),
    /// Training produced a loss that is not finite. The step that produced it was not applied,
    /// so the parameters are those before it.
    Diverged {
        /// Epoch over the model's training, from 0 (see [`Model::epochs_trained`]).
        epoch: usize,
        /// Step within the epoch, from 0.
        step: usize,
        /// Updates the model had taken before this step, over all `fit` calls (see
        /// [`Model::steps_trained`]).
        updates: u64,
        /// The loss (NaN or infinite).
        loss: f64,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Graph(e) => write!(f, "building the model: {e}"),
            ModelError::Run(e) => write!(f, "running the model: {e}"),
            ModelError::Optim(e) => write!(f, "optimizer: {e}"),
            ModelError::Data(e) => write!(f, "data: {e}"),
            ModelError::Config(e) => write!(f, "model: {e}"),
            ModelError::Diverged { epoch, step, updates, loss } => {
                write!(f, "the loss is {loss} at epoch {epoch}, step {step} (that step was not applied): ")?;
                // Before any update the learning rate cannot be the cause.
                if *updates == 0 {
                    f.write_str("before any update, so the initial model or the data produce it (a prior or posterior constant, say)")?;
                } else {
                    f.write_str("lower the learning rate")?;
                }
                f.write_str(
                    "; run `Model::training_plan` in a session with `SessionOptions { check_finite: true, .. }` to \
                     find the first node that is not finite",
                )
            }
        }
    }
}

impl std::error::Error for ModelError {}

impl From<GraphError> for ModelError {
    fn from(e: GraphError) -> Self {
        ModelError::Graph(e)
    }
}
impl From<RunError> for ModelError {
    fn from(e: RunError) -> Self {
        ModelError::Run(e)
    }
}
impl From<OptimError> for ModelError {
    fn from(e: OptimError) -> Self {
        ModelError::Optim(e)
    }
}

/// Checkpoint metadata keys of [`Model::save_training`]: epochs and steps trained.
const PROGRESS_KEYS: [&str; 2] = ["epochs_trained", "steps_trained"];

/// A network with a likelihood head and its parameter store.
pub struct Model<F: Scalar> {
    net: Box<dyn Layer<F>>,
    likelihood: Likelihood,
    input_dims: Vec<usize>,
    output_dims: Vec<usize>,
    store: ParamStore<F>,
    /// Prediction plans compiled so far, by mode: the network is fixed once built, so `predict`
    /// and `predict_mc` compile each mode once.
    prediction_plans: Vec<(Mode, Plan<F>)>,
    /// Epochs and steps trained so far, over all `fit` calls: the next epoch's shuffle and the
    /// next step's noise continue from them.
    epochs_trained: u64,
    steps_trained: u64,
}

/// Options of [`Model::fit`].
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Shuffle the examples every epoch.
    pub shuffle: bool,
    /// Seed of the shuffling and of the training noise. Consecutive [`Model::fit`] calls continue
    /// the same streams (epoch and step counts carry over, see [`Model::epochs_trained`]), so two
    /// calls of one epoch train as one call of two; [`Flow::fit`](crate::Flow::fit) restarts them.
    pub seed: u64,
    /// Kernel threads of the training session (`None`: the default).
    pub threads: Option<usize>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions { epochs: 10, batch_size: 32, shuffle: true, seed: 0, threads: None }
    }
}

/// What one epoch of training measured.
#[derive(Clone, Debug)]
pub struct EpochStats {
    /// Epoch index over the model's training so far, from 0 (see [`Model::epochs_trained`]).
    pub epoch: usize,
    /// Mean loss per example over the epoch's steps: the negative ELBO plus the regularizers.
    pub loss: f64,
    /// Mean negative log-likelihood per example.
    pub nll: f64,
    /// The KL term (sum of the layers' divergences) at the last step, before dividing by N.
    pub kl: f64,
    /// Steps taken.
    pub steps: usize,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// Monte-Carlo predictive summaries over `samples` stochastic passes, per output element.
#[derive(Clone, Debug)]
pub struct McPrediction {
    /// Number of passes.
    pub samples: usize,
    /// Per-example dims of `mean`.
    pub dims: Vec<usize>,
    /// Predictive mean: of the Normal mean for regression, of the class probabilities for
    /// classification.
    pub mean: Vec<f64>,
    /// Predictive standard deviation. Regression: of the mixture of the passes' Normals
    /// (aleatoric and epistemic); classification: across passes of each probability.
    pub stddev: Vec<f64>,
    /// Regression only: the spread of the passes' means (the epistemic part).
    pub epistemic_stddev: Option<Vec<f64>>,
    /// Classification only: the entropy (nats) of the mean predictive distribution: per example
    /// for a Categorical head over `[C]` classes, per output element for a Bernoulli head.
    pub entropy: Option<Vec<f64>>,
}

impl<F: Scalar> Model<F> {
    /// A model of `net` on inputs of per-example shape `input_dims`, with parameters created and
    /// initialised from `seed`. Builds the network once, so shape mistakes surface here.
    pub fn new(
        net: impl Layer<F> + 'static,
        input_dims: &[usize],
        likelihood: Likelihood,
        seed: u64,
    ) -> Result<Self, ModelError> {
        let mut m = Model {
            net: Box::new(net),
            likelihood,
            input_dims: input_dims.to_vec(),
            output_dims: vec![],
            store: ParamStore::new(seed),
            prediction_plans: Vec::new(),
            epochs_trained: 0,
            steps_trained: 0,
        };
        let g = Graph::<F>::new();
        let mut cx = LayerCx::new(&g, &mut m.store, Mode::Sample);
        let x = g.input("x", Shape::batched(input_dims));
        let out = build_layer(m.net.as_ref(), x, &mut cx);
        if !out.is_poisoned() {
            m.likelihood.check(&out.shape()).map_err(ModelError::Config)?;
        }
        let _ = m.likelihood.predictive(out, &mut cx);
        drop(cx);
        g.check()?;
        let s = out.shape();
        m.output_dims = s.dims()[1..].iter().map(|d| d.fixed().unwrap_or(0)).collect();
        Ok(m)
    }

    /// The parameters.
    pub fn store(&self) -> &ParamStore<F> {
        &self.store
    }
    /// The parameters, mutably (for loading checkpoints or editing weights).
    pub fn store_mut(&mut self) -> &mut ParamStore<F> {
        &mut self.store
    }
    /// The likelihood head.
    pub fn likelihood(&self) -> Likelihood {
        self.likelihood
    }
    /// Epochs trained so far, over all [`fit`](Model::fit) calls.
    pub fn epochs_trained(&self) -> u64 {
        self.epochs_trained
    }
    /// Optimizer steps taken so far, over all [`fit`](Model::fit) calls.
    pub fn steps_trained(&self) -> u64 {
        self.steps_trained
    }

    /// Saves the training run to `path`: the parameters and `optimizer`'s state (see
    /// [`checkpoint::save_training`]), plus the epochs and steps trained so far (metadata keys
    /// `epochs_trained` and `steps_trained`) so that a run resumed with
    /// [`load_training`](Model::load_training) continues its shuffling and noise streams.
    pub fn save_training(
        &self,
        path: &Path,
        optimizer: &dyn Optimizer<F>,
        metadata: &[(&str, &str)],
    ) -> Result<(), CheckpointError> {
        let (epochs, steps) = (self.epochs_trained.to_string(), self.steps_trained.to_string());
        let mut meta = vec![(PROGRESS_KEYS[0], epochs.as_str()), (PROGRESS_KEYS[1], steps.as_str())];
        meta.extend_from_slice(metadata);
        checkpoint::save_training(path, &self.store, optimizer, &meta)
    }

    /// Loads a run saved by [`save_training`](Model::save_training) into this model (built with
    /// the same network) and `optimizer`: parameters, optimizer state and training progress, all
    /// or nothing. A file without progress keys (written by [`checkpoint::save_training`])
    /// counts as a run not trained yet.
    pub fn load_training(
        &mut self,
        path: &Path,
        optimizer: &mut dyn Optimizer<F>,
    ) -> Result<checkpoint::Loaded<F>, CheckpointError> {
        // The progress is read from the same reading of the file as the parameters, before
        // anything changes, so a bad value changes nothing.
        let progress = |meta: &std::collections::HashMap<String, String>| {
            let count = |key: &str| match meta.get(key) {
                None => Ok(0),
                Some(v) => v.parse::<u64>().map_err(|_| CheckpointError::Corrupt {
                    file: path.to_path_buf(),
                    reason: format!("metadata \"{key}\" is \"{v}\", not a count"),
                }),
            };
            Ok((count(PROGRESS_KEYS[0])?, count(PROGRESS_KEYS[1])?))
        };
        let (loaded, progress) = checkpoint::load_training_checked(path, &mut self.store, optimizer, progress)?;
        (self.epochs_trained, self.steps_trained) = progress;
        Ok(loaded)
    }
    /// Per-example output dims of the network.
    pub fn output_dims(&self) -> &[usize] {
        &self.output_dims
    }
    /// Per-example label dims.
    pub fn label_dims(&self) -> Vec<usize> {
        self.likelihood.label_dims(&self.output_dims)
    }

    /// The training plan: fetches `[loss, mean nll, kl, grads...]`, and the parameters the
    /// gradients belong to. The loss is `mean nll + kl / num_examples + regularizers`.
    pub fn training_plan(&mut self, num_examples: usize) -> Result<(Plan<F>, Vec<ParamId>), ModelError> {
        if num_examples == 0 {
            return Err(ModelError::Data("the ELBO divides the KL by the number of training examples, got 0".into()));
        }
        let label_dims = self.label_dims();
        let g = Graph::<F>::new();
        let mut cx = LayerCx::new(&g, &mut self.store, Mode::Sample);
        let x = g.input("x", Shape::batched(&self.input_dims));
        let y = g.input("y", Shape::batched(&label_dims));
        let out = build_layer(self.net.as_ref(), x, &mut cx);
        let nll = self.likelihood.nll(out, y, &mut cx);
        let kl = cx.total_divergence();
        // Regularizers are added to the mean batch loss as they are, as Keras adds
        // `model.losses` (and as `Flow::fit` does): only the KL is a sum over the whole data set
        // that needs dividing by N.
        let loss = elbo_loss(nll, kl, num_examples);
        let loss = match cx.total_regularization() {
            Some(r) => loss + r,
            None => loss,
        };
        let params = cx.trainable_params();
        drop(cx);
        let tensors: Vec<Tensor<'_, F>> = params.iter().map(|p| p.1).collect();
        let grads = grad(loss, &tensors);
        let mut fetch = vec![loss, reduce_mean(nll, &[0], false), kl.unwrap_or_else(|| g.scalar(0.0))];
        fetch.extend(grads);
        let plan = g.compile(&fetch)?;
        Ok((plan, params.iter().map(|p| p.0).collect()))
    }

    /// Trains by minimising the negative ELBO per example (see [`elbo_loss`]) plus the
    /// regularizers, calling
    /// `on_epoch` after every epoch. Returns the per-epoch statistics.
    pub fn fit(
        &mut self,
        data: &Dataset<F>,
        opts: &FitOptions,
        optimizer: &mut dyn Optimizer<F>,
        mut on_epoch: impl FnMut(&EpochStats),
    ) -> Result<Vec<EpochStats>, ModelError> {
        self.check_data(data)?;
        if opts.batch_size == 0 {
            return Err(ModelError::Data("batch_size must be at least 1".into()));
        }
        let (plan, params) = self.training_plan(data.len())?;
        let mut session =
            Session::with_options(plan, opts.seed, SessionOptions { threads: opts.threads, check_finite: false });
        let mut order: Vec<usize> = (0..data.len()).collect();
        let (mut xb, mut yb) = (Vec::new(), Vec::new());
        let mut history = Vec::with_capacity(opts.epochs);
        for _ in 0..opts.epochs {
            let t0 = Instant::now();
            let epoch = self.epochs_trained as usize;
            if opts.shuffle {
                order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
                shuffle(&mut order, opts.seed, self.epochs_trained);
            }
            let (mut loss_sum, mut nll_sum, mut kl, mut seen, mut steps) = (0.0, 0.0, 0.0, 0usize, 0usize);
            for batch in order.chunks(opts.batch_size) {
                data.gather_into(batch, &mut xb, &mut yb);
                let out = session.run_at_step(self.steps_trained, &self.store, &[("x", &xb), ("y", &yb)])?;
                let b = batch.len() as f64;
                let loss = out.scalar(0).to_f64_lossless();
                if !loss.is_finite() {
                    return Err(ModelError::Diverged { epoch, step: steps, updates: self.steps_trained, loss });
                }
                loss_sum += loss * b;
                nll_sum += out.scalar(1).to_f64_lossless() * b;
                kl = out.scalar(2).to_f64_lossless();
                seen += batch.len();
                steps += 1;
                let grads: SmallVec<[(ParamId, &[F]); 32]> =
                    params.iter().enumerate().map(|(i, &id)| (id, out.get(3 + i))).collect();
                let store = &mut self.store;
                out.in_context(|| optimizer.step(store, &grads))?;
                self.steps_trained += 1;
            }
            self.epochs_trained += 1;
            let stats = EpochStats {
                epoch,
                loss: loss_sum / seen as f64,
                nll: nll_sum / seen as f64,
                kl,
                steps,
                seconds: t0.elapsed().as_secs_f64(),
            };
            on_epoch(&stats);
            history.push(stats);
        }
        Ok(history)
    }

    /// Prediction inputs: a whole, nonzero number of examples.
    fn check_inputs(&self, x: &[F]) -> Result<(), ModelError> {
        let width: usize = self.input_dims.iter().product();
        if width == 0 || x.is_empty() || !x.len().is_multiple_of(width) {
            return Err(ModelError::Data(format!(
                "{} input values are not a whole, nonzero number of examples of shape {:?}",
                x.len(),
                self.input_dims
            )));
        }
        non_finite(x, width, "input")
    }

    fn check_data(&self, data: &Dataset<F>) -> Result<(), ModelError> {
        if data.x_dims != self.input_dims {
            return Err(ModelError::Data(format!(
                "inputs have per-example shape {:?}, the model expects {:?}",
                data.x_dims, self.input_dims
            )));
        }
        if data.y_width() != self.label_dims().iter().product::<usize>() {
            return Err(ModelError::Data(format!(
                "labels have per-example shape {:?}, the {:?} head expects {:?}",
                data.y_dims,
                self.likelihood,
                self.label_dims()
            )));
        }
        if data.is_empty() {
            return Err(ModelError::Data("the data set is empty".into()));
        }
        let (xw, yw) = (data.x_width(), data.y_width());
        non_finite(&data.x, xw, "input")?;
        non_finite(&data.y, yw, "label")?;
        match self.likelihood {
            Likelihood::Categorical => {
                let classes = self.output_dims.last().copied().unwrap_or(0) as f64;
                let class = |v: &F| v.to_f64_lossless().fract() == 0.0 && (0.0..classes).contains(&v.to_f64_lossless());
                let why = format!("; the Categorical head takes class indices 0..{classes}");
                first_bad(&data.y, yw, "label", class, &why)
            }
            Likelihood::Bernoulli => {
                let zero_one = |v: &F| (F::zero()..=F::one()).contains(v);
                first_bad(&data.y, yw, "label", zero_one, "; the Bernoulli head takes labels in [0, 1]")
            }
            _ => Ok(()),
        }
    }

    /// A plan computing the predictive distribution of one pass: fetches the mean (or class
    /// probabilities) and, for Normal heads, the scale. `Mode::Mean` gives the posterior-mean
    /// network; `Mode::Sample` a stochastic pass.
    pub fn prediction_plan(&mut self, mode: Mode) -> Result<Plan<F>, ModelError> {
        if let Some((_, plan)) = self.prediction_plans.iter().find(|(m, _)| *m == mode) {
            return Ok(plan.clone());
        }
        let g = Graph::<F>::new();
        let mut cx = LayerCx::new(&g, &mut self.store, mode);
        let x = g.input("x", Shape::batched(&self.input_dims));
        let out = build_layer(self.net.as_ref(), x, &mut cx);
        let p = self.likelihood.predictive(out, &mut cx);
        drop(cx);
        let mut fetch = vec![p.mean];
        fetch.extend(p.scale);
        let plan = g.compile(&fetch)?;
        self.prediction_plans.push((mode, plan.clone()));
        Ok(plan)
    }

    /// One pass over `x`: the posterior-mean network (`Mode::Mean`) or the stochastic pass of
    /// run `step` (`Mode::Sample`), whose noise is keyed by the seed given to [`Model::new`]
    /// (a checkpoint does not carry it). Returns the mean (or probabilities) and, for Normal heads,
    /// the scale.
    pub fn predict(&mut self, x: &[F], mode: Mode, step: u64) -> Result<(Vec<F>, Option<Vec<F>>), ModelError> {
        self.check_inputs(x)?;
        let plan = self.prediction_plan(mode)?;
        let mut s = Session::new(plan, self.store.seed());
        let out = s.run_at_step(step, &self.store, &[("x", x)])?;
        let scale = (out.len() > 1).then(|| out[1].to_vec());
        Ok((out[0].to_vec(), scale))
    }

    /// `samples` stochastic passes over `x` (steps `0..samples` of a session keyed by `seed`;
    /// a layer with a seed of its own ignores it, and its passes reuse the noise of training
    /// steps `0..samples`),
    /// run in parallel on one compiled plan, each worker with its own single-threaded session.
    pub fn mc_passes(&mut self, x: &[F], samples: usize, seed: u64) -> Result<Vec<Pass<F>>, ModelError> {
        self.check_inputs(x)?;
        if samples == 0 {
            return Err(ModelError::Data("Monte-Carlo prediction needs at least 1 sample".into()));
        }
        let plan = self.prediction_plan(Mode::Sample)?;
        let store = &self.store;
        let workers = autodiff::default_threads().clamp(1, samples.max(1));
        let per_worker: Vec<Result<Vec<Pass<F>>, RunError>> = (0..workers)
            .into_par_iter()
            .map(|w| {
                let mut s =
                    Session::with_options(plan.clone(), seed, SessionOptions { threads: Some(1), check_finite: false });
                (w as u64..samples as u64)
                    .step_by(workers)
                    .map(|step| {
                        let out = s.run_at_step(step, store, &[("x", x)])?;
                        Ok(Pass { step, mean: out[0].to_vec(), scale: (out.len() > 1).then(|| out[1].to_vec()) })
                    })
                    .collect()
            })
            .collect();
        let mut passes = Vec::with_capacity(samples);
        for r in per_worker {
            passes.extend(r?);
        }
        passes.sort_by_key(|p| p.step);
        Ok(passes)
    }

    /// Monte-Carlo predictive mean, spread and (for classifiers) entropy over `samples`
    /// stochastic passes; see [`Model::mc_passes`].
    pub fn predict_mc(&mut self, x: &[F], samples: usize, seed: u64) -> Result<McPrediction, ModelError> {
        let passes = self.mc_passes(x, samples, seed)?;
        let dims = match self.likelihood {
            Likelihood::NormalHeteroscedastic => self.label_dims(),
            _ => self.output_dims.clone(),
        };
        Ok(summarize(self.likelihood, &passes, dims))
    }
}

/// One stochastic pass of [`Model::mc_passes`].
#[derive(Clone, Debug)]
pub struct Pass<F> {
    /// The run's step (its noise).
    pub step: u64,
    /// The mean (Normal heads) or class probabilities.
    pub mean: Vec<F>,
    /// The scale (Normal heads).
    pub scale: Option<Vec<F>>,
}

impl McPrediction {
    /// Summarises passes of a model with the given likelihood head; `dims` are the per-example
    /// dims of each pass's mean.
    pub fn from_passes<F: Scalar>(likelihood: Likelihood, passes: &[Pass<F>], dims: Vec<usize>) -> McPrediction {
        summarize(likelihood, passes, dims)
    }
}

fn summarize<F: Scalar>(likelihood: Likelihood, passes: &[Pass<F>], dims: Vec<usize>) -> McPrediction {
    let samples = passes.len();
    let n = passes.first().map(|p| p.mean.len()).unwrap_or(0);
    let k = samples.max(1) as f64;
    let mut mean = vec![0.0; n];
    let mut sq = vec![0.0; n];
    let mut var_alea = vec![0.0; n];
    for Pass { mean: m, scale: s, .. } in passes {
        for i in 0..n {
            let v = m[i].to_f64_lossless();
            mean[i] += v / k;
            sq[i] += v * v / k;
            if let Some(s) = s {
                let sd = s[i].to_f64_lossless();
                var_alea[i] += sd * sd / k;
            }
        }
    }
    let epistemic: Vec<f64> = (0..n).map(|i| (sq[i] - mean[i] * mean[i]).max(0.0)).collect();
    if likelihood.is_classification() {
        let entropy = match likelihood {
            Likelihood::Categorical => {
                let c = dims.last().copied().unwrap_or(1).max(1);
                mean.chunks(c).map(|p| -p.iter().filter(|&&q| q > 0.0).map(|&q| q * q.ln()).sum::<f64>()).collect()
            }
            _ => mean
                .iter()
                .map(|&p| {
                    let h = |q: f64| if q > 0.0 { -q * q.ln() } else { 0.0 };
                    h(p) + h(1.0 - p)
                })
                .collect(),
        };
        McPrediction {
            samples,
            dims,
            mean,
            stddev: epistemic.iter().map(|v| v.sqrt()).collect(),
            epistemic_stddev: None,
            entropy: Some(entropy),
        }
    } else {
        McPrediction {
            samples,
            dims,
            stddev: (0..n).map(|i| (var_alea[i] + epistemic[i]).sqrt()).collect(),
            epistemic_stddev: Some(epistemic.iter().map(|v| v.sqrt()).collect()),
            mean,
            entropy: None,
        }
    }
}

/// The first non-finite value of `values` (`width` per example), as an error naming it.
fn non_finite<F: Scalar>(values: &[F], width: usize, what: &str) -> Result<(), ModelError> {
    first_bad(values, width, what, |v: &F| v.is_finite(), "")
}

/// The first value of `values` (`width` per example) that is not `ok`, as an error naming its
/// position and value, followed by `why`.
fn first_bad<F: Scalar>(
    values: &[F],
    width: usize,
    what: &str,
    ok: impl Fn(&F) -> bool,
    why: &str,
) -> Result<(), ModelError> {
    match values.iter().position(|v| !ok(v)) {
        Some(i) => {
            Err(ModelError::Data(format!("{what} value {} of example {} is {}{why}", i % width, i / width, values[i])))
        }
        None => Ok(()),
    }
}
