//! Reproducibility: the same seeds give the same run, bit for bit; a layer's own seed fixes its
//! weight noise and its Flipout signs whatever the session's seed; different layers draw
//! different noise.

use autodiff::optim::Adam;
use autodiff::prelude::*;
use layers::{build_layer, Dataset, DenseFlipout, FitOptions, Layer, LayerCx, Likelihood, Mode, Model, Sequential};

fn data() -> Dataset<f32> {
    let x: Vec<f32> = (0..64).map(|i| ((i * 37) % 19) as f32 / 19.0 - 0.5).collect();
    let y: Vec<f32> = x.chunks(2).map(|r| r[0] - 2.0 * r[1]).collect();
    Dataset::new(x, &[2], y, &[1]).unwrap()
}

fn trained(model_seed: u64, fit_seed: u64) -> Vec<Vec<u32>> {
    let net = Sequential::new().add(DenseFlipout::new(8)).add(DenseFlipout::new(1));
    let mut model = Model::new(net, &[2], Likelihood::Normal { scale: 0.5 }, model_seed).unwrap();
    let opts = FitOptions { epochs: 3, batch_size: 8, shuffle: true, seed: fit_seed, threads: Some(1) };
    model.fit(&data(), &opts, &mut Adam::new(0.01), |_| {}).unwrap();
    model.store().iter().map(|(_, p)| p.data().iter().map(|v| v.to_bits()).collect()).collect()
}

#[test]
fn the_same_seeds_give_the_same_run_and_another_seed_another() {
    assert_eq!(trained(1, 2), trained(1, 2));
    assert_ne!(trained(1, 2), trained(1, 3), "the fit seed keys the training noise and the shuffling");
    assert_ne!(trained(1, 2), trained(4, 2), "the model seed keys the initial values");
}

/// Outputs of `layers`, all built on the same input in one graph with equal posteriors, for one
/// run of a session seeded `session_seed`.
fn outputs(layers: &[&dyn Layer<f64>], session_seed: u64) -> Vec<Vec<f64>> {
    let g = Graph::<f64>::new();
    let mut store = ParamStore::new(0);
    let mut cx = LayerCx::new(&g, &mut store, Mode::Sample);
    let x = g.batched_input("x", &[3]);
    let ys: Vec<_> = layers.iter().map(|l| build_layer(*l, x, &mut cx)).collect();
    drop(cx);
    for l in layers {
        for (name, v) in [("kernel_posterior_loc", 0.1), ("kernel_posterior_untransformed_scale", -1.0)] {
            let id = store.id(&format!("{}/{name}", l.name())).unwrap();
            store.data_mut(id).iter_mut().for_each(|p| *p = v);
        }
    }
    let mut s = Session::new(g.compile(&ys).unwrap(), session_seed);
    let out = s.run(&store, &[("x", &[1.0, -2.0, 0.5, 0.3, 0.7, -1.1])]).unwrap();
    (0..layers.len()).map(|i| out[i].to_vec()).collect()
}

#[test]
fn a_layer_seed_fixes_its_noise_and_signs_whatever_the_session_seed() {
    let seeded = DenseFlipout::<f64>::new(2).name("seeded").seed(7);
    let free = DenseFlipout::<f64>::new(2).name("free");
    let (a, b) = (outputs(&[&seeded, &free], 1), outputs(&[&seeded, &free], 2));
    // The same output to the bit means the same weight noise and the same signs of both rows.
    assert_eq!(a[0], b[0]);
    assert_ne!(a[1], b[1]);
    // Another layer seed, other noise.
    let reseeded = DenseFlipout::<f64>::new(2).name("seeded").seed(8);
    assert_ne!(outputs(&[&reseeded], 1)[0], a[0]);
}

#[test]
fn layers_with_equal_posteriors_draw_different_noise() {
    // Under the session's seed, and under one layer seed shared by both: the noise is salted by
    // the layer's scope.
    let (p, q) = (DenseFlipout::<f64>::new(2).name("p"), DenseFlipout::<f64>::new(2).name("q"));
    let out = outputs(&[&p, &q], 1);
    assert_ne!(out[0], out[1]);
    let (p, q) = (p.seed(5), q.seed(5));
    let out = outputs(&[&p, &q], 1);
    assert_ne!(out[0], out[1]);
}

#[test]
fn consecutive_fits_continue_one_run() {
    // Two calls of one epoch each draw the second epoch's shuffle and noise, not the first's
    // again: they train exactly as one call of two epochs.
    let train = |calls: &[usize]| {
        let net = Sequential::new().add(DenseFlipout::new(8)).add(DenseFlipout::new(1));
        let mut model = Model::new(net, &[2], Likelihood::Normal { scale: 0.5 }, 1).unwrap();
        let mut adam = Adam::new(0.01);
        let mut losses = Vec::new();
        for &epochs in calls {
            let opts = FitOptions { epochs, batch_size: 8, shuffle: true, seed: 2, threads: Some(1) };
            let history = model.fit(&data(), &opts, &mut adam, |_| {}).unwrap();
            losses.extend(history.iter().map(|s| (s.epoch, s.loss.to_bits())));
        }
        let params: Vec<Vec<u32>> =
            model.store().iter().map(|(_, p)| p.data().iter().map(|v| v.to_bits()).collect()).collect();
        (losses, params, model.epochs_trained(), model.steps_trained())
    };
    let (one, two) = (train(&[2]), train(&[1, 1]));
    assert_eq!(one, two);
    assert_eq!((one.2, one.3), (2, 8));
    assert_eq!(one.0.iter().map(|l| l.0).collect::<Vec<_>>(), [0, 1]);
}
