//! The [`Layer`] trait and the context layers build into.
//!
//! A layer is a configuration: it holds no parameters itself. When it builds its part of a
//! graph it asks the context for parameters by name; the context creates them in the
//! [`ParamStore`] at `scope/name` on first use (Keras' `build`) and returns the same parameter
//! afterwards, so one layer builds training, prediction and evaluation graphs that share weights.

use autodiff::prelude::*;
use autodiff::rng::fold_in;
use autodiff::{random::Sampler, ParamId};

/// How variational layers turn their posteriors into tensors when the graph is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Each layer uses its `*_posterior_tensor_fn` (by default a fresh sample per run), as in TFP.
    #[default]
    Sample,
    /// Every variational layer uses its posterior mean: the deterministic "mean network". TFP
    /// only offers this at construction (`kernel_posterior_tensor_fn=lambda d: d.mean()`).
    Mean,
}

/// What kind of term a loss is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// A KL divergence (or Monte-Carlo estimate) between a posterior and its prior, already
    /// multiplied by the layer's `kl_weight`.
    Divergence,
    /// An activity or parameter regularizer.
    Regularizer,
}

/// A loss a layer registered while building (TFP's `layer.losses`).
#[derive(Clone, Copy, Debug)]
pub struct Loss<'g, F: Scalar> {
    /// Scalar tensor.
    pub value: Tensor<'g, F>,
    /// Divergence or regularizer.
    pub kind: LossKind,
}

/// The context a layer builds into: the graph, the parameter store, the losses registered so
/// far, the mode, and the noise seed of the layer being built.
pub struct LayerCx<'g, 's, F: Scalar> {
    g: &'g Graph<F>,
    store: &'s mut ParamStore<F>,
    losses: Vec<(String, Loss<'g, F>)>,
    params: Vec<(ParamId, Tensor<'g, F>)>,
    mode: Mode,
    seed: Option<u64>,
    overrides: Option<std::collections::HashMap<String, Tensor<'g, F>>>,
}

impl<'g, 's, F: Scalar> LayerCx<'g, 's, F> {
    /// A context building into `g` with parameters in `store`.
    pub fn new(g: &'g Graph<F>, store: &'s mut ParamStore<F>, mode: Mode) -> Self {
        LayerCx { g, store, losses: Vec::new(), params: Vec::new(), mode, seed: None, overrides: None }
    }

    /// A context in which parameters whose path is in `tensors` are those tensors instead of
    /// parameter nodes (other parameters come from `store`). Gradient checks use it to treat a
    /// layer's parameters as inputs; see `layers::testing` (feature `testing`).
    pub fn with_param_tensors(
        g: &'g Graph<F>,
        store: &'s mut ParamStore<F>,
        mode: Mode,
        tensors: std::collections::HashMap<String, Tensor<'g, F>>,
    ) -> Self {
        LayerCx { overrides: Some(tensors), ..Self::new(g, store, mode) }
    }

    /// The graph.
    pub fn graph(&self) -> &'g Graph<F> {
        self.g
    }

    /// The parameter store.
    pub fn store(&self) -> &ParamStore<F> {
        self.store
    }

    /// The build mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The parameter `scope/name` as a graph tensor, created with `init` on first use. A
    /// parameter that exists with another shape is recorded as a graph error naming the path
    /// and both shapes.
    #[track_caller]
    pub fn param(&mut self, name: &str, shape: &[usize], init: Init, trainable: bool) -> Tensor<'g, F> {
        let scope = self.g.scope_path();
        let path = if scope.is_empty() { name.to_string() } else { format!("{scope}/{name}") };
        if let Some(t) = self.overrides.as_ref().and_then(|o| o.get(&path)) {
            return *t;
        }
        match self.store.create(&path, shape, init) {
            Ok(id) => {
                if !trainable {
                    self.store.set_trainable(id, false);
                }
                let t = self.g.param(self.store, id);
                self.params.push((id, t));
                t
            }
            Err(msg) => {
                self.g.record_shape_error("param", ShapeError::Custom(msg), &[]);
                self.g.poisoned()
            }
        }
    }

    /// Standard-normal (or other) noise for the layer being built: a random leaf salted by the
    /// scope and `salt`, keyed by the layer's seed if it has one (else the session seed).
    #[track_caller]
    pub fn noise(&self, sampler: impl Sampler<F>, shape: impl Into<Shape>, salt: &str) -> Tensor<'g, F> {
        self.g.random_seeded(sampler, shape, salt, self.seed)
    }

    /// Runs `f` with `seed` keying the noise of the layer being built (nested layers derive
    /// their own seeds from it).
    pub fn with_seed<R>(&mut self, seed: Option<u64>, f: impl FnOnce(&mut Self) -> R) -> R {
        let old = self.seed;
        self.seed = match (seed, old) {
            (Some(s), _) => Some(s),
            (None, Some(o)) => Some(fold_in(o, autodiff::rng::hash_str(&self.g.scope_path()))),
            (None, None) => None,
        };
        let r = f(self);
        self.seed = old;
        r
    }

    /// Registers a loss under `scope/label`.
    pub fn add_loss(&mut self, label: &str, value: Tensor<'g, F>, kind: LossKind) {
        let scope = self.g.scope_path();
        let name = if scope.is_empty() { label.to_string() } else { format!("{scope}/{label}") };
        self.losses.push((name, Loss { value, kind }));
    }

    /// The losses registered so far, with their labels.
    pub fn losses(&self) -> &[(String, Loss<'g, F>)] {
        &self.losses
    }

    /// The sum of all registered divergences (the KL term of the ELBO), or `None` if there are
    /// none.
    pub fn total_divergence(&self) -> Option<Tensor<'g, F>> {
        sum_losses(self.losses.iter().filter(|(_, l)| l.kind == LossKind::Divergence).map(|(_, l)| l.value))
    }

    /// The sum of all registered regularizers, or `None`.
    pub fn total_regularization(&self) -> Option<Tensor<'g, F>> {
        sum_losses(self.losses.iter().filter(|(_, l)| l.kind == LossKind::Regularizer).map(|(_, l)| l.value))
    }

    /// The parameters used in this graph, with their tensors, in order of first use.
    pub fn params(&self) -> &[(ParamId, Tensor<'g, F>)] {
        &self.params
    }

    /// The trainable parameters used in this graph.
    pub fn trainable_params(&self) -> Vec<(ParamId, Tensor<'g, F>)> {
        let mut seen = std::collections::HashSet::new();
        self.params.iter().filter(|(id, _)| self.store.param(*id).trainable() && seen.insert(*id)).copied().collect()
    }
}

fn sum_losses<'g, F: Scalar>(mut it: impl Iterator<Item = Tensor<'g, F>>) -> Option<Tensor<'g, F>> {
    let first = it.next()?;
    Some(it.fold(first, |a, b| a + b))
}

/// A building block of a model: it adds its computation to a graph and registers its losses.
///
/// Implement this to write your own layer; `examples/src/noisy_gate.rs` is a complete one (a
/// variational gate with its own parameters and KL), trained and gradient-checked by the
/// `custom_layer` example.
pub trait Layer<F: Scalar>: Send + Sync {
    /// The layer's name, used as its name scope (parameter paths and noise salts).
    fn name(&self) -> &str;

    /// Adds the layer's computation on `x` to the graph. Called inside the layer's name scope
    /// by [`build_layer`]; call `build_layer` for sublayers.
    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F>;

    /// The layer's own noise seed, if any.
    fn seed(&self) -> Option<u64> {
        None
    }

    /// The line that created the layer. Errors recorded while the layer builds name this line
    /// instead of the library lines that built the failing nodes, since the fix (units, shapes,
    /// constants) belongs where the layer was configured. Capture it with
    /// [`Location::caller`](std::panic::Location::caller) in a `#[track_caller]` constructor;
    /// `None` (the default) keeps the nodes' own lines, which for a layer written outside this
    /// crate are already the author's.
    fn origin(&self) -> Option<&'static std::panic::Location<'static>> {
        None
    }
}

/// Runs `f`, a function the user handed to a layer (an activation, a divergence, a posterior
/// builder, a constraint, a regularizer), with the errors it records naming its own lines:
/// inside [`build_layer`] they would otherwise name the line that created the layer.
pub(crate) fn in_user_code<F: Scalar, R>(g: &Graph<F>, f: impl FnOnce() -> R) -> R {
    g.attributed_to(None, f)
}

/// Builds `layer` on `x` inside its name scope and with its seed.
#[track_caller]
pub fn build_layer<'g, F: Scalar>(
    layer: &dyn Layer<F>,
    x: Tensor<'g, F>,
    cx: &mut LayerCx<'g, '_, F>,
) -> Tensor<'g, F> {
    let g = cx.graph();
    g.attributed_to(layer.origin(), || g.scope(layer.name(), || cx.with_seed(layer.seed(), |cx| layer.forward(x, cx))))
}
