//! A model refuses what it cannot use with an error that says what is wrong: unusable heads,
//! non-finite or out-of-range data, a loss that stops being finite, empty predictions.

use std::sync::Arc;

use autodiff::optim::Adam;
use layers::{
    Dataset, Dense, DenseFlipout, DenseVariational, FitOptions, Likelihood, MeanFieldNormal, Mode, Model, ModelError,
    NormalPrior, Sequential,
};

fn net(units: usize) -> Sequential<f32> {
    Sequential::new().add(DenseFlipout::new(units))
}

fn data(x: Vec<f32>, y: Vec<f32>) -> Dataset<f32> {
    Dataset::new(x, &[2], y, &[1]).unwrap()
}

#[test]
fn heads_that_cannot_read_the_output_are_refused() {
    let odd = Model::new(net(3), &[2], Likelihood::NormalHeteroscedastic, 0).err().unwrap().to_string();
    assert!(odd.contains("NormalHeteroscedastic") && odd.contains("even") && odd.contains("[B, 3]"), "{odd}");
    let scale = Model::new(net(1), &[2], Likelihood::Normal { scale: 0.0 }, 0).err().unwrap().to_string();
    assert!(scale.contains("the Normal head's scale must be positive and finite, got 0"), "{scale}");
    let init = Model::new(net(1), &[2], Likelihood::NormalLearnedScale { init_scale: -1.0 }, 0).err().unwrap();
    assert!(init.to_string().contains("init_scale must be positive and finite, got -1"), "{init}");
}

#[test]
fn non_finite_data_and_bernoulli_labels_outside_zero_one_are_refused() {
    let opts = FitOptions { epochs: 1, batch_size: 2, ..Default::default() };
    let mut m = Model::new(net(1), &[2], Likelihood::Normal { scale: 1.0 }, 0).unwrap();
    let e = m.fit(&data(vec![0.0, 1.0, f32::NAN, 2.0], vec![0.0, 1.0]), &opts, &mut Adam::new(0.01), |_| {});
    let e = e.err().unwrap().to_string();
    assert!(e.contains("input value 0 of example 1 is NaN"), "{e}");
    let e = m.fit(&data(vec![0.0; 4], vec![0.0, f32::INFINITY]), &opts, &mut Adam::new(0.01), |_| {});
    assert!(e.err().unwrap().to_string().contains("label value 0 of example 1 is inf"));
    let mut b = Model::new(net(1), &[2], Likelihood::Bernoulli, 0).unwrap();
    let e = b.fit(&data(vec![0.0; 4], vec![1.0, -1.0]), &opts, &mut Adam::new(0.01), |_| {}).err().unwrap();
    assert!(e.to_string().contains("example 1 is -1; the Bernoulli head takes labels in [0, 1]"), "{e}");
    // Categorical labels are class indices of the head: checked before training, by example.
    let mut c = Model::new(net(3), &[2], Likelihood::Categorical, 0).unwrap();
    for (bad, shown) in [(5.0, "5"), (1.5, "1.5"), (-1.0, "-1")] {
        let e = c.fit(&data(vec![0.0; 4], vec![2.0, bad]), &opts, &mut Adam::new(0.01), |_| {}).err().unwrap();
        let want = format!("example 1 is {shown}; the Categorical head takes class indices 0..3");
        assert!(e.to_string().contains(&want), "{e}");
    }
    let e = Model::new(net(1), &[2], Likelihood::Categorical, 0).err().unwrap().to_string();
    assert!(e.contains("needs at least 2 classes"), "{e}");
}

#[test]
fn a_loss_that_is_not_finite_stops_training_before_its_step_is_applied() {
    // Outputs near 1e29 square to +inf in f32.
    let mut m = Model::new(net(1), &[2], Likelihood::Normal { scale: 1.0 }, 0).unwrap();
    let before = m.store().clone();
    let opts = FitOptions { epochs: 2, batch_size: 2, ..Default::default() };
    let e = m.fit(&data(vec![1e30, -1e30, 1e30, 1e30], vec![0.0, 0.0]), &opts, &mut Adam::new(0.01), |_| {});
    match e {
        Err(ModelError::Diverged { epoch: 0, step: 0, updates: 0, loss }) => assert!(loss.is_infinite(), "{loss}"),
        ref other => panic!("expected a diverged loss at the first step, got {other:?}"),
    }
    // Before any update the advice is about the model and data, later about the learning rate.
    let first = e.err().unwrap().to_string();
    assert!(first.contains("before any update") && !first.contains("learning rate"), "{first}");
    for (id, p) in before.iter() {
        assert_eq!(m.store().param(id).data(), p.data(), "{}", p.path());
    } // A learning rate that blows the weights up after the first update: the advice is the
      // learning rate's, also for a retry that fails at step 0 of its epoch.
    let mut m = Model::new(net(1), &[2], Likelihood::Normal { scale: 1.0 }, 0).unwrap();
    let opts = FitOptions { epochs: 2, batch_size: 1, shuffle: false, ..Default::default() };
    let good = data(vec![0.5, -0.5, 1.0, 0.25], vec![1.0, -1.0]);
    for _ in 0..2 {
        match m.fit(&good, &opts, &mut autodiff::optim::Sgd::new(1e30), |_| {}) {
            Err(e @ ModelError::Diverged { updates, .. }) => {
                assert!(updates >= 1, "{e}");
                assert!(e.to_string().contains("lower the learning rate"), "{e}");
            }
            other => panic!("expected a diverged loss, got {other:?}"),
        }
    }
}

#[test]
fn predictions_need_examples_and_samples() {
    let mut m = Model::new(net(1), &[2], Likelihood::Normal { scale: 1.0 }, 0).unwrap();
    let e = m.predict(&[], Mode::Mean, 0).err().unwrap().to_string();
    assert!(e.contains("0 input values are not a whole, nonzero number of examples of shape [2]"), "{e}");
    let e = m.predict_mc(&[1.0, 2.0], 0, 0).err().unwrap().to_string();
    assert!(e.contains("at least 1 sample"), "{e}");
    assert_eq!(m.predict_mc(&[1.0, 2.0], 3, 0).unwrap().mean.len(), 1);
    // A NaN input would come back as a NaN mean with a finite, confident spread.
    let e = m.predict_mc(&[1.0, 2.0, 3.0, f32::NAN], 3, 0).err().unwrap().to_string();
    assert!(e.contains("input value 1 of example 1 is NaN"), "{e}");
    let e = m.predict(&[f32::INFINITY, 2.0], Mode::Sample, 0).err().unwrap().to_string();
    assert!(e.contains("input value 0 of example 0 is inf"), "{e}");
}

#[test]
fn a_test_fraction_outside_zero_one_is_refused() {
    let d = data(vec![0.0; 8], vec![0.0; 4]);
    assert_eq!(d.split(20.0, 0).err().unwrap(), "the test fraction must be in [0, 1], got 20");
    let (train, test) = d.split(0.25, 0).unwrap();
    assert_eq!((train.len(), test.len()), (3, 1));
}

#[test]
fn zero_units_and_unusable_kl_weights_are_build_errors_naming_the_layer() {
    let build =
        |net: Sequential<f32>| Model::new(net, &[2], Likelihood::Normal { scale: 1.0 }, 0).err().unwrap().to_string();
    let e = build(Sequential::new().add(DenseFlipout::new(0).name("empty")).add(DenseFlipout::new(1)));
    assert!(e.contains("DenseFlipout (empty): units must be at least 1"), "{e}");
    let e = build(net(1).add(DenseFlipout::new(1).name("neg").kl_weight(-1.0)));
    assert!(e.contains("DenseFlipout (neg): kl_weight must be finite and non-negative, got -1"), "{e}");
    let e = build(Sequential::new().add(Dense::new(0).name("d0")));
    assert!(e.contains("Dense (d0): units must be at least 1"), "{e}");
    let v = DenseVariational::new(1, MeanFieldNormal::default(), NormalPrior::standard()).name("v").kl_weight(f64::NAN);
    let e = build(Sequential::new().add(v));
    assert!(e.contains("DenseVariational (v): kl_weight must be finite and non-negative, got NaN"), "{e}");
}

#[test]
fn unusable_prior_constants_and_zero_training_examples_are_refused() {
    let prior = DenseFlipout::new(1).name("p").kernel_prior_fn(Some(Arc::new(NormalPrior { loc: 0.0, scale: 0.0 })));
    let e = Model::new(net(1).add(prior), &[2], Likelihood::Normal { scale: 1.0 }, 0).err().unwrap().to_string();
    assert!(e.contains("NormalPrior kernel_prior: scale must be positive and finite, got 0"), "{e}");
    let mut m = Model::new(net(1), &[2], Likelihood::Normal { scale: 1.0 }, 0).unwrap();
    let e = m.training_plan(0).err().unwrap().to_string();
    assert!(e.contains("number of training examples, got 0"), "{e}");
}

#[test]
fn build_errors_name_the_line_that_created_the_layer() {
    let line = line!() + 1;
    let net = Sequential::<f32>::new().add(Dense::new(3)).add(DenseFlipout::new(0));
    let e = Model::new(net, &[2], Likelihood::Normal { scale: 1.0 }, 0).err().unwrap().to_string();
    assert!(e.contains(&format!("at {}:{line}:", file!())) && e.contains("units must be at least 1"), "{e}");
    // A function the user hands to the layer names its own line, not the layer's.
    let line = line!() + 1;
    let act = layers::Activation::custom(|t| autodiff::ops::matmul(t, t));
    let net = Sequential::<f32>::new().add(DenseFlipout::new(3).activation(act));
    let e = Model::new(net, &[2], Likelihood::Normal { scale: 1.0 }, 0).err().unwrap().to_string();
    assert!(e.contains(&format!("at {}:{line}:", file!())) && e.contains("matmul"), "{e}");
    // A constructor that delegates to another (conv2d to with_map) names its caller's line too.
    let line = line!() + 1;
    let conv = layers::Conv2DFlipout::<f32>::conv2d(2, [5, 5]);
    let e = Model::new(Sequential::new().add(conv), &[3, 3, 1], Likelihood::Categorical, 0).err().unwrap().to_string();
    assert!(e.contains(&format!("at {}:{line}:", file!())) && e.contains("shorter than the window"), "{e}");
}
