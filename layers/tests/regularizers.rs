//! Regularizers follow Keras: an activity regularizer's value is divided by the batch size, and
//! the training loss adds the regularizers to the per-example loss as they are, while only the
//! KL is divided by the number of training examples.

use autodiff::prelude::*;
use std::sync::Arc;

use layers::{
    build_layer, Activation, AutoregressiveNetwork, DenseFlipout, DenseVariational, Flatten, Layer, LayerCx,
    Likelihood, LossKind, MeanFieldNormal, Mode, Model, NormalPrior, Sequential,
};

/// The layer's output and its registered regularization on a batch of `batch` rows of 3
/// features, for the activity regularizer `Σ y²`.
fn output_and_regularization(layer: &dyn Layer<f64>, batch: usize) -> (Vec<f64>, f64) {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(5);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[3]);
    let y = build_layer(layer, x, &mut cx);
    let regs: Vec<_> = cx.losses().iter().filter(|(_, l)| l.kind == LossKind::Regularizer).collect();
    assert_eq!(regs.len(), 1, "one activity regularizer");
    assert!(regs[0].0.ends_with("activity_regularizer"), "{}", regs[0].0);
    let reg = regs[0].1.value;
    drop(cx);
    let mut s = Session::new(g.compile(&[y, reg]).unwrap(), 1);
    let xs: Vec<f64> = (0..batch * 3).map(|i| (i as f64 * 0.37).sin()).collect();
    let out = s.run(&store, &[("x", &xs)]).unwrap();
    (out[0].to_vec(), out.scalar(1))
}

#[test]
fn activity_regularization_is_divided_by_the_batch_size() {
    let flipout = DenseFlipout::<f64>::new(2).activation(Activation::Tanh).activity_regularizer(|y| (y * y).sum_all());
    let variational = DenseVariational::<f64>::new(2, MeanFieldNormal::default(), NormalPrior::standard())
        .activity_regularizer(|y| y * y);
    for layer in [&flipout as &dyn Layer<f64>, &variational] {
        for batch in [1, 4, 7] {
            let (y, reg) = output_and_regularization(layer, batch);
            assert_eq!(y.len(), batch * 2);
            let want = y.iter().map(|v| v * v).sum::<f64>() / batch as f64;
            assert!((reg - want).abs() <= 1e-12 * want.max(1.0), "batch {batch}: {reg} vs {want}");
        }
    }
}

#[test]
fn training_loss_adds_regularizers_unscaled_and_divides_only_the_kl() {
    // A constant regularizer of 7: 7 / batch after the activity regularizer's division, whatever
    // the number of training examples.
    let net = Sequential::new().add(DenseFlipout::<f64>::new(2).activity_regularizer(|y| y.graph().scalar(7.0)));
    let mut model = Model::new(net, &[3], Likelihood::Categorical, 3).unwrap();
    let examples = 1000;
    let (plan, _) = model.training_plan(examples).unwrap();
    let mut s = Session::new(plan, 2);
    let batch = 4;
    let x: Vec<f64> = (0..batch * 3).map(|i| i as f64 * 0.1).collect();
    let y = [0.0, 1.0, 1.0, 0.0];
    let out = s.run(model.store(), &[("x", &x), ("y", &y)]).unwrap();
    let (loss, nll, kl) = (out.scalar(0), out.scalar(1), out.scalar(2));
    assert!(kl > 1.0, "the layer's KL is registered: {kl}");
    let regularization = loss - nll - kl / examples as f64;
    assert!((regularization - 7.0 / batch as f64).abs() < 1e-9, "{regularization}");
}

#[test]
fn weight_regularizers_are_not_divided_by_the_number_of_examples() {
    // MADE with one hidden layer has two kernels; a regularizer of 3 on each adds 6.
    let made = AutoregressiveNetwork::<f64>::new(1)
        .event_shape(2)
        .hidden_units(&[4])
        .kernel_regularizer(Some(Arc::new(|w: Tensor<'_, f64>| w.graph().scalar(3.0))));
    let mut model =
        Model::new(Sequential::new().add(made).add(Flatten), &[2], Likelihood::Normal { scale: 1.0 }, 3).unwrap();
    let (plan, _) = model.training_plan(500).unwrap();
    let mut s = Session::new(plan, 2);
    let out = s.run(model.store(), &[("x", &[0.1, 0.2, 0.3, 0.4]), ("y", &[0.0, 1.0, 1.0, 0.0])]).unwrap();
    let (loss, nll, kl) = (out.scalar(0), out.scalar(1), out.scalar(2));
    assert_eq!(kl, 0.0, "MADE has no divergence");
    assert!((loss - nll - 6.0).abs() < 1e-9, "{}", loss - nll);
}
