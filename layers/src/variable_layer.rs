//! TFP's `VariableLayer`: a layer whose output is a trainable variable, whatever its input.
//!
//! It is `f(x) = c`, the way to learn an unconditional quantity inside a model built from
//! layers: a trainable prior's parameters (empirical Bayes, as in TFP's `DenseVariational`
//! examples), or a distribution's parameters learned without features.

use std::sync::Arc;

use autodiff::prelude::*;
use std::panic::Location;

use crate::activation::Activation;
use crate::layer::{in_user_code, Layer, LayerCx, LossKind};
use crate::variational::{regularization, Regularizer};

/// A function of a variable's value applied in the forward pass (e.g. `softplus` or `exp` for
/// positivity).
pub type Constraint<F> = Arc<dyn for<'g> Fn(Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync>;

/// Returns `activation(constraint(v))` for a parameter `v` of the given shape, ignoring its
/// input. The parameter is named `constant`, as TFP's.
///
/// * `shape`: any static shape (TFP's scalar-or-vector shape spec `n` is `[n]` here, `[a, b]`
///   is `[a, b]`). The output has exactly this shape: no batch axis is added, it broadcasts
///   where it is used.
/// * `initializer`: default zeros.
/// * `regularizer`: its value at the constrained variable is registered as a
///   [`LossKind::Regularizer`] loss.
/// * `constraint`: **unlike Keras**, which projects the variable after each optimizer step, the
///   constraint is a reparameterization: the stored variable is unconstrained and the layer
///   outputs `constraint(v)`, so every optimizer respects it and gradients flow through it. A
///   Keras constraint that is a projection (clipping, non-negativity) becomes its smooth
///   counterpart here (`softplus`, `exp`); the stored value then differs from the output.
/// * `activation`: applied last, default none.
/// * `trainable`: default true.
///
/// ```
/// use autodiff::prelude::*;
/// use layers::{build_layer, LayerCx, Mode, VariableLayer};
///
/// let layer = VariableLayer::<f64>::new(&[2]).initializer(Init::Constant(0.5));
/// let g = Graph::<f64>::new();
/// let mut store = ParamStore::new(0);
/// let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
/// let x = g.batched_input("x", &[7]);
/// let v = build_layer(&layer, x, &mut cx);
/// drop(cx);
/// let mut s = Session::new(g.compile(&[v]).unwrap(), 0);
/// assert_eq!(s.run(&store, &[]).unwrap()[0], [0.5, 0.5]);
/// ```
#[derive(Clone)]
pub struct VariableLayer<F: Scalar> {
    name: String,
    /// Where the layer was created (see [`Layer::origin`]).
    origin: &'static Location<'static>,
    /// The variable's (and the output's) shape.
    pub shape: Vec<usize>,
    /// Initializer of the variable (default: zeros).
    pub initializer: Init,
    /// Regularizer of the (constrained) variable.
    pub regularizer: Option<Regularizer<F>>,
    /// A function applied to the variable in the forward pass (see the type docs).
    pub constraint: Option<Constraint<F>>,
    /// Activation applied to the output (default: none).
    pub activation: Activation<F>,
    /// Whether optimizers update the variable (default: true).
    pub trainable: bool,
}

impl<F: Scalar> std::fmt::Debug for VariableLayer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariableLayer")
            .field("name", &self.name)
            .field("shape", &self.shape)
            .field("initializer", &self.initializer)
            .field("regularizer", &self.regularizer.is_some())
            .field("constraint", &self.constraint.is_some())
            .field("activation", &self.activation)
            .field("trainable", &self.trainable)
            .finish()
    }
}

impl<F: Scalar> VariableLayer<F> {
    /// A variable of `shape`, zero-initialised, named `variable_layer`.
    #[track_caller]
    pub fn new(shape: &[usize]) -> Self {
        VariableLayer {
            name: "variable_layer".into(),
            origin: Location::caller(),
            shape: shape.to_vec(),
            initializer: Init::Zeros,
            regularizer: None,
            constraint: None,
            activation: Activation::Linear,
            trainable: true,
        }
    }
    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the initializer.
    pub fn initializer(mut self, i: Init) -> Self {
        self.initializer = i;
        self
    }
    /// Sets the regularizer.
    pub fn regularizer(mut self, r: impl for<'g> Fn(Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync + 'static) -> Self {
        self.regularizer = Some(Arc::new(r));
        self
    }
    /// Sets the constraint (applied as a reparameterization).
    pub fn constraint(mut self, c: impl for<'g> Fn(Tensor<'g, F>) -> Tensor<'g, F> + Send + Sync + 'static) -> Self {
        self.constraint = Some(Arc::new(c));
        self
    }
    /// Sets the activation.
    pub fn activation(mut self, a: Activation<F>) -> Self {
        self.activation = a;
        self
    }
    /// Freezes or unfreezes the variable.
    pub fn trainable(mut self, t: bool) -> Self {
        self.trainable = t;
        self
    }
}

impl<F: Scalar> Layer<F> for VariableLayer<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn origin(&self) -> Option<&'static Location<'static>> {
        Some(self.origin)
    }

    fn forward<'g>(&self, _x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let v = cx.param("constant", &self.shape, self.initializer, self.trainable);
        let v = match &self.constraint {
            Some(c) => in_user_code(v.graph(), || c(v)),
            None => v,
        };
        if let Some(r) = &self.regularizer {
            cx.add_loss("regularizer", regularization(r, v), LossKind::Regularizer);
        }
        self.activation.apply(v)
    }
}
