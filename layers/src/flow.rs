//! A normalizing flow: a standard Normal base distribution pushed through a chain of
//! [`Bijector`]s (TFP's `TransformedDistribution(base, Chain(bijectors))`), and its training by
//! maximum likelihood.
//!
//! With `z ~ N(0, I_D)` and `y = f_K(... f_1(z))`, the change of variables gives
//! `log p(y) = log N(f⁻¹(y); 0, I) + Σ_k log |det ∂f_k⁻¹/∂y_k|` (Rezende & Mohamed 2015, eq. 5;
//! Papamakarios et al. 2017, eq. 2), computed by running the bijectors' inverses from the last
//! to the first and summing their ILDJs. [`Flow::masked_autoregressive`] stacks masked
//! autoregressive flows with the order reversed between steps (Papamakarios et al. 2017, §3.2):
//! each step then conditions on the coordinates the previous one predicted last.

use std::time::Instant;

use autodiff::optim::Optimizer;
use autodiff::prelude::*;
use distributions::{Distribution, Independent, Normal};
use smallvec::SmallVec;

use crate::activation::Activation;
use crate::autoregressive::AutoregressiveNetwork;
use crate::bijector::{Bijector, Permute};
use crate::data::shuffle;
use crate::layer::{LayerCx, Mode};
use crate::masked_autoregressive_flow::MaskedAutoregressiveFlow;
use crate::model::{FitOptions, ModelError};

/// A standard Normal of event size `D` transformed by a chain of bijectors, listed in the
/// sampling direction (base noise → data).
///
/// ```
/// use autodiff::prelude::*;
/// use layers::{Activation, Flow, LayerCx, Mode};
///
/// let flow = Flow::<f64>::masked_autoregressive(2, 3, &[16, 16], Activation::Relu);
/// let g = Graph::<f64>::new();
/// let mut store = ParamStore::new(0);
/// let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
/// let y = g.batched_input("y", &[2]);
/// let lp = flow.log_prob(y, &mut cx); // [B]
/// let draws = flow.sample(5, &mut cx); // [5, 2]
/// assert_eq!(draws.shape(), Shape::from(&[5, 2][..]));
/// ```
pub struct Flow<F: Scalar> {
    name: String,
    event_size: usize,
    bijectors: Vec<Box<dyn Bijector<F>>>,
    names: Vec<String>,
}

/// What one epoch of [`Flow::fit`] measured.
#[derive(Clone, Debug)]
pub struct FlowEpochStats {
    /// Epoch index, from 0.
    pub epoch: usize,
    /// Mean loss per example over the epoch's steps: the negative log-likelihood plus the
    /// regularizers (Keras adds regularization losses to the mean batch loss).
    pub loss: f64,
    /// Mean negative log-likelihood per example (nats).
    pub nll: f64,
    /// Steps taken.
    pub steps: usize,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

impl<F: Scalar> Flow<F> {
    /// The base distribution alone (no bijectors yet), over `event_size` values, named `flow`.
    pub fn new(event_size: usize) -> Self {
        Flow { name: "flow".into(), event_size, bijectors: Vec::new(), names: Vec::new() }
    }

    /// `num_steps` masked autoregressive flows of MADEs with `hidden_units` and `activation`
    /// (left-to-right order, Glorot-uniform kernels), with the coordinates reversed between
    /// consecutive steps.
    #[track_caller]
    pub fn masked_autoregressive(
        event_size: usize,
        num_steps: usize,
        hidden_units: &[usize],
        activation: Activation<F>,
    ) -> Self {
        let mut flow = Flow::new(event_size);
        for k in 0..num_steps {
            if k > 0 {
                flow.push(Box::new(Permute::reverse(event_size)));
            }
            let made = AutoregressiveNetwork::new(2)
                .event_shape(event_size)
                .hidden_units(hidden_units)
                .activation(activation.clone());
            flow.push(Box::new(MaskedAutoregressiveFlow::new(made).name("maf")));
        }
        flow
    }

    /// Sets the name (the scope of every parameter in the flow).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Appends a bijector, applied after the others when sampling.
    pub fn then(mut self, b: impl Bijector<F> + 'static) -> Self {
        self.push(Box::new(b));
        self
    }

    /// Appends a boxed bijector. Bijectors with the same name get suffixes (`maf`, `maf_1`, ...)
    /// so their parameters do not collide.
    pub fn push(&mut self, b: Box<dyn Bijector<F>>) {
        let base = b.name().to_string();
        let mut name = base.clone();
        let mut k = 0;
        while self.names.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.names.push(name);
        self.bijectors.push(b);
    }

    /// The event size `D`.
    pub fn event_size(&self) -> usize {
        self.event_size
    }

    /// The unique names of the bijectors, in sampling order.
    pub fn bijector_names(&self) -> &[String] {
        &self.names
    }

    /// The base distribution: `N(0, I_D)` as an `Independent` Normal with event `[D]`.
    pub fn base<'g>(&self, g: &'g Graph<F>) -> Independent<'g, F> {
        let d = self.event_size;
        let loc = broadcast_to(g.scalar(0.0), [d]);
        let scale = broadcast_to(g.scalar(1.0), [d]);
        Independent::new(Box::new(Normal::new(loc, scale)), 1)
    }

    /// `log p(y)` for `y [..., D]`, of shape `[...]`.
    #[track_caller]
    pub fn log_prob<'g>(&self, y: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let (x, ildj) = self.inverse_and_ildj(y, cx);
        if x.is_poisoned() {
            return x;
        }
        let g = cx.graph();
        g.scope(&self.name, || self.base(g).log_prob(x) + ildj)
    }

    /// The base noise `z = f⁻¹(y)` of `y [..., D]`, and the summed inverse log-determinants of
    /// the bijectors' Jacobians, `log |det ∂z/∂y|` (shape `[...]`, or a scalar 0 when no bijector
    /// changes volume).
    #[track_caller]
    pub fn inverse_and_ildj<'g>(
        &self,
        y: Tensor<'g, F>,
        cx: &mut LayerCx<'g, '_, F>,
    ) -> (Tensor<'g, F>, Tensor<'g, F>) {
        let g = cx.graph();
        if let Some(bad) = self.check_event(y) {
            return (bad, bad);
        }
        g.scope(&self.name, || {
            let mut x = y;
            let mut ildj = g.scalar(0.0);
            for (b, name) in self.bijectors.iter().zip(&self.names).rev() {
                let (xi, li) = g.scope(name, || b.inverse_and_ildj(x, cx));
                x = xi;
                ildj = ildj + li;
            }
            (x, ildj)
        })
    }

    /// The flow applied to base noise `eps [..., D]`: a draw for each row of noise.
    #[track_caller]
    pub fn sample_from_noise<'g>(&self, eps: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        if let Some(bad) = self.check_event(eps) {
            return bad;
        }
        g.scope(&self.name, || {
            let mut y = eps;
            for (b, name) in self.bijectors.iter().zip(&self.names) {
                y = g.scope(name, || b.forward(y, cx));
            }
            y
        })
    }

    /// `n` draws, `[n, D]`, from standard-normal noise drawn afresh on every run (the random
    /// leaf `<flow name>/base_noise`).
    #[track_caller]
    pub fn sample<'g>(&self, n: usize, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        let eps = g.scope(&self.name, || cx.noise(StandardNormal, [n, self.event_size], "base_noise"));
        self.sample_from_noise(eps, cx)
    }

    #[track_caller]
    fn check_event<'g>(&self, y: Tensor<'g, F>) -> Option<Tensor<'g, F>> {
        let g = y.graph();
        if y.is_poisoned() {
            return Some(g.poisoned());
        }
        let s = y.shape();
        if s.rank() >= 1 && s.dims()[s.rank() - 1].fixed() == Some(self.event_size) {
            return None;
        }
        let msg = format!("Flow ({}): values must be [..., {}], got {s}", self.name, self.event_size);
        g.record_shape_error("flow", ShapeError::Custom(msg), &[y]);
        Some(g.poisoned())
    }

    fn check_rows(&self, data: &[F]) -> Result<usize, ModelError> {
        let d = self.event_size;
        if d == 0 || data.is_empty() || !data.len().is_multiple_of(d) {
            return Err(ModelError::Data(format!(
                "{} values are not a whole, non-zero number of rows of {d} values",
                data.len()
            )));
        }
        Ok(data.len() / d)
    }

    /// Fits the flow to the rows of `data` (`n × D`, row-major) by minimising the mean negative
    /// log-likelihood (plus any regularizers) with `optimizer`, in mini-batches as
    /// [`Model::fit`](crate::Model::fit) does. Parameters live in `store` (created on first use).
    /// Calls `on_epoch` after every epoch; returns the per-epoch statistics. Unlike a `Model`, a
    /// flow keeps no training progress: each call shuffles as from epoch 0 of `opts.seed`, so
    /// continue a run across calls with a new seed per call.
    pub fn fit(
        &self,
        store: &mut ParamStore<F>,
        data: &[F],
        opts: &FitOptions,
        optimizer: &mut dyn Optimizer<F>,
        mut on_epoch: impl FnMut(&FlowEpochStats),
    ) -> Result<Vec<FlowEpochStats>, ModelError> {
        let n = self.check_rows(data)?;
        if opts.batch_size == 0 {
            return Err(ModelError::Data("batch_size must be at least 1".into()));
        }
        let d = self.event_size;
        let g = Graph::<F>::new();
        let mut cx = LayerCx::new(&g, store, Mode::Sample);
        let y = g.batched_input("y", &[d]);
        let nll = -reduce_mean(self.log_prob(y, &mut cx), &[0], false);
        let loss = match cx.total_regularization() {
            Some(r) => nll + r,
            None => nll,
        };
        let params = cx.trainable_params();
        drop(cx);
        let tensors: Vec<Tensor<'_, F>> = params.iter().map(|p| p.1).collect();
        let mut fetch = vec![loss, nll];
        fetch.extend(grad(loss, &tensors));
        let plan = g.compile(&fetch)?;
        let ids: Vec<ParamId> = params.iter().map(|p| p.0).collect();
        let mut session =
            Session::with_options(plan, opts.seed, SessionOptions { threads: opts.threads, check_finite: false });
        let mut order: Vec<usize> = (0..n).collect();
        let mut batch = Vec::with_capacity(opts.batch_size.min(n) * d);
        let mut history = Vec::with_capacity(opts.epochs);
        for epoch in 0..opts.epochs {
            let t0 = Instant::now();
            if opts.shuffle {
                order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
                shuffle(&mut order, opts.seed, epoch as u64);
            }
            let (mut loss_sum, mut nll_sum, mut steps) = (0.0, 0.0, 0usize);
            for rows in order.chunks(opts.batch_size) {
                batch.clear();
                for &r in rows {
                    batch.extend_from_slice(&data[r * d..(r + 1) * d]);
                }
                let out = session.run(store, &[("y", &batch)])?;
                let b = rows.len() as f64;
                loss_sum += out.scalar(0).to_f64_lossless() * b;
                nll_sum += out.scalar(1).to_f64_lossless() * b;
                steps += 1;
                let grads: SmallVec<[(ParamId, &[F]); 32]> =
                    ids.iter().enumerate().map(|(i, &id)| (id, out.get(2 + i))).collect();
                out.in_context(|| optimizer.step(store, &grads))?;
            }
            let stats = FlowEpochStats {
                epoch,
                loss: loss_sum / n as f64,
                nll: nll_sum / n as f64,
                steps,
                seconds: t0.elapsed().as_secs_f64(),
            };
            on_epoch(&stats);
            history.push(stats);
        }
        Ok(history)
    }

    /// `log p(y)` of each row of `data` (`n × D`, row-major), with the parameters in `store`
    /// (an error if they are not there: see [`Flow::fit`]).
    pub fn log_prob_values(&self, store: &ParamStore<F>, data: &[F]) -> Result<Vec<F>, ModelError> {
        self.check_rows(data)?;
        let g = Graph::<F>::new();
        let y = g.batched_input("y", &[self.event_size]);
        let lp = self.build_on(store, &g, |cx| self.log_prob(y, cx))?;
        let mut s = Session::new(g.compile(&[lp])?, store.seed());
        Ok(s.run(store, &[("y", data)])?[0].to_vec())
    }

    /// `n` draws (`n × D`, row-major) from base noise keyed by `seed`, with the parameters in
    /// `store` (an error if they are not there: see [`Flow::fit`]).
    pub fn sample_values(&self, store: &ParamStore<F>, n: usize, seed: u64) -> Result<Vec<F>, ModelError> {
        let g = Graph::<F>::new();
        let draws = self.build_on(store, &g, |cx| self.sample(n, cx))?;
        let mut s = Session::new(g.compile(&[draws])?, seed);
        Ok(s.run(store, &[])?[0].to_vec())
    }

    /// Builds `f` into `g` with the parameters of `store`. Building creates missing parameters,
    /// so it builds on a copy and refuses a flow whose parameters the store lacks (another name,
    /// or not trained): evaluating it would silently use fresh initial values.
    fn build_on<'g>(
        &self,
        store: &ParamStore<F>,
        g: &'g Graph<F>,
        f: impl FnOnce(&mut LayerCx<'g, '_, F>) -> Tensor<'g, F>,
    ) -> Result<Tensor<'g, F>, ModelError> {
        let mut copy = store.clone();
        let mut cx = LayerCx::new(g, &mut copy, Mode::Sample);
        let t = f(&mut cx);
        drop(cx);
        if let Some((_, p)) = copy.iter().nth(store.len()) {
            return Err(ModelError::Config(format!(
                "flow \"{}\": the store has no parameter \"{}\"; fit the flow on this store, or load its \
                 checkpoint, before evaluating it",
                self.name,
                p.path()
            )));
        }
        Ok(t)
    }
}
