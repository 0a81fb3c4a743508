//! MADE, the masked autoencoder for distribution estimation (Germain et al. 2015, "MADE: Masked
//! Autoencoder for Distribution Estimation", §4), as TFP's `tfp.bijectors.AutoregressiveNetwork`.
//!
//! A MADE is a stack of dense layers whose kernels are multiplied by binary masks, so output
//! `e` depends only on inputs that come before `e` in an ordering of the inputs: with inputs
//! numbered by their *degree* (their position in the ordering, from 1), output `e` is a function
//! of the inputs of degree `< degree(e)`. This is what lets it parameterise autoregressive
//! densities `p(x) = Π p(x_e | x_<e)` and the shift and log-scale of a masked autoregressive flow
//! (Papamakarios et al. 2017); see [`crate::MaskedAutoregressiveFlow`].
//!
//! # Degrees and masks (Germain et al. 2015, eqs. 12–13; TFP's `_create_degrees`, `_create_masks`)
//!
//! Degrees are 1-based. The inputs get the degrees of [`InputOrder`]. Each hidden layer of `u`
//! units gets degrees in `[m, D − 1]`, `m = min(min(previous degrees), D − 1)`:
//! [`HiddenDegrees::Equal`] spreads them as `max(m, ⌈k (D − 1) / (u + 1)⌉)` for `k = 1..u`,
//! [`HiddenDegrees::Random`] draws them uniformly. A hidden unit may see a unit of the previous
//! layer if `deg_prev ≤ deg_next`; output `e` may see the last hidden layer's unit if
//! `deg_last < deg_input[e]`, strictly. Each output unit is repeated for the `params` values
//! predicted per input: **output column `e·params + p`**, reshaped to `[..., D, params]`.
//! [`made_degrees`] and [`made_masks`] compute exactly these.
//!
//! # Where this differs from TFP, on purpose
//!
//! * TFP enforces the masks only through the kernel initializer and a kernel constraint applied
//!   after each optimizer step, so the autoregressive property holds only as long as every update
//!   goes through a constrained optimizer. Here the forward pass multiplies the kernel by the
//!   mask (a constant tensor), so the property holds for any weights. The masked-out kernel
//!   entries get zero gradient and never influence anything; they keep their initial values.
//! * `input_order='random'` and `hidden_degrees='random'` use NumPy's global, unseeded generator
//!   in TFP. Here they take a seed, so every graph built from one network has the same masks.
//! * `event_shape` and `conditional_event_shape` are inferred from the inputs when not given
//!   (TFP requires both when `conditional=True`); when given they are checked against the inputs.
//! * `kernel_constraint` and `bias_constraint` are not offered.

use autodiff::prelude::*;
use autodiff::rng::{fold_in, hash_str, CounterRng};
use std::panic::Location;

use crate::activation::Activation;
use crate::layer::{Layer, LayerCx, LossKind};
use crate::variational::{regularization, Regularizer};

/// The ordering of the inputs: the degree (1-based position) of each input.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum InputOrder {
    /// Degrees `[1, 2, ..., D]` (TFP's default, `'left-to-right'`).
    #[default]
    LeftToRight,
    /// Degrees `[D, ..., 2, 1]` (`'right-to-left'`).
    RightToLeft,
    /// A random permutation of `1..=D` drawn from `seed` (`'random'`, seeded here).
    Random {
        /// Seed of the permutation.
        seed: u64,
    },
    /// Explicit degrees: a permutation of `1..=D`, anything else is an error.
    Explicit(Vec<usize>),
}

/// How hidden units get their degrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HiddenDegrees {
    /// Evenly spread over `[m, D − 1]` (TFP's default, `'equal'`).
    #[default]
    Equal,
    /// Uniform integers in `[m, D − 1]` drawn from `seed` (`'random'`, seeded here).
    Random {
        /// Seed of the draws (one stream for all hidden layers).
        seed: u64,
    },
}

/// Which layers receive the conditional input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConditionalInputLayers {
    /// Every layer (TFP's default, `'all_layers'`).
    #[default]
    AllLayers,
    /// Only the first layer (`'first_layer'`). With hidden layers and more than one input, the
    /// outputs of the degree-1 input then do not depend on the conditional input (as in TFP):
    /// they see no hidden unit, only their bias.
    FirstLayer,
}

/// The degrees of the inputs and of each hidden layer: `[input, hidden_1, ..., hidden_L]`,
/// exactly as TFP's `_create_degrees` (with seeded randomness). Errors on an empty event, an
/// empty hidden layer, or an explicit order that is not a permutation of `1..=D`.
pub fn made_degrees(
    event_size: usize,
    hidden_units: &[usize],
    input_order: &InputOrder,
    hidden_degrees: &HiddenDegrees,
) -> Result<Vec<Vec<usize>>, String> {
    let d = event_size;
    if d == 0 {
        return Err("the event size must be at least 1".into());
    }
    let input: Vec<usize> = match input_order {
        InputOrder::LeftToRight => (1..=d).collect(),
        InputOrder::RightToLeft => (1..=d).rev().collect(),
        InputOrder::Random { seed } => {
            let mut v: Vec<usize> = (1..=d).collect();
            let mut rng = CounterRng::new(fold_in(*seed, hash_str("made/input_order")));
            for i in (1..d).rev() {
                let j = ((rng.uniform() * (i + 1) as f64) as usize).min(i);
                v.swap(i, j);
            }
            v
        }
        InputOrder::Explicit(v) => {
            let mut sorted = v.clone();
            sorted.sort_unstable();
            if sorted != (1..=d).collect::<Vec<_>>() {
                return Err(format!("input_order {v:?} is not a permutation of 1..={d} (degrees are 1-based)"));
            }
            v.clone()
        }
    };
    let mut degrees = vec![input];
    let mut rng = match hidden_degrees {
        HiddenDegrees::Random { seed } => Some(CounterRng::new(fold_in(*seed, hash_str("made/hidden_degrees")))),
        HiddenDegrees::Equal => None,
    };
    for (l, &u) in hidden_units.iter().enumerate() {
        if u == 0 {
            return Err(format!("hidden layer {l} has 0 units"));
        }
        let prev_min = degrees.last().and_then(|p| p.iter().min().copied()).unwrap_or(1);
        let m = prev_min.min(d - 1);
        let layer: Vec<usize> = match rng.as_mut() {
            // ⌈k (D − 1) / (u + 1)⌉ in integers: exact where TFP's float division is exact too.
            None => (1..=u).map(|k| m.max((k * (d - 1)).div_ceil(u + 1))).collect(),
            // randint(low = m, high = D): uniform on m..D−1.
            Some(r) => (0..u).map(|_| (m + (r.uniform() * (d - m) as f64) as usize).min(d - 1)).collect(),
        };
        degrees.push(layer);
    }
    Ok(degrees)
}

/// The masks, each `[inputs][outputs]` (`true` = connected), as TFP's `_create_masks` with the
/// last one tiled over `params`: between layers `deg_prev[i] ≤ deg_next[j]`; into the output
/// column `e·params + p`, `deg_last[i] < deg_input[e]`.
pub fn made_masks(degrees: &[Vec<usize>], params: usize) -> Vec<Vec<Vec<bool>>> {
    let Some(input) = degrees.first() else { return vec![] };
    let mut masks: Vec<Vec<Vec<bool>>> =
        degrees.windows(2).map(|w| w[0].iter().map(|&a| w[1].iter().map(|&b| a <= b).collect()).collect()).collect();
    let last = degrees.last().expect("invariant: degrees is not empty");
    masks
        .push(last.iter().map(|&a| input.iter().flat_map(|&e| std::iter::repeat_n(a < e, params)).collect()).collect());
    masks
}

/// MADE, TFP's `AutoregressiveNetwork`: maps `x [..., D]` to `[..., D, params]`, where
/// `out[..., e, p]` depends only on the inputs of degree below `e`'s (see the module docs).
///
/// Parameters (per layer `k`, from 0): `kernel_k` `[in, out]` (multiplied by its mask in the
/// forward pass), `bias_k`, and with a conditional input `conditional_kernel_k` `[C, out]`.
///
/// ```
/// use autodiff::prelude::*;
/// use layers::{build_layer, Activation, AutoregressiveNetwork, LayerCx, Mode};
///
/// let made = AutoregressiveNetwork::<f64>::new(2).event_shape(3).hidden_units(&[8]).activation(Activation::Tanh);
/// let g = Graph::<f64>::new();
/// let mut store = ParamStore::new(0);
/// let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
/// let x = g.batched_input("x", &[3]);
/// let out = build_layer(&made, x, &mut cx);
/// assert_eq!(out.shape(), Shape::new([B, 3.into(), 2.into()]));
/// ```
#[derive(Clone)]
pub struct AutoregressiveNetwork<F: Scalar> {
    name: String,
    /// Where the layer was created (see [`Layer::origin`]).
    origin: &'static Location<'static>,
    /// Values predicted per input (e.g. 2 for a shift and a log-scale).
    pub params: usize,
    /// The event size `D` (TFP's rank-1 `event_shape`); `None` infers it from the input's last
    /// dimension.
    pub event_shape: Option<usize>,
    /// Whether the network takes a conditional input (see
    /// [`forward_conditional`](AutoregressiveNetwork::forward_conditional)).
    pub conditional: bool,
    /// The conditional input's size `C`; `None` infers it from that input's last dimension.
    pub conditional_event_shape: Option<usize>,
    /// Which layers get the conditional input.
    pub conditional_input_layers: ConditionalInputLayers,
    /// Units of each hidden layer (default: none, a single masked linear map).
    pub hidden_units: Vec<usize>,
    /// The inputs' ordering.
    pub input_order: InputOrder,
    /// How hidden units get degrees.
    pub hidden_degrees: HiddenDegrees,
    /// Activation between layers, not after the last (default: none).
    pub activation: Activation<F>,
    /// Whether layers add a bias (default: true).
    pub use_bias: bool,
    /// Initializer of the kernels, conditional ones included (default: Glorot uniform, with the
    /// fans of the full `[in, out]` kernel, as TFP's masked initializer).
    pub kernel_initializer: Init,
    /// Initializer of the biases (default: zeros).
    pub bias_initializer: Init,
    /// Regularizer of each masked kernel (and conditional kernel), registered as a loss.
    pub kernel_regularizer: Option<Regularizer<F>>,
    /// Regularizer of each bias, registered as a loss.
    pub bias_regularizer: Option<Regularizer<F>>,
    /// Whether optimizers update the parameters (default: true).
    pub trainable: bool,
}

impl<F: Scalar> std::fmt::Debug for AutoregressiveNetwork<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoregressiveNetwork")
            .field("name", &self.name)
            .field("params", &self.params)
            .field("event_shape", &self.event_shape)
            .field("conditional", &self.conditional)
            .field("conditional_event_shape", &self.conditional_event_shape)
            .field("conditional_input_layers", &self.conditional_input_layers)
            .field("hidden_units", &self.hidden_units)
            .field("input_order", &self.input_order)
            .field("hidden_degrees", &self.hidden_degrees)
            .field("activation", &self.activation)
            .field("use_bias", &self.use_bias)
            .finish_non_exhaustive()
    }
}

impl<F: Scalar> AutoregressiveNetwork<F> {
    /// A MADE predicting `params` values per input, named `autoregressive_network`, with TFP's
    /// defaults.
    #[track_caller]
    pub fn new(params: usize) -> Self {
        AutoregressiveNetwork {
            name: "autoregressive_network".into(),
            origin: Location::caller(),
            params,
            event_shape: None,
            conditional: false,
            conditional_event_shape: None,
            conditional_input_layers: ConditionalInputLayers::AllLayers,
            hidden_units: Vec::new(),
            input_order: InputOrder::LeftToRight,
            hidden_degrees: HiddenDegrees::Equal,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Init::GlorotUniform,
            bias_initializer: Init::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            trainable: true,
        }
    }
    /// Sets the name (the scope of the parameters).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the event size `D`.
    pub fn event_shape(mut self, d: usize) -> Self {
        self.event_shape = Some(d);
        self
    }
    /// Makes the network conditional (or not).
    pub fn conditional(mut self, c: bool) -> Self {
        self.conditional = c;
        self
    }
    /// Sets the conditional input's size `C` (and makes the network conditional).
    pub fn conditional_event_shape(mut self, c: usize) -> Self {
        self.conditional = true;
        self.conditional_event_shape = Some(c);
        self
    }
    /// Sets which layers get the conditional input.
    pub fn conditional_input_layers(mut self, l: ConditionalInputLayers) -> Self {
        self.conditional_input_layers = l;
        self
    }
    /// Sets the hidden layers' sizes.
    pub fn hidden_units(mut self, units: &[usize]) -> Self {
        self.hidden_units = units.to_vec();
        self
    }
    /// Sets the input order.
    pub fn input_order(mut self, o: InputOrder) -> Self {
        self.input_order = o;
        self
    }
    /// Sets how hidden units get degrees.
    pub fn hidden_degrees(mut self, h: HiddenDegrees) -> Self {
        self.hidden_degrees = h;
        self
    }
    /// Sets the activation between layers.
    pub fn activation(mut self, a: Activation<F>) -> Self {
        self.activation = a;
        self
    }
    /// Adds or removes the biases.
    pub fn use_bias(mut self, b: bool) -> Self {
        self.use_bias = b;
        self
    }
    /// Sets the kernel initializer.
    pub fn kernel_initializer(mut self, i: Init) -> Self {
        self.kernel_initializer = i;
        self
    }
    /// Sets the bias initializer.
    pub fn bias_initializer(mut self, i: Init) -> Self {
        self.bias_initializer = i;
        self
    }
    /// Sets the kernel regularizer.
    pub fn kernel_regularizer(mut self, r: Option<Regularizer<F>>) -> Self {
        self.kernel_regularizer = r;
        self
    }
    /// Sets the bias regularizer.
    pub fn bias_regularizer(mut self, r: Option<Regularizer<F>>) -> Self {
        self.bias_regularizer = r;
        self
    }
    /// Freezes or unfreezes the parameters.
    pub fn trainable(mut self, t: bool) -> Self {
        self.trainable = t;
        self
    }

    /// The degrees for an event of `event_size` inputs (see [`made_degrees`]).
    pub fn degrees(&self, event_size: usize) -> Result<Vec<Vec<usize>>, String> {
        made_degrees(event_size, &self.hidden_units, &self.input_order, &self.hidden_degrees)
    }

    /// The masks for an event of `event_size` inputs (see [`made_masks`]).
    pub fn masks(&self, event_size: usize) -> Result<Vec<Vec<Vec<bool>>>, String> {
        Ok(made_masks(&self.degrees(event_size)?, self.params))
    }

    /// The network on `x [..., D]` with the conditional input `cond [..., C]` (TFP's
    /// `call(x, conditional_input)`; [`Layer::forward`] takes one input). Builds inside the
    /// network's name scope, like [`build_layer`](crate::build_layer), so it shares parameters
    /// with graphs built either way, and its errors name the line that created the network. The output is `broadcast(cond batch, x batch) + [D, params]`;
    /// a rank-1 `x` or `cond` counts as a batch of one that is not kept.
    ///
    /// Unmasked, bias-free dense maps of `cond` are added to the pre-activations of every layer
    /// ([`ConditionalInputLayers::AllLayers`]) or of the first. Passing a conditional input to a
    /// network that is not [`conditional`](AutoregressiveNetwork::conditional) is an error, as
    /// is building a conditional network without one.
    #[track_caller]
    pub fn forward_conditional<'g>(
        &self,
        x: Tensor<'g, F>,
        cond: Tensor<'g, F>,
        cx: &mut LayerCx<'g, '_, F>,
    ) -> Tensor<'g, F> {
        let g = cx.graph();
        g.attributed_to(Some(self.origin), || {
            g.scope(&self.name, || cx.with_seed(None, |cx| self.build(x, Some(cond), cx)))
        })
    }

    #[track_caller]
    fn fail<'g>(&self, g: &'g Graph<F>, msg: String, inputs: &[Tensor<'g, F>]) -> Tensor<'g, F> {
        let msg = format!("AutoregressiveNetwork ({}): {msg}", self.name);
        g.record_shape_error("autoregressive_network", ShapeError::Custom(msg), inputs);
        g.poisoned()
    }

    #[track_caller]
    fn build<'g>(&self, x: Tensor<'g, F>, cond: Option<Tensor<'g, F>>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        let g = cx.graph();
        let inputs: Vec<Tensor<'g, F>> = std::iter::once(x).chain(cond).collect();
        if inputs.iter().any(|t| t.is_poisoned()) {
            return g.poisoned();
        }
        if self.params == 0 {
            return self.fail(g, "params must be at least 1".into(), &inputs);
        }
        let xs = x.shape();
        let Some(d) = xs.dims().last().and_then(|d| d.fixed()) else {
            return self.fail(g, format!("the input must be [..., D] with a known D, got {xs}"), &inputs);
        };
        if let Some(e) = self.event_shape.filter(|&e| e != d) {
            return self.fail(g, format!("event_shape is [{e}] but the input is {xs}"), &inputs);
        }
        let cond = match (self.conditional, cond) {
            (true, None) => {
                return self.fail(
                    g,
                    "`conditional` is set but no conditional input was given (use forward_conditional)".into(),
                    &inputs,
                )
            }
            (false, Some(_)) => {
                return self.fail(g, "a conditional input was given but `conditional` is false".into(), &inputs)
            }
            (_, c) => c,
        };
        let mut batch = Shape::from(&xs.dims()[..xs.rank() - 1]);
        let cond = match cond {
            None => None,
            Some(c) => {
                let cs = c.shape();
                let Some(cd) = cs.dims().last().and_then(|d| d.fixed()) else {
                    return self.fail(
                        g,
                        format!("the conditional input must be [..., C] with a known C, got {cs}"),
                        &inputs,
                    );
                };
                if let Some(e) = self.conditional_event_shape.filter(|&e| e != cd) {
                    return self.fail(
                        g,
                        format!("conditional_event_shape is [{e}] but the conditional input is {cs}"),
                        &inputs,
                    );
                }
                match batch.broadcast_with(&Shape::from(&cs.dims()[..cs.rank() - 1])) {
                    Ok(b) => batch = b,
                    Err(_) => {
                        return self.fail(
                            g,
                            format!(
                                "the batch shapes of the input {xs} and the conditional input {cs} do not broadcast"
                            ),
                            &inputs,
                        )
                    }
                }
                Some((if cs.rank() == 1 { expand_dims(c, 0) } else { c }, cd))
            }
        };
        let masks = match self.masks(d) {
            Ok(m) => m,
            Err(e) => return self.fail(g, e, &inputs),
        };
        let mut h = if xs.rank() == 1 { expand_dims(x, 0) } else { x };
        let n_layers = masks.len();
        for (k, mask) in masks.iter().enumerate() {
            let (n_in, n_out) = (mask.len(), mask[0].len());
            let values: Vec<f64> = mask.iter().flatten().map(|&m| if m { 1.0 } else { 0.0 }).collect();
            let kernel = cx.param(&format!("kernel_{k}"), &[n_in, n_out], self.kernel_initializer, self.trainable);
            let w = kernel * g.constant_f64(&values, [n_in, n_out]);
            if let Some(r) = &self.kernel_regularizer {
                cx.add_loss(&format!("kernel_{k}_regularizer"), regularization(r, w), LossKind::Regularizer);
            }
            let mut a = matmul(h, w);
            if self.use_bias {
                let b = cx.param(&format!("bias_{k}"), &[n_out], self.bias_initializer, self.trainable);
                if let Some(r) = &self.bias_regularizer {
                    cx.add_loss(&format!("bias_{k}_regularizer"), regularization(r, b), LossKind::Regularizer);
                }
                a = a + b;
            }
            if let Some((c, cd)) = cond {
                if k == 0 || self.conditional_input_layers == ConditionalInputLayers::AllLayers {
                    let name = format!("conditional_kernel_{k}");
                    let wc = cx.param(&name, &[cd, n_out], self.kernel_initializer, self.trainable);
                    if let Some(r) = &self.kernel_regularizer {
                        cx.add_loss(&format!("{name}_regularizer"), regularization(r, wc), LossKind::Regularizer);
                    }
                    a = a + matmul(c, wc);
                }
            }
            h = if k + 1 < n_layers { self.activation.apply(a) } else { a };
        }
        let mut out = batch;
        out.dims_mut().push(d.into());
        out.dims_mut().push(self.params.into());
        reshape(h, out)
    }
}

impl<F: Scalar> Layer<F> for AutoregressiveNetwork<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn origin(&self) -> Option<&'static Location<'static>> {
        Some(self.origin)
    }

    fn forward<'g>(&self, x: Tensor<'g, F>, cx: &mut LayerCx<'g, '_, F>) -> Tensor<'g, F> {
        self.build(x, None, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bools(rows: &[&[u8]]) -> Vec<Vec<bool>> {
        rows.iter().map(|r| r.iter().map(|&v| v == 1).collect()).collect()
    }

    /// Reachability input → output column: the boolean product of the masks.
    fn reach(masks: &[Vec<Vec<bool>>]) -> Vec<Vec<bool>> {
        let mut r = masks[0].clone();
        for m in &masks[1..] {
            r = r
                .iter()
                .map(|row| (0..m[0].len()).map(|j| row.iter().zip(m).any(|(&a, mr)| a && mr[j])).collect())
                .collect();
        }
        r
    }

    // The worked masks of the reference (§3.4), configuration by configuration.

    #[test]
    fn d3_hidden4_left_to_right_params2() {
        let deg = made_degrees(3, &[4], &InputOrder::LeftToRight, &HiddenDegrees::Equal).unwrap();
        // ⌈k·2/5⌉ for k = 1..4: ⌈0.4⌉, ⌈0.8⌉, ⌈1.2⌉, ⌈1.6⌉ = 1, 1, 2, 2.
        assert_eq!(deg, vec![vec![1, 2, 3], vec![1, 1, 2, 2]]);
        let masks = made_masks(&deg, 2);
        assert_eq!(masks.len(), 2);
        assert_eq!(masks[0], bools(&[&[1, 1, 1, 1], &[0, 0, 1, 1], &[0, 0, 0, 0]]));
        assert_eq!(
            masks[1],
            bools(&[&[0, 0, 1, 1, 1, 1], &[0, 0, 1, 1, 1, 1], &[0, 0, 0, 0, 1, 1], &[0, 0, 0, 0, 1, 1]])
        );
        // x1 → columns 2..5, x2 → 4, 5, x3 → none; columns 0, 1 are bias only.
        assert_eq!(reach(&masks), bools(&[&[0, 0, 1, 1, 1, 1], &[0, 0, 0, 0, 1, 1], &[0, 0, 0, 0, 0, 0]]));
    }

    #[test]
    fn d4_hidden55_reversed_params1() {
        let order = InputOrder::Explicit(vec![4, 3, 2, 1]);
        let deg = made_degrees(4, &[5, 5], &order, &HiddenDegrees::Equal).unwrap();
        // ⌈k·3/6⌉ for k = 1..5: 1, 1, 2, 2, 3 (m = 1 in both layers).
        assert_eq!(deg, vec![vec![4, 3, 2, 1], vec![1, 1, 2, 2, 3], vec![1, 1, 2, 2, 3]]);
        assert_eq!(deg, made_degrees(4, &[5, 5], &InputOrder::RightToLeft, &HiddenDegrees::Equal).unwrap());
        let masks = made_masks(&deg, 1);
        assert_eq!(masks.len(), 3);
        // Rows are inputs x1..x4 (degrees 4, 3, 2, 1), columns outputs 0..3: output e sees the
        // inputs of smaller degree, so x1 (degree 4) reaches nothing and x4 (degree 1) all but itself.
        let r = reach(&masks);
        assert_eq!(r, bools(&[&[0, 0, 0, 0], &[1, 0, 0, 0], &[1, 1, 0, 0], &[1, 1, 1, 0]]));
        for (i, row) in r.iter().enumerate() {
            for (e, &v) in row.iter().enumerate() {
                assert_eq!(v, deg[0][i] < deg[0][e], "input {i} → output {e}");
            }
        }
        assert_eq!(masks[1], bools(&[&[1; 5], &[1; 5], &[0, 0, 1, 1, 1], &[0, 0, 1, 1, 1], &[0, 0, 0, 0, 1]]));
    }

    #[test]
    fn d1_hidden3_is_bias_only() {
        let deg = made_degrees(1, &[3], &InputOrder::LeftToRight, &HiddenDegrees::Equal).unwrap();
        // m = min(1, D − 1) = 0 and ⌈k·0/4⌉ = 0.
        assert_eq!(deg, vec![vec![1], vec![0, 0, 0]]);
        let masks = made_masks(&deg, 2);
        assert_eq!(masks[0], bools(&[&[0, 0, 0]]));
        // Hidden degree 0 < 1: the hidden units feed the outputs, but see nothing.
        assert_eq!(masks[1], bools(&[&[1, 1], &[1, 1], &[1, 1]]));
        assert_eq!(reach(&masks), bools(&[&[0, 0]]));
        let random = made_degrees(1, &[3], &InputOrder::LeftToRight, &HiddenDegrees::Random { seed: 5 }).unwrap();
        assert_eq!(random[1], vec![0, 0, 0]);
    }

    #[test]
    fn d3_no_hidden_is_one_tiled_mask() {
        let deg = made_degrees(3, &[], &InputOrder::LeftToRight, &HiddenDegrees::Equal).unwrap();
        assert_eq!(deg, vec![vec![1, 2, 3]]);
        let masks = made_masks(&deg, 2);
        assert_eq!(masks.len(), 1);
        assert_eq!(masks[0], bools(&[&[0, 0, 1, 1, 1, 1], &[0, 0, 0, 0, 1, 1], &[0, 0, 0, 0, 0, 0]]));
    }

    #[test]
    fn random_orders_and_degrees_are_seeded_and_valid() {
        for seed in 0..20 {
            let deg = made_degrees(5, &[7, 6], &InputOrder::Random { seed }, &HiddenDegrees::Random { seed }).unwrap();
            let mut sorted = deg[0].clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![1, 2, 3, 4, 5]);
            for l in 1..3 {
                let m = *deg[l - 1].iter().min().unwrap().min(&4);
                assert!(deg[l].iter().all(|v| (m..5).contains(v)), "{deg:?}");
            }
            let again =
                made_degrees(5, &[7, 6], &InputOrder::Random { seed }, &HiddenDegrees::Random { seed }).unwrap();
            assert_eq!(deg, again);
        }
        // Not always the identity: 20 seeds of a 5-permutation.
        let distinct: std::collections::HashSet<Vec<usize>> = (0..20)
            .map(|s| made_degrees(5, &[], &InputOrder::Random { seed: s }, &HiddenDegrees::Equal).unwrap()[0].clone())
            .collect();
        assert!(distinct.len() > 10, "{distinct:?}");
    }

    #[test]
    fn invalid_configurations_are_errors() {
        let e = made_degrees(3, &[], &InputOrder::Explicit(vec![1, 2, 2]), &HiddenDegrees::Equal).unwrap_err();
        assert!(e.contains("not a permutation of 1..=3"), "{e}");
        let e = made_degrees(3, &[], &InputOrder::Explicit(vec![0, 1, 2]), &HiddenDegrees::Equal).unwrap_err();
        assert!(e.contains("1-based"), "{e}");
        assert!(made_degrees(3, &[], &InputOrder::Explicit(vec![1, 2]), &HiddenDegrees::Equal).is_err());
        assert!(made_degrees(0, &[], &InputOrder::LeftToRight, &HiddenDegrees::Equal).is_err());
        assert!(made_degrees(3, &[4, 0], &InputOrder::LeftToRight, &HiddenDegrees::Equal).is_err());
    }
}
