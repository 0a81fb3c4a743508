//! `VariableLayer`: its value, initializer, activation, constraint and regularizer, gradients,
//! and indifference to its input.

use autodiff::prelude::*;
use layers::testing::check_layer_grads;
use layers::{build_layer, Activation, LayerCx, LossKind, Mode, VariableLayer};

/// Builds `layer` on a `[B, 4]` input; returns its output, the regularization total, the
/// gradients of `Σ w ⊙ out` (w = 1, 2, 3, ...) w.r.t. the variable and the input, all evaluated
/// at `x`; and the store.
struct Eval {
    out: Vec<f64>,
    dims: Vec<usize>,
    reg: Option<f64>,
    d_var: Vec<f64>,
    d_x: Vec<f64>,
    store: ParamStore<f64>,
}

fn eval(layer: &VariableLayer<f64>, x: &[f64]) -> Eval {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(42);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let xin = g.batched_input("x", &[4]);
    let out = build_layer(layer, xin, &mut cx);
    let reg = cx.total_regularization();
    let var = cx.params()[0].1;
    assert_eq!(cx.params().len(), 1);
    drop(cx);
    g.check().unwrap();
    let n = out.shape().fixed_numel().unwrap();
    let w: Vec<f64> = (1..=n).map(|k| k as f64).collect();
    let loss = (out * g.constant_f64(&w, out.shape())).sum_all();
    let grads = grad(loss, &[var, xin]);
    let mut fetch = vec![out, grads[0], grads[1]];
    fetch.extend(reg);
    let mut s = Session::new(g.compile(&fetch).unwrap(), 0);
    let o = s.run(&store, &[("x", x)]).unwrap();
    Eval {
        out: o[0].to_vec(),
        dims: o.dims(0).to_vec(),
        d_var: o[1].to_vec(),
        d_x: o[2].to_vec(),
        reg: reg.map(|_| o.scalar(3)),
        store: store.clone(),
    }
}

#[test]
fn returns_its_zero_initialised_value_whatever_the_input() {
    let layer = VariableLayer::<f64>::new(&[2, 3]);
    let a = eval(&layer, &[1.0, 2.0, 3.0, 4.0]);
    let b = eval(&layer, &[-5.0; 12]);
    assert_eq!(a.dims, [2, 3]);
    assert_eq!(a.out, [0.0; 6]);
    assert_eq!(a.out, b.out);
    assert_eq!(b.dims, [2, 3]);
    // The variable is TFP's `constant`, the output's gradient reaches it unchanged, and none
    // reaches the input.
    assert!(a.store.get("variable_layer/constant").is_some());
    assert_eq!(a.d_var, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(b.d_x, [0.0; 12]);
    assert_eq!(a.reg, None);
}

#[test]
fn initializer_and_activation() {
    // softplus(log(e − 1)) = 1: TFP's usual initializer for an untransformed scale.
    let c = 1f64.exp_m1().ln();
    let layer = VariableLayer::<f64>::new(&[3]).initializer(Init::Constant(c)).activation(Activation::Softplus);
    let e = eval(&layer, &[0.0; 4]);
    for v in &e.out {
        assert!((v - 1.0).abs() < 1e-15, "{v}");
    }
    // d softplus / dv = sigmoid(c) = 1 − 1/e.
    let s = 1.0 - (-1f64).exp();
    for (k, g) in e.d_var.iter().enumerate() {
        assert!((g - (k + 1) as f64 * s).abs() < 1e-15, "{g}");
    }
    // A random initializer: the output is the stored value.
    let layer = VariableLayer::<f64>::new(&[5]).initializer(Init::Normal { mean: 2.0, std: 0.5 });
    let e = eval(&layer, &[0.0; 4]);
    assert_eq!(e.out, e.store.get("variable_layer/constant").unwrap());
    assert!(e.out.iter().all(|&v| v != 2.0));
}

#[test]
fn constraint_is_a_reparameterization_and_the_regularizer_sees_its_value() {
    // Stored v = log 2 (unconstrained), output exp(v) = 2, regularizer 0.1 Σ out² = 0.1·4·2.
    let layer = VariableLayer::<f64>::new(&[2])
        .initializer(Init::Constant(2f64.ln()))
        .constraint(exp)
        .regularizer(|v| (v * v).sum_all() * 0.1);
    let e = eval(&layer, &[0.0; 8]);
    for v in &e.out {
        assert!((v - 2.0).abs() < 1e-15, "{v}");
    }
    assert!((e.reg.unwrap() - 0.8).abs() < 1e-15);
    // ∂(w·exp(v))/∂v = w·exp(v) = 2w.
    assert!((e.d_var[0] - 2.0).abs() < 1e-15 && (e.d_var[1] - 4.0).abs() < 1e-15, "{:?}", e.d_var);
    assert!((e.store.get("variable_layer/constant").unwrap()[0] - 2f64.ln()).abs() < 1e-15);
    // A penalty per element is summed, as Keras' regularizers sum.
    let per_element = layer.regularizer(|v| v * v * 0.1);
    assert!((eval(&per_element, &[0.0; 8]).reg.unwrap() - 0.8).abs() < 1e-15);
}

#[test]
fn regularizer_is_registered_as_a_regularizer_loss_and_trainable_is_honoured() {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let frozen = VariableLayer::<f64>::new(&[1]).name("frozen").trainable(false).regularizer(|v| v.sum_all());
    build_layer(&frozen, g.batched_input("x", &[1]), &mut cx);
    assert_eq!(cx.losses().len(), 1);
    assert_eq!(cx.losses()[0].0, "frozen/regularizer");
    assert_eq!(cx.losses()[0].1.kind, LossKind::Regularizer);
    assert!(cx.total_divergence().is_none());
    assert!(cx.trainable_params().is_empty());
    assert_eq!(cx.params().len(), 1);
}

#[test]
fn variable_layer_gradient_check() {
    let layer = VariableLayer::<f64>::new(&[2, 2])
        .initializer(Init::Normal { mean: 0.0, std: 1.0 })
        .constraint(softplus)
        .activation(Activation::Tanh);
    check_layer_grads(&layer, &[3], 2, 1, 2).unwrap();
}
